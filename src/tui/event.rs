//! The event loop: one task turns terminal events, network Actions, a
//! one-second tick and signals into `update` calls, and redraws when
//! something changed, at most 30 times a second. Idle, it sleeps.

use std::time::{Duration, Instant};

use crossterm::event::{Event, EventStream, KeyEventKind};
use futures::StreamExt;
use tokio::signal::unix::{signal, SignalKind};
use tokio::sync::mpsc;

use super::action::{Action, Effect};
use super::app::App;
use super::terminal::Term;
use super::update::update;

/// Shortest time between two frames (30 per second).
pub const FRAME: Duration = Duration::from_millis(33);

/// Actions taken from the network per wake-up before drawing, so a flood
/// of log lines cannot starve the keyboard.
const BATCH: usize = 256;

/// Runs until the user quits or a signal arrives.
pub async fn run(
    terminal: &mut Term,
    app: &mut App,
    mut net: mpsc::Receiver<Action>,
    effects: mpsc::Sender<Effect>,
) -> std::io::Result<()> {
    let mut keys = EventStream::new();
    let mut sigterm = signal(SignalKind::terminate())?;
    let mut sighup = signal(SignalKind::hangup())?;
    let mut sigint = signal(SignalKind::interrupt())?;
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let size = terminal.size()?;
    update(app, Action::Resize(size.width, size.height));
    let mut dirty = true;
    let mut last_draw = Instant::now() - FRAME;
    let mut net_open = true;
    loop {
        if dirty && last_draw.elapsed() >= FRAME {
            terminal.draw(|f| f.render_widget(&*app, f.area()))?;
            last_draw = Instant::now();
            dirty = false;
        }
        let next_frame = tokio::time::Instant::from_std(last_draw + FRAME);
        let mut actions = Vec::new();
        tokio::select! {
            _ = tokio::time::sleep_until(next_frame), if dirty => continue,
            ev = keys.next() => match ev {
                Some(Ok(Event::Key(k))) if k.kind == KeyEventKind::Press => actions.push(Action::Key(k)),
                Some(Ok(Event::Resize(w, h))) => {
                    terminal.autoresize()?;
                    actions.push(Action::Resize(w, h));
                }
                Some(Ok(_)) => {}
                Some(Err(e)) => return Err(e),
                None => return Ok(()),
            },
            a = net.recv(), if net_open => match a {
                Some(a) => {
                    actions.push(a);
                    while actions.len() < BATCH {
                        match net.try_recv() {
                            Ok(a) => actions.push(a),
                            Err(_) => break,
                        }
                    }
                }
                None => net_open = false,
            },
            _ = tick.tick() => actions.push(Action::Tick(crate::timefmt::now_ms())),
            _ = sigterm.recv() => return Ok(()),
            _ = sighup.recv() => return Ok(()),
            _ = sigint.recv() => return Ok(()),
        }
        for action in actions {
            for effect in update(app, action) {
                match effect {
                    Effect::Quit => return Ok(()),
                    other => {
                        if effects.try_send(other).is_err() {
                            app.notice = Some("busy: the request was not sent, try again".into());
                        }
                    }
                }
            }
            dirty = true;
        }
        if app.quit {
            return Ok(());
        }
    }
}
