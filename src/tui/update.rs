//! The pure heart of the UI: `update(&mut App, Action) -> Vec<Effect>`.
//! No I/O here, so every key is testable without a terminal.

use crossterm::event::{KeyCode, KeyEvent, KeyEventKind, KeyModifiers};

use super::action::{Action, Effect};
use super::app::{App, Conn, Mode, Pending, Table, View};
use super::command::{self, CommandLine};
use super::rows::CheckJson;
use crate::model::job::job_state;

/// Applies `action`; returns what the outside world must do.
pub fn update(app: &mut App, action: Action) -> Vec<Effect> {
    match action {
        Action::Key(key) if key.kind == KeyEventKind::Press => return on_key(app, key),
        Action::Key(_) => {}
        Action::Resize(w, h) => {
            app.width = w;
            app.height = h;
        }
        Action::Tick(now) => app.now_ms = now,
        Action::Connecting => {
            if !matches!(app.conn, Conn::Lost { .. }) {
                app.conn = Conn::Connecting;
            }
        }
        Action::Connected => app.conn = Conn::Connected,
        Action::Disconnected { reason, retry_in } => app.conn = Conn::Lost { reason, retry_in },
        Action::Nodes(rows) => {
            replace(app, View::Nodes, rows, |a| &mut a.nodes, |n| n.name.clone());
        }
        Action::Problems(rows) => {
            replace(app, View::Problems, rows, |a| &mut a.problems, check_id);
        }
        Action::Checks(rows) => {
            replace(app, View::Checks, rows, |a| &mut a.checks, check_id);
        }
        Action::LogLines(lines) => {
            app.logs.served = true;
            for l in lines {
                app.logs.buffer.push(l);
                app.logs.received += 1;
            }
        }
        Action::Jobs(rows) => {
            let was_running = app
                .jobs
                .selected_row()
                .is_some_and(|j| job_state(j) == "running");
            let kept = replace(app, View::Jobs, rows, |a| &mut a.jobs, |j| j.id);
            // The open details of a running job follow its stored output
            // (once more when it has just finished).
            if let Some(id) = kept {
                if was_running && app.view == View::Jobs && app.mode == Mode::Details {
                    app.job_output.remove(&id);
                    return vec![Effect::JobOutput { id }];
                }
            }
        }
        Action::JobOutput { id, lines } => {
            let out = app.job_output.entry(id).or_default();
            out.extend(lines);
            let excess = out.len().saturating_sub(MAX_JOB_OUTPUT);
            out.drain(..excess);
        }
        Action::Inventory(rows) => {
            app.inventory.rows = Some(rows);
            app.refilter(View::Inventory);
        }
        Action::Events(rows) => {
            app.events.rows = Some(rows);
            app.refilter(View::Events);
        }
        Action::CommandNames(names) => set_command_names(app, names),
        Action::Commands(offers) => {
            set_command_names(app, offers.iter().map(|o| o.spec.name.clone()).collect());
            app.commands = offers;
        }
        Action::RunTargets {
            command,
            args,
            target,
            nodes,
        } => {
            // Only while the command line still waits for this answer (not
            // after Esc, nor for a line typed since).
            let asked = app.resolving.take();
            if matches!(app.mode, Mode::Command { .. }) && asked.as_deref() == Some(&app.input) {
                app.notice = None;
                app.mode = match nodes {
                    Ok(nodes) => Mode::Confirm(Pending {
                        question: run_question(&command, &args, &target, &nodes),
                        effect: Effect::Run {
                            command,
                            args,
                            targets: vec![target],
                        },
                    }),
                    Err(why) => Mode::Command { error: Some(why) },
                };
            }
        }
        Action::RunbookPlanned { line, plan } => {
            // Only while the command line still waits for this answer.
            let asked = app.resolving.take();
            if matches!(app.mode, Mode::Command { .. }) && asked.as_deref() == Some(&line) {
                app.notice = None;
                app.mode = match plan {
                    Ok(plan) => Mode::Confirm(Pending {
                        question: format!(
                            "Run runbook `{} {}`: {} step(s), {} to run?\n{}",
                            plan.name,
                            plan.args.join(" "),
                            plan.steps.len(),
                            plan.runs(),
                            crate::ops::views::steps_text(&plan.steps).trim_end()
                        ),
                        effect: Effect::RunRunbook {
                            name: plan.name,
                            args: plan.args,
                            digest: plan.digest,
                        },
                    }),
                    Err(why) => Mode::Command { error: Some(why) },
                };
            }
        }
        Action::Notice(text) => app.notice = Some(text),
    }
    Vec::new()
}

/// The names the command line completes, sorted, each once.
fn set_command_names(app: &mut App, mut names: Vec<String>) {
    names.sort();
    names.dedup();
    app.command_names = names;
}

/// Output lines kept per job.
const MAX_JOB_OUTPUT: usize = 5000;

/// New rows for `view`: the row selected before stays selected, found by
/// `id` (returned when it is still there).
fn replace<T, K: PartialEq>(
    app: &mut App,
    view: View,
    rows: Vec<T>,
    table: fn(&mut App) -> &mut Table<T>,
    id: fn(&T) -> K,
) -> Option<K> {
    let keep = table(app).selected_row().map(id);
    table(app).rows = Some(rows);
    app.refilter(view);
    let keep = keep?;
    let t = table(app);
    let rows = t.rows.as_ref()?;
    t.selected = t.visible.iter().position(|&i| id(&rows[i]) == keep)?;
    Some(keep)
}

fn check_id(p: &CheckJson) -> (String, String) {
    (p.node.clone(), p.name.clone())
}

fn on_key(app: &mut App, key: KeyEvent) -> Vec<Effect> {
    if key.modifiers.contains(KeyModifiers::CONTROL) && key.code == KeyCode::Char('c') {
        app.quit = true;
        return vec![Effect::Quit];
    }
    match app.mode.clone() {
        Mode::Normal => normal_key(app, key),
        Mode::Filter { before } => filter_key(app, key, before),
        Mode::Command { .. } => command_key(app, key),
        Mode::Confirm(pending) => confirm_key(app, key, pending),
        Mode::Help => {
            match key.code {
                KeyCode::Char('j') | KeyCode::Down => {
                    app.help_scroll = app.help_scroll.saturating_add(1)
                }
                KeyCode::Char('k') | KeyCode::Up => {
                    app.help_scroll = app.help_scroll.saturating_sub(1)
                }
                KeyCode::PageDown => app.help_scroll = app.help_scroll.saturating_add(10),
                KeyCode::PageUp => app.help_scroll = app.help_scroll.saturating_sub(10),
                KeyCode::Esc | KeyCode::Enter | KeyCode::Char('q') | KeyCode::Char('?') => {
                    app.mode = Mode::Normal
                }
                _ => {}
            }
            Vec::new()
        }
        Mode::Details => {
            if matches!(
                key.code,
                KeyCode::Esc | KeyCode::Enter | KeyCode::Char('q') | KeyCode::Char('?')
            ) {
                app.mode = Mode::Normal;
            }
            Vec::new()
        }
    }
}

fn switch(app: &mut App, view: View) {
    app.view = view;
    app.notice = None;
}

fn normal_key(app: &mut App, key: KeyEvent) -> Vec<Effect> {
    if let Some(view) = View::by_key(key.code) {
        switch(app, view);
        return Vec::new();
    }
    let page = app.page();
    match key.code {
        KeyCode::Char('q') => {
            app.quit = true;
            return vec![Effect::Quit];
        }
        KeyCode::Tab => switch(app, app.view.next()),
        KeyCode::BackTab => switch(app, app.view.prev()),
        KeyCode::Char('?') => {
            app.help_scroll = 0;
            app.mode = Mode::Help;
        }
        KeyCode::Char('/') => {
            app.input = app.cursor().filter().to_string();
            app.mode = Mode::Filter {
                before: app.input.clone(),
            };
        }
        KeyCode::Char(':') => {
            app.input.clear();
            app.mode = Mode::Command { error: None };
        }
        KeyCode::Esc => {
            app.notice = None;
            if !app.cursor().filter().is_empty() {
                set_filter(app, String::new());
            }
        }
        code => {
            // The view's own keys first, then moving and details.
            if let Some(effects) = app.view.spec().key(app, code) {
                return effects;
            }
            match code {
                KeyCode::Enter if app.cursor().has_selection() => app.mode = Mode::Details,
                KeyCode::Down | KeyCode::Char('j') => move_by(app, 1),
                KeyCode::Up | KeyCode::Char('k') => move_by(app, -1),
                KeyCode::PageDown | KeyCode::Char(' ') => move_by(app, page as isize),
                KeyCode::PageUp => move_by(app, -(page as isize)),
                KeyCode::Home | KeyCode::Char('g') => move_by(app, isize::MIN / 2),
                KeyCode::End | KeyCode::Char('G') => move_by(app, isize::MAX / 2),
                _ => {}
            }
        }
    }
    Vec::new()
}

fn move_by(app: &mut App, delta: isize) {
    let page = app.page();
    app.cursor_mut().move_by(delta, page);
}

fn set_filter(app: &mut App, text: String) {
    *app.cursor_mut().filter_mut() = text;
    app.refilter(app.view);
}

/// Typing into the line of Filter or Command mode; true when consumed.
fn edit(input: &mut String, key: KeyEvent) -> bool {
    match key.code {
        KeyCode::Char('u') if key.modifiers.contains(KeyModifiers::CONTROL) => input.clear(),
        KeyCode::Char('w') if key.modifiers.contains(KeyModifiers::CONTROL) => {
            let trimmed = input.trim_end().len();
            input.truncate(trimmed);
            let cut = input.rfind(' ').map_or(0, |i| i + 1);
            input.truncate(cut);
        }
        KeyCode::Char(c) if !key.modifiers.contains(KeyModifiers::CONTROL) => {
            if input.len() < 1024 {
                input.push(c);
            }
        }
        KeyCode::Backspace => {
            input.pop();
        }
        _ => return false,
    }
    true
}

fn filter_key(app: &mut App, key: KeyEvent, before: String) -> Vec<Effect> {
    match key.code {
        KeyCode::Enter => app.mode = Mode::Normal,
        KeyCode::Esc => {
            app.mode = Mode::Normal;
            set_filter(app, before);
        }
        _ => {
            if edit(&mut app.input, key) {
                // Narrow as the user types.
                let text = app.input.clone();
                set_filter(app, text);
            }
        }
    }
    Vec::new()
}

fn command_key(app: &mut App, key: KeyEvent) -> Vec<Effect> {
    match key.code {
        KeyCode::Esc => app.mode = Mode::Normal,
        KeyCode::Tab => {
            if let Some(line) = command::complete(&app.input, &app.command_names) {
                app.input = line;
            }
        }
        KeyCode::Enter => match command::parse(&app.input) {
            Err(error) => app.mode = Mode::Command { error: Some(error) },
            Ok(CommandLine::Quit) => {
                app.quit = true;
                return vec![Effect::Quit];
            }
            Ok(CommandLine::Help) => {
                app.help_scroll = 0;
                app.mode = Mode::Help;
            }
            Ok(CommandLine::Runbook { name, args }) => {
                app.mode = Mode::Command { error: None };
                app.resolving = Some(app.input.clone());
                app.notice = Some(format!("asking configd for the plan of {name}..."));
                return vec![Effect::PlanRunbook {
                    line: app.input.clone(),
                    name,
                    args,
                }];
            }
            Ok(CommandLine::Run {
                command,
                args,
                targets,
            }) => {
                // Arguments first, then configd names the nodes: the
                // confirmation lists the ones it will really run on.
                if let Err(why) = command::check_run(&command, &args, &app.commands) {
                    app.mode = Mode::Command { error: Some(why) };
                    return Vec::new();
                }
                // None: configd runs a bound command on its item's node.
                let target = targets.into_iter().next().unwrap_or_default();
                app.mode = Mode::Command { error: None };
                app.resolving = Some(app.input.clone());
                app.notice = Some(if target.is_empty() {
                    format!("asking configd where {command} runs...")
                } else {
                    format!("asking configd which nodes {target} names...")
                });
                return vec![Effect::ResolveRun {
                    command,
                    args,
                    target,
                }];
            }
        },
        _ => {
            if edit(&mut app.input, key) {
                app.mode = Mode::Command { error: None };
            }
        }
    }
    Vec::new()
}

/// The confirmation of a `:run`: the command line and every node it will
/// run on (configd's answer), the first 20 by name.
pub fn run_question(command: &str, args: &[String], target: &str, nodes: &[String]) -> String {
    let line = std::iter::once(command)
        .chain(args.iter().map(String::as_str))
        .collect::<Vec<_>>()
        .join(" ");
    let shown = if nodes.len() > 20 {
        format!("{}, and {} more", nodes[..20].join(", "), nodes.len() - 20)
    } else {
        nodes.join(", ")
    };
    let count = match nodes.len() {
        1 => "1 node".to_string(),
        n => format!("{n} nodes"),
    };
    if target.is_empty() {
        return format!("Run `{line}` on {shown}, the node hosting its item?");
    }
    format!("Run `{line}` on {count} ({target}): {shown}?")
}

fn confirm_key(app: &mut App, key: KeyEvent, pending: Pending) -> Vec<Effect> {
    match key.code {
        KeyCode::Char('y') | KeyCode::Char('Y') | KeyCode::Enter => {
            app.mode = Mode::Normal;
            app.notice = Some(match &pending.effect {
                Effect::Run { command, .. } => format!("sent: run {command}"),
                Effect::RunRunbook { name, .. } => format!("sent: runbook {name}"),
                Effect::Ack { node, check } => format!("sent: ack {check} on {node}"),
                Effect::Downtime { node, check, .. } => {
                    format!("sent: downtime for {check} on {node}")
                }
                _ => "sent".into(),
            });
            vec![pending.effect]
        }
        KeyCode::Char('n') | KeyCode::Char('N') | KeyCode::Esc | KeyCode::Char('q') => {
            app.mode = Mode::Normal;
            app.notice = Some("cancelled".into());
            Vec::new()
        }
        _ => Vec::new(),
    }
}
