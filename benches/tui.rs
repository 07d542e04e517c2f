//! monit-tui figures (BENCHMARKS.md, "TUI (issue 6)"):
//! 1. frame render time with 10,000 nodes (TestBackend, the real
//!    `impl Widget for &App`, plus the ratatui diff), at 80x24 and 200x60;
//! 2. `update` with a fresh 10,000-node answer (filter + sort);
//! 3. CPU of the real update + render loop while 50,000 log lines a
//!    second arrive as `Action::LogLines` batches, frames coalesced to
//!    30/s as in `event.rs` (TestBackend: no terminal I/O).
//!
//! Run: cargo bench --bench tui

#[path = "../tests/common/mod.rs"]
mod common;

use std::time::{Duration, Instant};

use common::bench::{figure, median, rusage_secs, Target};

use monit::model::log::Level;
use monit::net::proto::CheckCounts;
use monit::tui::action::Action;
use monit::tui::app::{App, View};
use monit::tui::rows::{LogLine, NodeRow};
use monit::tui::update::update;
use ratatui::backend::TestBackend;
use ratatui::Terminal;

fn nodes(n: usize, now: i64) -> Vec<NodeRow> {
    (0..n)
        .map(|i| NodeRow {
            name: format!("node-{i:05}"),
            state: ["up", "up", "up", "down", "pending"][i % 5].into(),
            addr: format!("10.0.{}.{}", i / 256, i % 256),
            first_seen: monit::timefmt::rfc3339(now - 86_400_000),
            last_seen: monit::timefmt::rfc3339(now - (i as i64 % 60) * 1000),
            version: "0.1.0".into(),
            labels: [
                ("role".to_string(), ["web", "db", "edge"][i % 3].to_string()),
                ("site".to_string(), format!("s{}", i % 7)),
            ]
            .into(),
            checks: CheckCounts {
                ok: 10,
                warning: (i % 4) as u32,
                critical: (i % 9 == 0) as u32,
                unknown: 0,
                pending: 0,
            },
        })
        .collect()
}

fn cpu_seconds() -> f64 {
    rusage_secs(nix::sys::resource::UsageWho::RUSAGE_SELF)
}

/// Feeds `per_batch` lines from `pool` every 10 ms for `secs` through
/// `update`, drawing at most once a frame: (lines sent, frames, wall
/// seconds, CPU seconds).
fn tail(
    app: &mut App,
    term: &mut Terminal<TestBackend>,
    pool: &[LogLine],
    per_batch: usize,
    secs: u64,
) -> (usize, usize, f64, f64) {
    let frame = monit::tui::event::FRAME;
    let batch_every = Duration::from_millis(10);
    let cpu0 = cpu_seconds();
    let start = Instant::now();
    let mut last_draw = Instant::now() - frame;
    let mut frames = 0usize;
    let mut sent = 0usize;
    let mut next = Instant::now();
    while start.elapsed() < Duration::from_secs(secs) {
        let lines: Vec<LogLine> = (0..per_batch)
            .map(|j| pool[(sent + j) % pool.len()].clone())
            .collect();
        sent += lines.len();
        update(app, Action::LogLines(lines));
        if last_draw.elapsed() >= frame {
            term.draw(|f| f.render_widget(&*app, f.area()))
                .expect("draw");
            last_draw = Instant::now();
            frames += 1;
        }
        next += batch_every;
        if let Some(d) = next.checked_duration_since(Instant::now()) {
            std::thread::sleep(d);
        }
    }
    (
        sent,
        frames,
        start.elapsed().as_secs_f64(),
        cpu_seconds() - cpu0,
    )
}

fn render_bench(app: &mut App, w: u16, h: u16, rounds: usize) -> f64 {
    update(app, Action::Resize(w, h));
    let mut term = Terminal::new(TestBackend::new(w, h)).expect("test backend");
    let mut times = Vec::with_capacity(rounds);
    for i in 0..rounds {
        // Move the selection so every frame differs (a real redraw).
        update(app, Action::Tick(app.now_ms + 1000));
        app.nodes.selected = (i * 37) % app.nodes.visible.len().max(1);
        let t = Instant::now();
        term.draw(|f| f.render_widget(&*app, f.area()))
            .expect("draw");
        times.push(t.elapsed().as_secs_f64() * 1e3);
    }
    median(times)
}

fn main() {
    let now = monit::timefmt::now_ms();
    let mut app = App::new("127.0.0.1:7400", now);
    update(&mut app, Action::Connected);

    // update() with 10,000 nodes
    let rows = nodes(10_000, now);
    let mut times = Vec::new();
    for _ in 0..21 {
        let batch = rows.clone();
        let t = Instant::now();
        update(&mut app, Action::Nodes(batch));
        times.push(t.elapsed().as_secs_f64() * 1e3);
    }
    let upd = median(times);
    app.node_sort = monit::tui::app::NodeSort::State;
    app.refilter(View::Nodes);

    let r80 = render_bench(&mut app, 80, 24, 301);
    let r200 = render_bench(&mut app, 200, 60, 301);
    app.nodes.filter = "role=web".into();
    app.refilter(View::Nodes);
    let rf = render_bench(&mut app, 200, 60, 301);
    println!("nodes: 10000");
    println!("update(Nodes(10000)) filter+sort: median {upd:.2} ms");
    println!("render 80x24:  median {r80:.3} ms/frame (target < 5 ms)");
    figure("tui.render_80x24", r80, "ms", Target::Below(5.0));
    println!("render 200x60: median {r200:.3} ms/frame");
    println!("render 200x60 with filter role=web: median {rf:.3} ms/frame");

    // Logs: 50,000 lines/s for 5 s through update + coalesced render.
    let rate = 50_000usize;
    let secs = 5;
    let per_batch = rate / 100;
    let pool: Vec<LogLine> = (0..1000)
        .map(|i| LogLine {
            time_ms: now + i,
            node: format!("node-{:05}", i % 10_000),
            level: if i % 10 == 0 {
                Level::Warn
            } else {
                Level::Info
            },
            source: "daemon".into(),
            message: format!(
                "GET /api/v1/items/{i} 200 {} bytes in {} ms",
                i * 17,
                i % 50
            ),
        })
        .collect();
    app.view = View::Logs;
    app.nodes.filter.clear();
    update(&mut app, Action::Resize(120, 40));
    let mut term = Terminal::new(TestBackend::new(120, 40)).expect("test backend");
    let (sent, frames, wall, cpu) = tail(&mut app, &mut term, &pool, per_batch, secs);
    println!(
        "logs: {sent} lines in {wall:.2} s ({:.0} lines/s), {frames} frames ({:.1}/s), CPU {:.1}% of one core (target < 50%)",
        sent as f64 / wall,
        frames as f64 / wall,
        100.0 * cpu / wall
    );
    figure("tui.logs_cpu", 100.0 * cpu / wall, "%", Target::Below(50.0));
    // Same with a text filter that matches 1 line in 10 (search highlight on).
    app.logs.filter = "WARN".into();
    app.logs.filter = "items/5".into();
    app.refilter(View::Logs);
    let (sent, _, wall, cpu) = tail(&mut app, &mut term, &pool, per_batch, secs);
    println!(
        "logs with search `items/5`: {:.0} lines/s, CPU {:.1}% of one core",
        sent as f64 / wall,
        100.0 * cpu / wall
    );
}
