//! The web console end to end: real configd (serving `web_listen` over
//! TLS with its own certificate) and real noded processes, driven by
//! headless Debian Chromium through chromedriver, plus plain HTTP checks
//! of CSRF, logout, roles and login throttling.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::path::Path;
use std::time::{Duration, Instant};

use common::web::{browser, browser_with, screenshot, start_driver, urlencode, viewport, Http};
use common::{ops_pack, Fleet, Proc};
use fantoccini::key::Key;
use fantoccini::{Client, Locator};

const INVENTORY: &str = "[inventory.zone]
key = \"int\"
attributes = { domain = \"string\", state = \"new|live|archived\" }

[[runbook]]
name = \"launch-zone\"
description = \"Open a new zone and record its domain\"
args = [{ name = \"zone\", type = \"key\", kind = \"zone\", requires = { state = \"new\" } }, { name = \"date\", type = \"date\", format = \"%Y%m%d\" }]

[[runbook.step]]
name = \"open\"
on = \"{zone.node}\"
run = \"open-zone\"
args = [\"{zone}\", \"{date}\"]

[[runbook.step]]
name = \"domain\"
effects = [{ item = \"zone={zone}\", set = { domain = \"s{zone}.game.example\" } }]
";

/// A command whose output arrives while the job page is open.
const SLOW: &str = r#"
[[command]]
name = "slow-echo"
description = "prints, waits, prints"
argv = ["/bin/sh", "-c", "echo start; sleep 2; echo end"]
timeout = "20s"
"#;

/// A fleet with the console on, two nodes offering the example ops pack
/// (each with its own zone root), and zone 218 (new) on web-1.
struct World {
    fleet: Fleet,
    web: Http,
    _nodes: Vec<Proc>,
}

fn world() -> World {
    let fleet = Fleet::start_with(&format!(
        "heartbeat_interval = \"200ms\"\nnode_dead_after = \"2s\"\nweb_listen = \"127.0.0.1:0\"\n{INVENTORY}"
    ));
    let nodes = ["web-1", "web-2"]
        .iter()
        .map(|n| {
            let root = ops_pack::zone_root(fleet.path(), n);
            fleet.node_with(n, &[("role", "web")], &(ops_pack::pack(&root) + SLOW))
        })
        .collect();
    fleet.wait_state("web-1", "up", Duration::from_secs(20));
    fleet.wait_state("web-2", "up", Duration::from_secs(20));
    let admin = fleet.token("root", "admin");
    let out = fleet.cli_as(
        &admin,
        &[
            "inventory",
            "add",
            "zone",
            "218",
            "node=web-1",
            "domain=s218.example.com",
            "state=new",
        ],
    );
    assert!(out.status.success(), "{}", common::stderr(&out));
    let addr = std::fs::read_to_string(fleet.data_dir.join("web.addr")).unwrap();
    let web = Http {
        addr: addr.trim().to_string(),
        fingerprint: Some(fleet.fingerprint()),
    };
    World {
        fleet,
        web,
        _nodes: nodes,
    }
}

impl World {
    fn url(&self, path: &str) -> String {
        format!("https://{}{path}", self.web.addr)
    }
}

async fn login(b: &Client, w: &World, token: &Path) {
    b.goto(&w.url("/login")).await.unwrap();
    let token = std::fs::read_to_string(token).unwrap();
    b.find(Locator::Id("token"))
        .await
        .unwrap()
        .send_keys(token.trim())
        .await
        .unwrap();
    b.find(Locator::Id("login"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    wait_text(b, "#main h1", "Overview", Duration::from_secs(10)).await;
}

/// Waits until the element `css` contains `text`.
async fn wait_text(b: &Client, css: &str, text: &str, limit: Duration) -> Duration {
    let start = Instant::now();
    loop {
        if let Ok(e) = b.find(Locator::Css(css)).await {
            if e.text().await.unwrap_or_default().contains(text) {
                return start.elapsed();
            }
        }
        if start.elapsed() > limit {
            let page = b.source().await.unwrap_or_default();
            panic!("`{css}` did not show `{text}` within {limit:?}; page:\n{page}");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn body_text(b: &Client) -> String {
    b.find(Locator::Css("body"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap()
}

/// The session cookie the browser holds.
async fn session_cookie(b: &Client) -> String {
    let c = b.get_named_cookie("monit_session").await.unwrap();
    assert!(
        c.http_only().unwrap_or(false),
        "the session cookie is HttpOnly"
    );
    assert!(
        c.secure().unwrap_or(false),
        "the session cookie is Secure under TLS"
    );
    format!("monit_session={}", c.value())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn viewer_sees_nodes_and_live_logs_but_cannot_run() {
    let w = world();
    let driver = start_driver();
    let b = browser(&driver).await;

    b.goto(&w.url("/login")).await.unwrap();
    screenshot(&b, "login").await;
    login(&b, &w, &w.fleet.viewer).await;
    let overview = body_text(&b).await;
    assert!(
        overview.contains("web-1") && overview.contains("web-2"),
        "{overview}"
    );
    screenshot(&b, "overview").await;

    // Nodes: filter and sort are real queries.
    b.goto(&w.url("/nodes?filter=name%3Dweb-2&sort=state"))
        .await
        .unwrap();
    let nodes = b
        .find(Locator::Id("nodes"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        nodes.contains("web-2") && !nodes.contains("web-1"),
        "{nodes}"
    );
    // The row is the node's JSON form: counts, labels, last seen.
    assert!(
        nodes.contains("0 ok, 0 warn, 0 crit, 0 unkn, 0 pend")
            && nodes.contains("role=web")
            && nodes.contains(" ago"),
        "{nodes}"
    );
    b.goto(&w.url("/nodes")).await.unwrap();
    screenshot(&b, "nodes").await;
    b.find(Locator::LinkText("web-1"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    wait_text(&b, "#main h1", "web-1", Duration::from_secs(5)).await;
    let node = body_text(&b).await;
    assert!(
        node.contains("218") && node.contains("s218.example.com"),
        "the node's inventory: {node}"
    );
    screenshot(&b, "node").await;
    for (path, name) in [("/checks", "checks"), ("/events", "events")] {
        b.goto(&w.url(path)).await.unwrap();
        screenshot(&b, name).await;
    }
    // Events show their optional fields (node, state, who) when set.
    let events = b.find(Locator::Id("events")).await.unwrap();
    let events = events.text().await.unwrap();
    for shown in [
        "node_state",
        "new node registered",
        "web-2",
        "inventory",
        "root",
    ] {
        assert!(events.contains(shown), "no {shown:?} in {events}");
    }

    // Live logs: a line web-1 logs after the page loaded shows within 2 s.
    b.goto(&w.url("/logs?node=web-1")).await.unwrap();
    wait_text(&b, "#status", "following", Duration::from_secs(10)).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let before = b
        .find(Locator::Id("log"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let reloaded = before.matches("configuration reloaded").count();
    w._nodes[0].signal(nix::sys::signal::Signal::SIGHUP);
    let start = Instant::now();
    loop {
        let text = b
            .find(Locator::Id("log"))
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        if text.matches("configuration reloaded").count() > reloaded {
            // Every field of the line shows: time, level, node, source.
            let line = text.lines().find(|l| l.contains("SIGHUP")).unwrap_or("");
            assert!(
                line.starts_with("20") && line.contains("info web-1 daemon SIGHUP:"),
                "{text}"
            );
            break;
        }
        assert!(
            start.elapsed() < Duration::from_secs(2),
            "the node's new line did not show within 2s:\n{text}"
        );
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    eprintln!("live log line shown after {:?}", start.elapsed());
    screenshot(&b, "logs").await;
    // The CLI's filters: a bad one is said on the page.
    b.goto(&w.url("/logs?node=web-1&since=yesterday&level=loud"))
        .await
        .unwrap();
    let error = b
        .find(Locator::Css("#main .error"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(error.contains("level"), "{error}");
    b.goto(&w.url("/logs?node=web-1&since=10m&level=info"))
        .await
        .unwrap();
    wait_text(&b, "#log", "configuration reloaded", Duration::from_secs(5)).await;

    // Pause and resume work from the keyboard.
    let pause = b.find(Locator::Id("pause")).await.unwrap();
    pause.send_keys(Key::Enter.as_ref()).await.unwrap();
    assert_eq!(
        pause.attr("aria-pressed").await.unwrap().as_deref(),
        Some("true")
    );
    pause.send_keys(Key::Enter.as_ref()).await.unwrap();
    assert_eq!(
        pause.attr("aria-pressed").await.unwrap().as_deref(),
        Some("false")
    );

    // The first Tab reaches the skip link; the navigation is real links.
    b.goto(&w.url("/nodes")).await.unwrap();
    b.find(Locator::Css("body"))
        .await
        .unwrap()
        .send_keys(Key::Tab.as_ref())
        .await
        .unwrap();
    let focused = b.active_element().await.unwrap();
    assert_eq!(focused.text().await.unwrap(), "Skip to content");
    b.find(Locator::LinkText("Events"))
        .await
        .unwrap()
        .send_keys(Key::Enter.as_ref())
        .await
        .unwrap();
    wait_text(&b, "#main h1", "Events", Duration::from_secs(5)).await;

    // Readable at 360 px: nothing but tables (in their own boxes) scrolls sideways.
    viewport(&b, 360, 740).await;
    for path in ["/", "/nodes", "/logs", "/inventory"] {
        b.goto(&w.url(path)).await.unwrap();
        let wide = b
            .execute(
                "return document.documentElement.scrollWidth - window.innerWidth;",
                vec![],
            )
            .await
            .unwrap();
        assert!(
            wide.as_i64().unwrap() <= 0,
            "{path} is {wide} px too wide at 360 px"
        );
    }
    viewport(&b, 1280, 800).await;

    // No run form for a viewer, and a direct POST is refused.
    b.goto(&w.url("/")).await.unwrap();
    assert!(
        b.find(Locator::LinkText("Run")).await.is_err(),
        "no Run link for a viewer"
    );
    let cookie = session_cookie(&b).await;
    let page = w.web.get("/", Some(&cookie)).await;
    let csrf = page.field("csrf").unwrap();
    let form = format!("csrf={csrf}&arg0=218&arg1=20151011&target=zone%3D218");
    let a = w.web.post("/run/open-zone", Some(&cookie), &form).await;
    assert_eq!(a.status, 403, "{a:?}");
    let a = w
        .web
        .post("/run/open-zone/confirm", Some(&cookie), &form)
        .await;
    assert_eq!(a.status, 403, "{a:?}");
    assert_eq!(w.web.get("/run", Some(&cookie)).await.status, 403);
    assert_eq!(w.web.get("/runbooks", Some(&cookie)).await.status, 403);
    let a = w
        .web
        .post(
            "/runbooks/launch-zone/run",
            Some(&cookie),
            &format!("csrf={csrf}&arg0=218&arg1=20151011"),
        )
        .await;
    assert_eq!(a.status, 403, "{a:?}");
    let jobs = w.fleet.cli(&["query", "jobs", "-o", "json"]);
    assert_eq!(
        String::from_utf8_lossy(&jobs.stdout).trim(),
        "[]",
        "nothing ran"
    );

    // Light or dark follows the browser's setting (prefers-color-scheme).
    let dark = browser_with(&driver, &["--force-dark-mode"]).await;
    let background = |c: Client| async move {
        let v = c
            .execute(
                "return getComputedStyle(document.body).backgroundColor;",
                vec![],
            )
            .await
            .unwrap();
        let text = v.as_str().unwrap().to_string();
        let rgb: Vec<u32> = text
            .trim_start_matches("rgba(")
            .trim_start_matches("rgb(")
            .trim_end_matches(')')
            .split(',')
            .take(3)
            .map(|p| p.trim().parse().unwrap())
            .collect();
        (text, rgb.iter().sum::<u32>())
    };
    b.goto(&w.url("/login")).await.unwrap();
    dark.goto(&w.url("/login")).await.unwrap();
    let (light_text, light_sum) = background(b.clone()).await;
    let (dark_text, dark_sum) = background(dark.clone()).await;
    assert!(
        light_sum > 3 * 180 && dark_sum < 3 * 80,
        "light {light_text}, dark {dark_text}"
    );
    screenshot(&dark, "login-dark").await;
    dark.close().await.unwrap();
    b.close().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn operator_runs_a_runbook_from_its_plan() {
    let w = world();
    let admin = w.fleet.token("root2", "admin");
    let out = w.fleet.cli_as(
        &admin,
        &["inventory", "add", "zone", "219", "node=web-2", "state=new"],
    );
    assert!(out.status.success(), "{}", common::stderr(&out));
    let op = w.fleet.token("ops", "operator");
    let driver = start_driver();
    let b = browser(&driver).await;
    login(&b, &w, &op).await;
    b.find(Locator::LinkText("Runbooks"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    wait_text(&b, "#main h1", "Runbooks", Duration::from_secs(5)).await;
    b.find(Locator::LinkText("launch-zone"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    wait_text(&b, "#main h1", "launch-zone", Duration::from_secs(5)).await;
    // configd's refusal shows on the form; nothing ran.
    let fill = |id: &'static str, v: &'static str| {
        let b = b.clone();
        async move {
            let f = b.find(Locator::Id(id)).await.unwrap();
            f.clear().await.unwrap();
            f.send_keys(v).await.unwrap();
        }
    };
    fill("arg0", "999").await;
    fill("arg1", "20261201").await;
    b.find(Locator::Id("plan"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    wait_text(&b, "#run-error", "no zone 999", Duration::from_secs(5)).await;
    // The plan: each step, where it runs, what it changes; nothing ran.
    fill("arg0", "219").await;
    b.find(Locator::Id("plan"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    wait_text(&b, "#main h1", "Plan", Duration::from_secs(5)).await;
    let steps = b
        .find(Locator::Id("steps"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        steps.contains("open on web-2: open-zone 219 20261201"),
        "{steps}"
    );
    assert!(steps.contains("zone 219 state: new -> live"), "{steps}");
    assert!(
        steps.contains("zone 219 domain: (unset) -> s219.game.example"),
        "{steps}"
    );
    screenshot(&b, "runbook-plan").await;
    let jobs = w.fleet.cli(&["query", "jobs", "-o", "json"]);
    assert_eq!(
        String::from_utf8_lossy(&jobs.stdout).trim(),
        "[]",
        "nothing ran"
    );
    // Confirmed: the job page shows the steps as they end, then the record.
    b.find(Locator::Id("confirm"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    wait_text(&b, "#job-state", "ok", Duration::from_secs(15)).await;
    let steps = b
        .find(Locator::Id("steps"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(steps.contains("open on web-2"), "{steps}");
    assert!(
        !steps.contains("pending") && !steps.contains("failed"),
        "{steps}"
    );
    screenshot(&b, "runbook-job").await;
    let inv = w
        .fleet
        .cli(&["query", "inventory", "-o", "json", "--filter", "key=219"]);
    let inv: serde_json::Value = serde_json::from_slice(&inv.stdout).unwrap();
    assert_eq!(inv[0]["attrs"]["state"], "live", "{inv}");
    assert_eq!(inv[0]["attrs"]["domain"], "s219.game.example", "{inv}");
    b.close().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn operator_runs_open_zone_through_the_form() {
    let w = world();
    let op = w.fleet.token("ops", "operator");
    let driver = start_driver();
    let b = browser(&driver).await;
    login(&b, &w, &op).await;

    b.find(Locator::LinkText("Run"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    wait_text(&b, "#main h1", "Run a command", Duration::from_secs(5)).await;
    b.find(Locator::LinkText("open-zone"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    wait_text(&b, "#main h1", "open-zone", Duration::from_secs(5)).await;
    screenshot(&b, "run-form").await;

    // A bad date: the error sits next to the field and nothing runs.
    b.find(Locator::Id("arg0"))
        .await
        .unwrap()
        .send_keys("218")
        .await
        .unwrap();
    b.find(Locator::Id("arg1"))
        .await
        .unwrap()
        .send_keys("20151399")
        .await
        .unwrap();
    b.find(Locator::Id("check"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    wait_text(&b, "#arg1-error", "date", Duration::from_secs(5)).await;
    assert!(
        b.find(Locator::Id("arg0-error")).await.is_err(),
        "the zone was fine"
    );
    screenshot(&b, "run-form-error").await;
    let jobs = w.fleet.cli(&["query", "jobs", "-o", "json"]);
    assert_eq!(
        String::from_utf8_lossy(&jobs.stdout).trim(),
        "[]",
        "nothing ran"
    );

    // A good date: the confirmation names the node and the precondition.
    let date = b.find(Locator::Id("arg1")).await.unwrap();
    date.clear().await.unwrap();
    date.send_keys("20151011").await.unwrap();
    b.find(Locator::Id("check"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    wait_text(&b, "#confirm-nodes", "web-1", Duration::from_secs(5)).await;
    let confirm = body_text(&b).await;
    assert!(
        !confirm.contains("web-2"),
        "only the zone's node: {confirm}"
    );
    let pre = b
        .find(Locator::Id("preconditions"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        pre.contains("state") && pre.contains("new") && pre.contains("holds"),
        "{pre}"
    );
    screenshot(&b, "run-confirm").await;

    // Run: the output streams into the job page, which ends `ok`.
    b.find(Locator::Id("confirm"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    wait_text(&b, "#main h1", "Job #", Duration::from_secs(5)).await;
    wait_text(&b, "#output", "opened zone 218", Duration::from_secs(20)).await;
    wait_text(&b, "#job-state", "ok", Duration::from_secs(20)).await;
    screenshot(&b, "job").await;
    b.goto(&w.url("/jobs")).await.unwrap();
    wait_text(
        &b,
        "#jobs",
        "open-zone 218 20151011",
        Duration::from_secs(5),
    )
    .await;
    screenshot(&b, "jobs").await;

    // The zone is live in the inventory page.
    b.goto(&w.url("/inventory?kind=zone&q=state%3Dlive"))
        .await
        .unwrap();
    wait_text(&b, "#inventory", "state=live", Duration::from_secs(5)).await;
    let inv = b
        .find(Locator::Id("inventory"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(inv.contains("218"), "{inv}");
    screenshot(&b, "inventory").await;

    // The zone is live now: configd refuses a second open before any
    // confirmation, and the form says why.
    b.goto(&w.url("/run/open-zone")).await.unwrap();
    b.find(Locator::Id("arg0"))
        .await
        .unwrap()
        .send_keys("218")
        .await
        .unwrap();
    b.find(Locator::Id("arg1"))
        .await
        .unwrap()
        .send_keys("20151012")
        .await
        .unwrap();
    b.find(Locator::Id("check"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    wait_text(&b, "#run-error", "live", Duration::from_secs(5)).await;
    b.close().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn csrf_logout_roles_and_login_limits_over_http() {
    let w = world();
    let op = w.fleet.token("ops", "operator");
    let web = &w.web;

    // Every answer carries the CSP; the login form needs its CSRF token.
    let login_page = web.get("/login", None).await;
    assert_eq!(login_page.status, 200);
    let csp = login_page.header("content-security-policy").unwrap();
    assert!(
        csp.contains("default-src 'self'") && csp.contains("frame-ancestors 'none'"),
        "{csp}"
    );
    let token = std::fs::read_to_string(&op).unwrap();
    let a = web
        .post(
            "/login",
            None,
            &format!("token={}", urlencode(token.trim())),
        )
        .await;
    assert_eq!(a.status, 403, "login without its CSRF token: {a:?}");

    let (cookie, csrf) = web.login(&op).await;
    let set = web.get("/login", None).await;
    assert!(set
        .headers_named("set-cookie")
        .iter()
        .all(|c| c.contains("HttpOnly") && c.contains("SameSite=Strict") && c.contains("Secure")));

    // A POST without the CSRF token (or with another) is refused.
    let form = "arg0=218&arg1=20151011&target=zone%3D218";
    let a = web.post("/run/open-zone", Some(&cookie), form).await;
    assert_eq!(a.status, 403, "{a:?}");
    let a = web
        .post(
            "/run/open-zone",
            Some(&cookie),
            &format!("{form}&csrf=0000"),
        )
        .await;
    assert_eq!(a.status, 403);
    assert_eq!(web.post("/logout", Some(&cookie), "").await.status, 403);
    // With it, the form is checked (a good one reaches the confirmation).
    let a = web
        .post(
            "/run/open-zone",
            Some(&cookie),
            &format!("{form}&csrf={csrf}"),
        )
        .await;
    assert_eq!(a.status, 200, "{a:?}");
    assert!(a.body.contains("confirm-nodes") && a.body.contains("web-1"));
    let a = web
        .post(
            "/run/open-zone",
            Some(&cookie),
            &format!("arg0=0&arg1=x&target=&csrf={csrf}"),
        )
        .await;
    assert_eq!(a.status, 422);
    assert!(a.body.contains("arg0-error") && a.body.contains("arg1-error"));

    // Logout ends the session: the same cookie no longer works.
    let a = web
        .post("/logout", Some(&cookie), &format!("csrf={csrf}"))
        .await;
    assert_eq!(a.status, 303);
    let a = web.get("/", Some(&cookie)).await;
    assert_eq!(a.status, 303, "{a:?}");
    assert_eq!(a.header("location"), Some("/login"));
    let a = web
        .post(
            "/run/open-zone",
            Some(&cookie),
            &format!("{form}&csrf={csrf}"),
        )
        .await;
    assert_eq!(a.status, 303, "a logged-out cookie cannot post");

    // Failed logins are counted per address, throttled and logged.
    let mut statuses = Vec::new();
    for _ in 0..7 {
        let page = web.get("/login", None).await;
        let pre = page.cookie("monit_login").unwrap();
        let csrf = page.field("csrf").unwrap();
        let a = web
            .post(
                "/login",
                Some(&format!("monit_login={pre}")),
                &format!("token=nope.nope&csrf={csrf}"),
            )
            .await;
        statuses.push(a.status);
    }
    assert_eq!(&statuses[..5], &[401; 5], "{statuses:?}");
    assert_eq!(&statuses[5..], &[429, 429], "{statuses:?}");
    // Even the right token waits now.
    let page = web.get("/login", None).await;
    let pre = page.cookie("monit_login").unwrap();
    let a = web
        .post(
            "/login",
            Some(&format!("monit_login={pre}")),
            &format!(
                "token={}&csrf={}",
                urlencode(token.trim()),
                page.field("csrf").unwrap()
            ),
        )
        .await;
    assert_eq!(a.status, 429);
    let mut fleet = w.fleet;
    let log = fleet.configd().log();
    assert!(log.contains("web console: failed login"), "{log}");
    assert!(log.contains("too many failed logins"), "{log}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plaintext_configd_serves_plain_http_on_loopback() {
    let fleet = Fleet::start_with("tls = false\nweb_listen = \"127.0.0.1:0\"\n");
    let web = Http {
        addr: std::fs::read_to_string(fleet.data_dir.join("web.addr"))
            .unwrap()
            .trim()
            .to_string(),
        fingerprint: None,
    };
    let login = web.get("/login", None).await;
    assert_eq!(login.status, 200);
    let c = login.headers_named("set-cookie").join("; ");
    assert!(c.contains("HttpOnly") && !c.contains("Secure"), "{c}");
    let (cookie, _) = web.login(&fleet.viewer).await;
    let nodes = web.get("/nodes", Some(&cookie)).await;
    assert_eq!(nodes.status, 200, "{nodes:?}");
    // The script is revalidated (so an upgrade's script is used at once)
    // and answered 304 while it is the same.
    let js = web.get("/assets/app.js", None).await;
    assert_eq!(js.status, 200);
    assert_eq!(js.header("cache-control"), Some("no-cache"));
    let etag = js.header("etag").unwrap().to_string();
    let asked = format!("If-None-Match: {etag}\r\n");
    let again = web
        .send_with("GET", "/assets/app.js", None, None, &asked)
        .await;
    assert_eq!(again.status, 304, "{again:?}");
    // A node token is not a console login.
    let node = fleet.token("n1", "node");
    let page = web.get("/login", None).await;
    let token = std::fs::read_to_string(node).unwrap();
    let a = web
        .post(
            "/login",
            Some(&format!(
                "monit_login={}",
                page.cookie("monit_login").unwrap()
            )),
            &format!(
                "token={}&csrf={}",
                urlencode(token.trim()),
                page.field("csrf").unwrap()
            ),
        )
        .await;
    assert_eq!(a.status, 401, "{a:?}");
    assert!(a.cookie("monit_session").is_none());
}
