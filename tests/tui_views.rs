//! monit-tui without a terminal: every view rendered with fixed data into
//! a TestBackend at 80x24 and 120x40 (insta snapshots), and the keys fed
//! to the pure `update`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;
use std::time::Duration;

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use monit::model::log::Level;
use monit::net::proto::{CheckCounts, TargetResult, TargetState};
use monit::tui::action::{Action, Effect};
use monit::tui::app::{App, Conn, Mode, View};
use monit::tui::rows::*;
use monit::tui::update::update;
use ratatui::backend::TestBackend;
use ratatui::Terminal;

/// 2026-11-25T04:00:00Z
const NOW: i64 = 1_795_320_000_000;

fn t(secs_ago: i64) -> String {
    monit::timefmt::rfc3339(NOW - secs_ago * 1000)
}

fn labels(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

fn node(
    name: &str,
    state: &str,
    seen: i64,
    checks: (u32, u32, u32),
    l: &[(&str, &str)],
) -> NodeRow {
    NodeRow {
        name: name.into(),
        state: state.into(),
        addr: "10.0.0.1".into(),
        first_seen: t(86_400),
        last_seen: t(seen),
        version: "0.1.0".into(),
        labels: labels(l),
        checks: CheckCounts {
            ok: checks.0,
            warning: checks.1,
            critical: checks.2,
            unknown: 0,
            pending: 0,
        },
    }
}

fn nodes() -> Vec<NodeRow> {
    vec![
        node(
            "web-1",
            "up",
            1,
            (12, 0, 0),
            &[("role", "web"), ("site", "ams")],
        ),
        node(
            "web-2",
            "up",
            2,
            (11, 1, 0),
            &[("role", "web"), ("site", "ams")],
        ),
        node(
            "db-1",
            "down",
            340,
            (8, 0, 2),
            &[("role", "db"), ("site", "ams")],
        ),
        node(
            "edge-1",
            "pending",
            5,
            (0, 0, 0),
            &[("role", "edge"), ("site", "fra")],
        ),
    ]
}

fn problem(node: &str, name: &str, state: &str, hard: bool, out: &str) -> CheckJson {
    CheckJson {
        node: node.into(),
        name: name.into(),
        state: state.into(),
        state_type: if hard { "hard" } else { "soft" }.into(),
        attempt: if hard { 3 } else { 1 },
        max_attempts: 3,
        output: out.into(),
        long_output: "line one\nline two".into(),
        last_check: Some(t(10)),
        last_change: Some(t(600)),
        origin: "local".into(),
        ..Default::default()
    }
}

fn problems() -> Vec<CheckJson> {
    let mut p = vec![
        problem(
            "web-2",
            "http",
            "warning",
            true,
            "HTTP WARNING: 1.8 s response",
        ),
        problem(
            "db-1",
            "disk /var",
            "critical",
            true,
            "DISK CRITICAL: 97% used",
        ),
        problem("db-1", "load", "ok", true, "OK load 0.3"),
        problem("web-1", "flappy", "unknown", false, "UNKNOWN: timeout"),
        problem(
            "db-1",
            "",
            "down",
            true,
            "connection lost: heartbeat timeout",
        ),
    ];
    p[0].acknowledged = true;
    p[1].in_downtime = true;
    p[1].stale = true;
    p[2].stale = true;
    p[3].flapping = true;
    // A node that is down is no check: never checked.
    p[4].last_check = None;
    p
}

/// Every check: the problems (not the node row) and some OK ones.
fn all_checks() -> Vec<CheckJson> {
    let mut all: Vec<CheckJson> = problems()
        .into_iter()
        .filter(|p| !p.name.is_empty())
        .collect();
    all.push(problem("web-1", "load", "ok", true, "OK load 0.1"));
    all.push(problem("web-2", "load", "ok", true, "OK load 0.2"));
    let mut quiet = problem("edge-1", "cert-expiry", "ok", true, "OK 80 days left");
    quiet.last_change = Some(t(5));
    all.push(quiet);
    all
}

fn log_lines() -> Vec<LogLine> {
    (0..40)
        .map(|i| LogLine {
            time_ms: NOW - (40 - i) * 1000,
            node: ["web-1", "db-1", "edge-1"][i as usize % 3].into(),
            level: if i % 7 == 0 { Level::Warn } else { Level::Info },
            source: if i % 5 == 0 {
                "check:disk".into()
            } else {
                "daemon".into()
            },
            message: format!("request {i} served in {} ms (disk ok)", i * 3),
        })
        .collect()
}

fn job(id: u64, who: &str, secs_ago: i64, command: &str, args: &[&str]) -> JobView {
    JobView {
        id,
        who: who.into(),
        started_ms: NOW - secs_ago * 1000,
        finished_ms: None,
        command: command.into(),
        args: args.iter().map(|a| a.to_string()).collect(),
        targets: Vec::new(),
        requires: BTreeMap::new(),
        effects: BTreeMap::new(),
        item: None,
        message: String::new(),
        steps: Vec::new(),
    }
}

fn target(node: &str, state: TargetState, exit: Option<i32>, ms: Option<u64>) -> TargetResult {
    TargetResult {
        node: node.into(),
        state,
        exit_code: exit,
        duration_ms: ms,
        message: String::new(),
    }
}

fn jobs() -> Vec<JobView> {
    let mut open = job(41, "alice", 300, "open-zone", &["218", "20151011"]);
    open.finished_ms = Some(NOW - 290_000);
    open.targets = vec![target("db-1", TargetState::Ok, Some(0), Some(812))];
    let mut restart = job(42, "bob", 20, "restart-web", &[]);
    restart.targets = vec![
        target("web-1", TargetState::Failed, Some(2), Some(1200)),
        target("web-2", TargetState::Running, None, None),
    ];
    vec![open, restart]
}

fn inventory() -> Vec<InventoryItem> {
    let zone = |key: &str, node: &str, state: &str| InventoryItem {
        kind: "zone".into(),
        key: key.into(),
        node: node.into(),
        attrs: labels(&[("state", state), ("date", "20151011")]),
        ints: vec!["key".into()],
    };
    vec![
        zone("218", "db-1", "open"),
        zone("219", "db-1", "new"),
        zone("220", "web-1", "open"),
        zone("221", "web-2", "closed"),
    ]
}

fn events() -> Vec<EventRow> {
    vec![
        EventRow {
            time: t(340),
            node: Some("db-1".into()),
            kind: "node-down".into(),
            check: None,
            state: Some("down".into()),
            previous_state: Some("up".into()),
            who: None,
            message: "no heartbeat for 30s".into(),
        },
        EventRow {
            time: t(3600),
            node: Some("web-2".into()),
            kind: "node-up".into(),
            check: None,
            state: Some("up".into()),
            previous_state: None,
            who: None,
            message: "registered, version 0.1.0".into(),
        },
    ]
}

/// An app holding every kind of data.
/// What `query commands` answers: open-zone on db-1, restart-web on the web nodes.
fn commands() -> Vec<monit::net::proto::CommandOffer> {
    use monit::ops::spec::{ArgSpec, ArgType, CommandSpec};
    let spec = |name: &str, args: Vec<ArgSpec>| CommandSpec {
        name: name.into(),
        description: format!("{name} for tests"),
        argv: vec!["/bin/true".into()],
        args,
        timeout_ms: 60_000,
        concurrency: 1,
        inventory: None,
        role: Default::default(),
    };
    vec![
        monit::net::proto::CommandOffer {
            spec: spec(
                "open-zone",
                vec![
                    ArgSpec {
                        name: "zone".into(),
                        kind: ArgType::Int {
                            min: Some(1),
                            max: Some(99999),
                        },
                    },
                    ArgSpec {
                        name: "date".into(),
                        kind: ArgType::Date {
                            format: Some("%Y%m%d".into()),
                        },
                    },
                ],
            ),
            nodes: vec!["db-1".into()],
        },
        monit::net::proto::CommandOffer {
            spec: spec("restart-web", vec![]),
            nodes: vec!["web-1".into(), "web-2".into()],
        },
    ]
}

/// Enter on a `:run` line asks configd for the nodes; this answers as configd would.
fn answer_targets(app: &mut App, effects: Vec<Effect>, nodes: &[&str]) {
    let [Effect::ResolveRun {
        command,
        args,
        target,
    }] = effects.as_slice()
    else {
        panic!("expected a ResolveRun, got {effects:?}")
    };
    update(
        app,
        Action::RunTargets {
            command: command.clone(),
            args: args.clone(),
            target: target.clone(),
            nodes: Ok(nodes.iter().map(|n| n.to_string()).collect()),
        },
    );
}

fn full_app() -> App {
    let mut app = App::new("127.0.0.1:7400", NOW);
    for a in [
        Action::Connected,
        Action::Nodes(nodes()),
        Action::Problems(problems()),
        Action::Checks(all_checks()),
        Action::LogLines(log_lines()),
        Action::Jobs(jobs()),
        Action::JobOutput {
            id: 42,
            lines: vec!["web-1: stopping".into(), "web-1: exit 2".into()],
        },
        Action::Inventory(inventory()),
        Action::Events(events()),
        Action::Commands(commands()),
    ] {
        update(&mut app, a);
    }
    app
}

fn draw(app: &mut App, w: u16, h: u16) -> String {
    update(app, Action::Resize(w, h));
    let mut term = Terminal::new(TestBackend::new(w, h)).unwrap();
    term.draw(|f| f.render_widget(&*app, f.area())).unwrap();
    term.backend().to_string()
}

fn key(app: &mut App, code: KeyCode) -> Vec<Effect> {
    update(app, Action::Key(KeyEvent::new(code, KeyModifiers::NONE)))
}

fn typ(app: &mut App, text: &str) {
    for c in text.chars() {
        key(app, KeyCode::Char(c));
    }
}

#[test]
fn every_view_at_80x24_and_120x40() {
    for view in View::ALL {
        for (w, h) in [(80, 24), (120, 40)] {
            let mut app = full_app();
            app.view = view;
            let name = format!("{}_{w}x{h}", view.title().to_lowercase());
            insta::assert_snapshot!(name, draw(&mut app, w, h));
        }
    }
}

#[test]
fn views_without_a_source_say_so() {
    let mut app = App::new("127.0.0.1:7400", NOW);
    update(&mut app, Action::Connected);
    update(&mut app, Action::Nodes(nodes()));
    for view in [
        View::Problems,
        View::Logs,
        View::Jobs,
        View::Inventory,
        View::Events,
    ] {
        app.view = view;
        let screen = draw(&mut app, 80, 24);
        assert!(screen.contains("no data"), "{view:?}:\n{screen}");
    }
    app.view = View::Problems;
    insta::assert_snapshot!("problems_no_source_80x24", draw(&mut app, 80, 24));
}

#[test]
fn dialogs_and_banner() {
    let mut app = full_app();
    key(&mut app, KeyCode::Char('?'));
    insta::assert_snapshot!("help_80x24", draw(&mut app, 80, 24));
    key(&mut app, KeyCode::Esc);

    key(&mut app, KeyCode::Enter);
    insta::assert_snapshot!("node_details_80x24", draw(&mut app, 80, 24));
    key(&mut app, KeyCode::Esc);

    key(&mut app, KeyCode::Char(':'));
    typ(&mut app, "run open-zone 218 20151011 --target zone=218");
    let effects = key(&mut app, KeyCode::Enter);
    answer_targets(&mut app, effects, &["db-1"]);
    insta::assert_snapshot!("confirm_run_80x24", draw(&mut app, 80, 24));
    key(&mut app, KeyCode::Esc);

    update(
        &mut app,
        Action::Disconnected {
            reason: "connection refused".into(),
            retry_in: Duration::from_secs(4),
        },
    );
    insta::assert_snapshot!("banner_80x24", draw(&mut app, 80, 24));
}

#[test]
fn no_color_draws_no_colours() {
    let mut app = full_app();
    app.no_color = true;
    update(&mut app, Action::Resize(80, 24));
    let mut term = Terminal::new(TestBackend::new(80, 24)).unwrap();
    term.draw(|f| f.render_widget(&app, f.area())).unwrap();
    for cell in term.backend().buffer().content() {
        assert_eq!(cell.fg, ratatui::style::Color::Reset, "{cell:?}");
        assert_eq!(cell.bg, ratatui::style::Color::Reset, "{cell:?}");
    }
    app.no_color = false;
    term.draw(|f| f.render_widget(&app, f.area())).unwrap();
    assert!(term
        .backend()
        .buffer()
        .content()
        .iter()
        .any(|c| c.fg != ratatui::style::Color::Reset));
}

#[test]
fn tiny_and_resized_terminals_do_not_panic() {
    let mut app = full_app();
    for view in View::ALL {
        app.view = view;
        for (w, h) in [(1, 1), (10, 3), (20, 5), (80, 24), (300, 100), (40, 10)] {
            draw(&mut app, w, h);
        }
    }
}

#[test]
fn keys_switch_views() {
    let mut app = full_app();
    assert_eq!(app.view, View::Nodes);
    key(&mut app, KeyCode::Char('3'));
    assert_eq!(app.view, View::Logs);
    key(&mut app, KeyCode::Tab);
    assert_eq!(app.view, View::Jobs);
    key(&mut app, KeyCode::BackTab);
    key(&mut app, KeyCode::BackTab);
    assert_eq!(app.view, View::Problems);
    key(&mut app, KeyCode::Char('6'));
    key(&mut app, KeyCode::Tab);
    assert_eq!(app.view, View::Checks);
    key(&mut app, KeyCode::Tab);
    assert_eq!(app.view, View::Nodes);
    assert_eq!(key(&mut app, KeyCode::Char('q')), vec![Effect::Quit]);
    assert!(app.quit);
}

#[test]
fn keys_move_sort_and_keep_the_selection_across_updates() {
    let mut app = full_app();
    let name = |app: &App| app.nodes.selected_row().unwrap().name.clone();
    assert_eq!(name(&app), "db-1");
    key(&mut app, KeyCode::Char('j'));
    key(&mut app, KeyCode::Down);
    assert_eq!(name(&app), "web-1");
    key(&mut app, KeyCode::Char('k'));
    assert_eq!(name(&app), "edge-1");
    key(&mut app, KeyCode::Char('G'));
    assert_eq!(name(&app), "web-2");
    key(&mut app, KeyCode::Char('j'));
    assert_eq!(name(&app), "web-2", "stops at the end");
    key(&mut app, KeyCode::Char('g'));
    assert_eq!(name(&app), "db-1");
    // New data keeps the same node selected.
    key(&mut app, KeyCode::Char('j'));
    let mut more = nodes();
    more.push(node("a-first", "up", 1, (1, 0, 0), &[]));
    update(&mut app, Action::Nodes(more));
    assert_eq!(name(&app), "edge-1");
    // Sort: by state puts down first.
    key(&mut app, KeyCode::Char('s'));
    key(&mut app, KeyCode::Char('g'));
    assert_eq!(name(&app), "db-1");
    key(&mut app, KeyCode::Char('s'));
    key(&mut app, KeyCode::Char('s'));
    assert_eq!(app.node_sort, monit::tui::app::NodeSort::Problems);
    assert_eq!(name(&app), "db-1", "2 critical is the most");
}

#[test]
fn slash_filters_as_you_type_and_esc_restores() {
    let mut app = full_app();
    key(&mut app, KeyCode::Char('/'));
    assert!(matches!(app.mode, Mode::Filter { .. }));
    typ(&mut app, "web");
    assert_eq!(app.nodes.visible.len(), 2);
    key(&mut app, KeyCode::Enter);
    assert_eq!(app.mode, Mode::Normal);
    assert_eq!(app.nodes.filter, "web");
    key(&mut app, KeyCode::Char('/'));
    key(&mut app, KeyCode::Backspace);
    key(&mut app, KeyCode::Backspace);
    key(&mut app, KeyCode::Backspace);
    typ(&mut app, "state=down");
    assert_eq!(app.nodes.visible.len(), 1);
    key(&mut app, KeyCode::Esc);
    assert_eq!(
        app.nodes.filter, "web",
        "Esc restores the filter before editing"
    );
    assert_eq!(app.nodes.visible.len(), 2);
    key(&mut app, KeyCode::Esc);
    assert_eq!(app.nodes.visible.len(), 4, "Esc in normal mode clears");
    key(&mut app, KeyCode::Char('/'));
    typ(&mut app, "name~[");
    assert!(app.nodes.filter_error.is_some());
    assert_eq!(app.nodes.visible.len(), 4, "a bad filter hides nothing");
}

#[test]
fn problems_are_worst_first_and_ack_asks_first() {
    let mut app = full_app();
    key(&mut app, KeyCode::Char('2'));
    let order: Vec<(String, String)> = app
        .problems
        .visible
        .iter()
        .map(|&i| {
            let p = &app.problems.rows.as_ref().unwrap()[i];
            (p.node.clone(), p.state.clone())
        })
        .collect();
    assert_eq!(
        order,
        [
            ("db-1".to_string(), "down".to_string()),
            ("db-1".into(), "critical".into()),
            ("web-1".into(), "unknown".into()),
            ("web-2".into(), "warning".into()),
        ],
        "nodes down first; ok checks are not problems"
    );
    // The node row acknowledges (or puts in downtime) the node itself.
    assert!(key(&mut app, KeyCode::Char('a')).is_empty());
    let Mode::Confirm(p) = &app.mode else {
        panic!("a asks first")
    };
    assert_eq!(p.question, "Acknowledge node db-1 (down)?");
    assert_eq!(
        key(&mut app, KeyCode::Char('y')),
        vec![Effect::Ack {
            node: "db-1".into(),
            check: String::new()
        }]
    );
    key(&mut app, KeyCode::Char('j'));
    assert!(key(&mut app, KeyCode::Char('a')).is_empty());
    assert!(matches!(app.mode, Mode::Confirm(_)));
    assert_eq!(
        key(&mut app, KeyCode::Char('y')),
        vec![Effect::Ack {
            node: "db-1".into(),
            check: "disk /var".into()
        }]
    );
    // `d`: an hour of downtime for the selected check, after a question.
    assert!(key(&mut app, KeyCode::Char('d')).is_empty());
    assert!(matches!(app.mode, Mode::Confirm(_)));
    assert!(key(&mut app, KeyCode::Char('n')).is_empty());
    assert!(key(&mut app, KeyCode::Char('d')).is_empty());
    assert_eq!(
        key(&mut app, KeyCode::Char('y')),
        vec![Effect::Downtime {
            node: "db-1".into(),
            check: "disk /var".into(),
            duration: std::time::Duration::from_secs(3600),
        }]
    );
}

/// A Problems row is the check as `monit-cli query checks -o json` prints
/// it: `/` names its fields (origin, perfdata, times) as `--filter` does.
#[test]
fn problems_filter_on_the_fields_query_checks_has() {
    let mut app = full_app();
    let mut rows = problems();
    rows[0].origin = "central".into();
    rows[1].perfdata = vec![monit::checks::PerfData {
        label: "used".into(),
        value: 97.0,
        uom: "%".into(),
        warn: Some("90".into()),
        crit: Some("95".into()),
        min: Some(0.0),
        max: Some(100.0),
    }];
    update(&mut app, Action::Problems(rows));
    key(&mut app, KeyCode::Char('2'));
    let shown = |app: &mut App, filter: &str| -> Vec<String> {
        key(app, KeyCode::Char('/'));
        app.input.clear();
        typ(app, filter);
        key(app, KeyCode::Enter);
        assert_eq!(app.problems.filter_error, None, "{filter}");
        let rows = app.problems.rows.as_ref().unwrap();
        let names = app.problems.visible.iter().map(|&i| &rows[i]);
        names.map(|c| format!("{}/{}", c.node, c.name)).collect()
    };
    assert_eq!(shown(&mut app, "origin=central"), ["web-2/http"]);
    assert_eq!(
        shown(&mut app, "perfdata.label=used perfdata.uom=%"),
        ["db-1/disk /var"]
    );
    // A node that is down was never checked: its last_check is null.
    assert_eq!(
        shown(&mut app, "last_check~^20 state!=critical"),
        ["web-1/flappy", "web-2/http"]
    );
}

#[test]
fn logs_follow_pause_scroll_and_filter() {
    let mut app = full_app();
    key(&mut app, KeyCode::Char('3'));
    update(&mut app, Action::Resize(80, 24));
    assert!(app.logs.follow);
    let last = |app: &App| app.log_window(5).last().unwrap().1.message.clone();
    assert_eq!(last(&app), "request 39 served in 117 ms (disk ok)");
    key(&mut app, KeyCode::Char('f'));
    assert!(!app.logs.follow);
    // New lines arrive; a paused view stays where it was.
    update(
        &mut app,
        Action::LogLines(vec![LogLine {
            message: "newest".into(),
            ..log_lines().remove(0)
        }]),
    );
    assert_eq!(last(&app), "request 39 served in 117 ms (disk ok)");
    key(&mut app, KeyCode::Char('k'));
    assert_eq!(last(&app), "request 38 served in 114 ms (disk ok)");
    key(&mut app, KeyCode::Char('j'));
    key(&mut app, KeyCode::Char('j'));
    assert!(app.logs.follow, "scrolling past the end follows again");
    assert_eq!(last(&app), "newest");
    key(&mut app, KeyCode::Char('/'));
    typ(&mut app, "node=db-1 level=warn");
    key(&mut app, KeyCode::Enter);
    let shown: Vec<String> = app
        .log_window(50)
        .iter()
        .map(|(_, l)| l.node.clone())
        .collect();
    assert!(!shown.is_empty());
    assert!(shown.iter().all(|n| n == "db-1"));
    // Scrolling back never passes the oldest page.
    for _ in 0..100 {
        key(&mut app, KeyCode::PageUp);
    }
    assert!(!app.log_window(50).is_empty());
}

#[test]
fn log_search_is_highlighted() {
    let mut app = full_app();
    key(&mut app, KeyCode::Char('3'));
    key(&mut app, KeyCode::Char('/'));
    typ(&mut app, "disk");
    key(&mut app, KeyCode::Enter);
    update(&mut app, Action::Resize(80, 24));
    let mut term = Terminal::new(TestBackend::new(80, 24)).unwrap();
    term.draw(|f| f.render_widget(&app, f.area())).unwrap();
    let buf = term.backend().buffer();
    let highlighted: String = buf
        .content()
        .iter()
        .filter(|c| c.bg == ratatui::style::Color::Yellow)
        .map(|c| c.symbol())
        .collect();
    assert!(highlighted.starts_with("diskdisk"), "{highlighted}");
    insta::assert_snapshot!("logs_search_80x24", draw(&mut app, 80, 24));
}

#[test]
fn command_line_parses_completes_and_confirms_naming_targets() {
    let mut app = full_app();
    key(&mut app, KeyCode::Char(':'));
    typ(&mut app, "r");
    key(&mut app, KeyCode::Tab);
    assert_eq!(app.input, "run", "run and runbook share it");
    typ(&mut app, " op");
    key(&mut app, KeyCode::Tab);
    assert_eq!(app.input, "run open-zone ");
    // The signature shows once the name is complete.
    let screen = draw(&mut app, 100, 24);
    assert!(
        screen.contains("open-zone <zone:int 1..99999> <date:date %Y%m%d>"),
        "{screen}"
    );
    typ(&mut app, "218");
    key(&mut app, KeyCode::Enter);
    match &app.mode {
        Mode::Command { error: Some(e) } => {
            assert!(e.contains("usage: open-zone ZONE DATE"), "{e}")
        }
        other => panic!("expected an inline error, got {other:?}"),
    }
    // Without --target: configd names the node hosting the item.
    typ(&mut app, " 20151011");
    let effects = key(&mut app, KeyCode::Enter);
    match effects.as_slice() {
        [Effect::ResolveRun { target, .. }] => assert_eq!(target, "", "no selector"),
        other => panic!("expected a ResolveRun, got {other:?}"),
    }
    answer_targets(&mut app, effects, &["db-1"]);
    let Mode::Confirm(p) = &app.mode else {
        panic!("expected a confirmation, got {:?}", app.mode)
    };
    assert_eq!(
        p.question,
        "Run `open-zone 218 20151011` on db-1, the node hosting its item?"
    );
    assert_eq!(
        key(&mut app, KeyCode::Char('y')),
        vec![Effect::Run {
            command: "open-zone".into(),
            args: vec!["218".into(), "20151011".into()],
            targets: vec![String::new()],
        }]
    );
    key(&mut app, KeyCode::Char(':'));
    typ(&mut app, "run open-zone 218");
    // Arguments are checked before anything is asked.
    typ(&mut app, " 2015 --target zone=218");
    assert!(key(&mut app, KeyCode::Enter).is_empty());
    match &app.mode {
        Mode::Command { error: Some(e) } => assert!(e.contains("argument `date`"), "{e}"),
        other => panic!("expected an argument error, got {other:?}"),
    }
    // One --target, as in monit-cli run.
    for _ in 0.." 2015 --target zone=218".len() {
        key(&mut app, KeyCode::Backspace);
    }
    typ(&mut app, " 20151011 --target zone=218 --target node=web-1");
    key(&mut app, KeyCode::Enter);
    match &app.mode {
        Mode::Command { error: Some(e) } => assert!(e.contains("one --target"), "{e}"),
        other => panic!("expected an error, got {other:?}"),
    }
    for _ in 0.." --target node=web-1".len() {
        key(&mut app, KeyCode::Backspace);
    }
    assert_eq!(app.input, "run open-zone 218 20151011 --target zone=218");
    let effects = key(&mut app, KeyCode::Enter);
    answer_targets(&mut app, effects, &["db-1"]);
    let Mode::Confirm(p) = &app.mode else {
        panic!("expected a confirmation, got {:?}", app.mode)
    };
    assert!(
        p.question.contains("open-zone 218 20151011"),
        "{}",
        p.question
    );
    assert!(
        p.question.contains("on 1 node (zone=218): db-1?"),
        "names the node configd named: {}",
        p.question
    );
    assert_eq!(
        key(&mut app, KeyCode::Char('y')),
        vec![Effect::Run {
            command: "open-zone".into(),
            args: vec!["218".into(), "20151011".into()],
            targets: vec!["zone=218".into()],
        }]
    );
    // `n` cancels; label and all selectors name nodes.
    key(&mut app, KeyCode::Char(':'));
    typ(&mut app, "run restart-web --target label.role=web");
    let effects = key(&mut app, KeyCode::Enter);
    answer_targets(&mut app, effects, &["web-1", "web-2"]);
    let Mode::Confirm(p) = &app.mode else {
        panic!()
    };
    assert!(
        p.question
            .contains("2 nodes (label.role=web): web-1, web-2"),
        "{}",
        p.question
    );
    assert!(key(&mut app, KeyCode::Char('n')).is_empty());
    assert_eq!(app.mode, Mode::Normal);
    key(&mut app, KeyCode::Char(':'));
    typ(&mut app, "quit");
    assert_eq!(key(&mut app, KeyCode::Enter), vec![Effect::Quit]);
}

#[test]
fn jobs_enter_asks_for_output_and_shows_it() {
    let mut app = full_app();
    key(&mut app, KeyCode::Char('4'));
    assert_eq!(app.jobs.selected_row().unwrap().id, 42, "newest first");
    assert_eq!(
        key(&mut app, KeyCode::Enter),
        vec![Effect::JobOutput { id: 42 }]
    );
    // The stored output (ShowJob) replaces what streamed in before.
    assert!(!draw(&mut app, 80, 24).contains("web-1: exit 2"));
    update(
        &mut app,
        Action::JobOutput {
            id: 42,
            lines: vec!["web-1: stopping".into(), "web-1: exit 2".into()],
        },
    );
    let screen = draw(&mut app, 80, 24);
    assert!(screen.contains("web-1: exit 2"), "{screen}");
    insta::assert_snapshot!("job_details_80x24", screen);
}

#[test]
fn open_details_of_a_running_job_refetch_its_output_each_poll() {
    let mut app = full_app();
    key(&mut app, KeyCode::Char('4'));
    let running = app.jobs.selected_row().unwrap().clone();
    assert_eq!(monit::model::job::job_state(&running), "running");
    // Details closed: a poll asks for nothing.
    assert!(update(&mut app, Action::Jobs(jobs())).is_empty());
    key(&mut app, KeyCode::Enter);
    assert_eq!(
        update(&mut app, Action::Jobs(jobs())),
        vec![Effect::JobOutput { id: running.id }]
    );
    // Once more when it has finished, then no more.
    let mut done = jobs();
    for j in &mut done {
        j.finished_ms = Some(NOW);
        for t in &mut j.targets {
            t.state = TargetState::Ok;
        }
    }
    assert_eq!(update(&mut app, Action::Jobs(done.clone())).len(), 1);
    assert!(update(&mut app, Action::Jobs(done)).is_empty());
}

#[test]
fn connection_state_shows_in_the_header() {
    let mut app = App::new("10.1.1.1:7400", NOW);
    assert!(draw(&mut app, 80, 24).contains("connecting"));
    update(
        &mut app,
        Action::Disconnected {
            reason: "refused".into(),
            retry_in: Duration::from_secs(2),
        },
    );
    assert!(matches!(app.conn, Conn::Lost { .. }));
    let s = draw(&mut app, 80, 24);
    assert!(s.contains("DISCONNECTED") && s.contains("refused"), "{s}");
    update(&mut app, Action::Connected);
    assert!(!draw(&mut app, 80, 24).contains("DISCONNECTED"));
}

#[test]
fn checks_view_lists_every_check_sorted_and_filtered() {
    let mut app = full_app();
    key(&mut app, KeyCode::Char('7'));
    assert_eq!(app.view, View::Checks);
    let order = |app: &App| -> Vec<String> {
        app.checks
            .visible
            .iter()
            .map(|&i| {
                let c = &app.checks.rows.as_ref().unwrap()[i];
                format!("{}/{}", c.node, c.name)
            })
            .collect()
    };
    assert_eq!(
        order(&app),
        [
            "db-1/disk /var",
            "db-1/load",
            "edge-1/cert-expiry",
            "web-1/flappy",
            "web-1/load",
            "web-2/http",
            "web-2/load"
        ],
        "every check, OK ones too, by node"
    );
    key(&mut app, KeyCode::Char('s'));
    assert_eq!(app.check_sort.label(), "state");
    assert_eq!(order(&app)[0], "db-1/disk /var", "worst first");
    key(&mut app, KeyCode::Char('s'));
    assert_eq!(order(&app)[0], "edge-1/cert-expiry", "newest change first");
    key(&mut app, KeyCode::Char('/'));
    typ(&mut app, "state=ok");
    key(&mut app, KeyCode::Enter);
    assert_eq!(order(&app).len(), 4);
    key(&mut app, KeyCode::Char('s'));
    key(&mut app, KeyCode::Enter);
    let screen = draw(&mut app, 80, 24);
    assert!(screen.contains("check load on db-1"), "{screen}");
}

#[test]
fn help_explains_every_column_and_scrolls() {
    let mut app = full_app();
    let mut headers = std::collections::BTreeSet::new();
    // Every table's header (Logs has none: its line layout is in the help).
    for view in View::ALL.into_iter().filter(|v| *v != View::Logs) {
        app.view = view;
        let screen = draw(&mut app, 200, 40);
        let line = screen
            .lines()
            .nth(2)
            .unwrap_or_default()
            .trim_matches('"')
            .to_string();
        for word in line.split_whitespace() {
            if word.chars().all(|c| c.is_ascii_uppercase()) && word.len() > 1 {
                headers.insert(word.to_string());
            }
        }
    }
    let help: String = monit::tui::ui::HELP
        .iter()
        .map(|(k, v)| format!("{k} {v}\n"))
        .collect();
    for h in &headers {
        assert!(
            help.contains(h.as_str()),
            "`{h}` is not explained in the help"
        );
    }
    for abbreviation in ["ADF", "12ok 1w 2c 1u 1p", "stale", "(node)"] {
        assert!(help.contains(abbreviation), "{abbreviation}");
    }
    assert!(
        headers.contains("ADF") && headers.contains("CHECKS"),
        "{headers:?}"
    );
    key(&mut app, KeyCode::Char('?'));
    let top = draw(&mut app, 80, 24);
    key(&mut app, KeyCode::Char('j'));
    key(&mut app, KeyCode::Char('j'));
    assert_eq!(app.help_scroll, 2);
    assert_ne!(draw(&mut app, 80, 24), top, "j scrolls the help");
    key(&mut app, KeyCode::Esc);
    key(&mut app, KeyCode::Char('?'));
    assert_eq!(app.help_scroll, 0, "opens at the top");
}

#[test]
fn a_long_status_wraps_at_80x24_and_logs_show_a_long_line_in_full() {
    let mut app = full_app();
    key(&mut app, KeyCode::Char(':'));
    typ(
        &mut app,
        "run open-zone 218 20151011 --target zone=218 --target node=web-1",
    );
    key(&mut app, KeyCode::Enter);
    let screen = draw(&mut app, 80, 24);
    assert!(
        screen.contains("node=NAME, label.K=V, zone=KEY or all"),
        "wrapped, not cut: {screen}"
    );
    key(&mut app, KeyCode::Esc);

    let long = format!("{}THE-END", "a very long line ".repeat(12));
    update(
        &mut app,
        Action::LogLines(vec![LogLine {
            time_ms: NOW,
            node: "web-1".into(),
            level: Level::Warn,
            source: "job:7".into(),
            message: long.clone(),
        }]),
    );
    key(&mut app, KeyCode::Char('3'));
    key(&mut app, KeyCode::Char('f'));
    key(&mut app, KeyCode::Enter);
    assert_eq!(app.mode, Mode::Details);
    let screen = draw(&mut app, 80, 24);
    assert!(screen.contains("log line from web-1"), "{screen}");
    assert!(screen.contains("job:7"), "{screen}");
    assert!(screen.contains("THE-END"), "the whole line: {screen}");
}

#[test]
fn a_late_answer_for_an_abandoned_run_line_asks_nothing() {
    let mut app = full_app();
    key(&mut app, KeyCode::Char(':'));
    typ(&mut app, "run restart-web --target label.role=web");
    let effects = key(&mut app, KeyCode::Enter);
    // The user gives up and types something else meanwhile.
    key(&mut app, KeyCode::Esc);
    key(&mut app, KeyCode::Char(':'));
    typ(&mut app, "run open-zone");
    answer_targets(&mut app, effects, &["web-1", "web-2"]);
    assert_eq!(app.mode, Mode::Command { error: None }, "no confirmation");
    assert_eq!(app.input, "run open-zone");
}

/// Rows come from configd's job records through the shared model: the
/// overall state filters (a runbook has no targets, only steps), and a
/// runbook's steps show in the details.
#[test]
fn events_filter_on_the_fields_query_events_has() {
    let ack = EventRow {
        time: t(60),
        node: Some("web-1".into()),
        kind: "acknowledgement".into(),
        check: Some("disk".into()),
        state: Some("critical".into()),
        previous_state: None,
        who: Some("alice".into()),
        message: "cleaning up".into(),
    };
    let mut app = full_app();
    let mut rows = events();
    rows.push(ack);
    update(&mut app, Action::Events(rows));
    key(&mut app, KeyCode::Char('6'));
    key(&mut app, KeyCode::Char('/'));
    typ(&mut app, "who=alice check=disk");
    key(&mut app, KeyCode::Enter);
    assert_eq!(app.events.visible.len(), 1, "{:?}", app.events.filter_error);
    let shown = app.events.selected_row().unwrap();
    assert_eq!(shown.who.as_deref(), Some("alice"));
    key(&mut app, KeyCode::Enter);
    let screen = draw(&mut app, 120, 40);
    assert!(screen.contains("disk: cleaning up"), "{screen}");
    assert!(
        screen.contains("who") && screen.contains("alice"),
        "{screen}"
    );
}

#[test]
fn jobs_filter_on_state_and_show_runbook_steps() {
    use monit::net::proto::{JobView, StepKind, StepState, StepView};
    let step = |index: u32, name: &str, node: &str, state: StepState| StepView {
        node: Some(node.into()),
        command: Some(format!("{name}-zone")),
        args: vec!["101".into()],
        state,
        started_ms: Some(1),
        finished_ms: Some(2),
        exit_code: Some(0),
        ..StepView::pending(index, name, StepKind::Run, Some("101".into()))
    };
    let job = |id: u64, steps: Vec<StepView>, message: &str| JobView {
        id,
        who: "alice".into(),
        started_ms: 1_000,
        finished_ms: Some(2_000),
        command: "merge-zones".into(),
        args: vec!["201".into(), "101".into()],
        targets: vec![],
        requires: Default::default(),
        effects: Default::default(),
        item: None,
        message: message.into(),
        steps,
    };
    let ok = job(7, vec![step(1, "pack", "web-1", StepState::Ok)], "");
    let failed = job(
        8,
        vec![
            step(1, "pack", "web-1", StepState::Undone),
            step(2, "merge", "web-2", StepState::Failed),
        ],
        "failed at step 2 (merge): exit 2; undone: 1 pack",
    );
    let mut app = full_app();
    update(&mut app, Action::Jobs(vec![ok, failed]));
    key(&mut app, KeyCode::Char('4'));
    key(&mut app, KeyCode::Char('/'));
    typ(&mut app, "state=failed");
    key(&mut app, KeyCode::Enter);
    assert_eq!(app.jobs.visible.len(), 1, "{:?}", app.jobs.filter_error);
    assert_eq!(app.jobs.selected_row().unwrap().id, 8);
    key(&mut app, KeyCode::Enter);
    let screen = draw(&mut app, 120, 40);
    assert!(
        screen.contains("2. merge 101 on web-2: merge-zone 101 [failed]"),
        "{screen}"
    );
    assert!(
        screen.contains("1. pack 101 on web-1: pack-zone 101 [undone]"),
        "{screen}"
    );
    assert!(screen.contains("undone: 1 pack"), "{screen}");
}

/// `:runbook NAME ARGS` asks configd for the plan, shows it in the
/// confirmation, and runs exactly that plan (its digest) on `y`.
#[test]
fn runbook_command_shows_the_plan_and_runs_it_on_yes() {
    use monit::net::proto::{InventoryChange, RunbookPlan, StepKind, StepView};
    let mut app = full_app();
    key(&mut app, KeyCode::Char(':'));
    typ(&mut app, "runbook move-zone 301 web-2");
    let effects = key(&mut app, KeyCode::Enter);
    assert_eq!(
        effects,
        vec![Effect::PlanRunbook {
            line: "runbook move-zone 301 web-2".into(),
            name: "move-zone".into(),
            args: vec!["301".into(), "web-2".into()],
        }]
    );
    let mut step = StepView::pending(1, "point", StepKind::Effects, None);
    step.changes = vec![InventoryChange {
        kind: "zone".into(),
        key: "301".into(),
        attr: "node".into(),
        from: Some("web-1".into()),
        to: "web-2".into(),
    }];
    update(
        &mut app,
        Action::RunbookPlanned {
            line: "runbook move-zone 301 web-2".into(),
            plan: Ok(RunbookPlan {
                name: "move-zone".into(),
                args: vec!["301".into(), "web-2".into()],
                steps: vec![step],
                digest: "00ff00ff00ff00ff".into(),
            }),
        },
    );
    assert!(matches!(app.mode, Mode::Confirm(_)));
    let screen = draw(&mut app, 100, 30);
    assert!(
        screen.contains("Run runbook `move-zone 301 web-2`"),
        "{screen}"
    );
    assert!(screen.contains("zone 301 node: web-1 -> web-2"), "{screen}");
    assert_eq!(
        key(&mut app, KeyCode::Char('y')),
        vec![Effect::RunRunbook {
            name: "move-zone".into(),
            args: vec!["301".into(), "web-2".into()],
            digest: "00ff00ff00ff00ff".into(),
        }]
    );
    // A refusal goes back to the command line with configd's reason.
    key(&mut app, KeyCode::Char(':'));
    typ(&mut app, "runbook move-zone 999 web-2");
    key(&mut app, KeyCode::Enter);
    update(
        &mut app,
        Action::RunbookPlanned {
            line: "runbook move-zone 999 web-2".into(),
            plan: Err("argument `zone`: no zone 999 in the inventory".into()),
        },
    );
    assert_eq!(
        app.mode,
        Mode::Command {
            error: Some("argument `zone`: no zone 999 in the inventory".into())
        }
    );
}
