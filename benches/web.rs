//! The web console under load (issue 15), against a real `monit-configd`
//! serving `web_listen` over TLS:
//!
//! 1. **Pages with a big fleet**: N simulated nodes (default 10,000)
//!    register over their own connections; a viewer's session then loads
//!    the overview and the nodes page (first page, and a later page sorted
//!    by state) K times each. Reported: server time to first byte (request
//!    written on an open TLS connection to the first byte back; median and
//!    p95) and page weight (the HTML, and with the stylesheet and script).
//! 2. **Live logs**: one simulated node sends R lines/s (default 10,000)
//!    for S seconds (default 30) while headless Chromium shows them on the
//!    live logs page; every second the bench clicks Pause (and Resume) and
//!    times the click until the button says it was pressed. Reported: the
//!    click times, the lines the page drew and the lines it marked
//!    skipped, and whether a skip marker was shown.
//!
//! ```text
//! cargo bench --bench web [-- --nodes 10000 --runs 20 --rate 10000 --seconds 30]
//! ```
//!
//! Needs Debian's `chromium` and `chromium-driver`. Figures go in
//! BENCHMARKS.md.
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "../tests/common/mod.rs"]
mod common;

use std::collections::BTreeMap;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::bench::{figure, percentile, Args, Target};
use common::web::{browser, start_driver, Http};
use common::Fleet;
use fantoccini::Locator;
use monit::auth::{Token, TokensFile};
use monit::net::dial::{dial, Endpoint};
use monit::net::proto::{
    Level, LogBatch, LogLine, Message, PeerKind, Registration, Request, RequestBody, Role,
};
use monit::net::tls::Trust;
use monit::net::{Connection, Stream};

/// Targets from the issue.
const TTFB_MS: f64 = 50.0;
const PAGE_KB: f64 = 200.0;
const CLICK_MS: f64 = 200.0;

struct Options {
    nodes: usize,
    runs: usize,
    rate: usize,
    seconds: u64,
}

fn options() -> anyhow::Result<Options> {
    let mut o = Options {
        nodes: 10_000,
        runs: 20,
        rate: 10_000,
        seconds: 30,
    };
    let mut args = Args::new();
    while let Some(a) = args.next() {
        match a.as_str() {
            "--nodes" => o.nodes = args.value("--nodes")?,
            "--runs" => o.runs = args.value::<usize>("--runs")?.max(1),
            "--rate" => o.rate = args.value::<usize>("--rate")?.max(100),
            "--seconds" => o.seconds = args.value::<u64>("--seconds")?.max(1),
            other => Err(Args::unknown(other))?,
        }
    }
    Ok(o)
}

fn main() -> ExitCode {
    let o = match options() {
        Ok(o) => o,
        Err(e) => {
            eprintln!("web bench: {e:#}");
            return ExitCode::from(2);
        }
    };
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    if rt.block_on(bench(o)) {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

/// A simulated node: registered, its connection held open.
async fn sim_node(
    server: &str,
    trust: &Trust,
    name: &str,
    token: Token,
    index: usize,
) -> Connection<Stream> {
    let endpoint = Endpoint {
        server: server.to_string(),
        token,
        trust: trust.clone(),
    };
    let mut d = dial(&endpoint, PeerKind::Node, name).await.unwrap();
    let registration = Registration {
        hostname: format!("{name}.bench.example"),
        version: monit::VERSION.to_string(),
        labels: BTreeMap::from([
            ("rack".to_string(), format!("r{:02}", index % 40)),
            ("role".to_string(), "web".to_string()),
        ]),
        addrs: vec!["127.0.0.1".to_string()],
        checks: vec![],
        commands: vec![],
        takes_checks: false,
    };
    d.conn
        .send(&Message::Request(Request {
            id: 1,
            body: RequestBody::Register(registration),
        }))
        .await
        .unwrap();
    loop {
        match d.conn.read().await.unwrap() {
            Some(Message::Response(r)) if r.id == 1 => return d.conn,
            Some(Message::Ping(p)) => d.conn.send(&Message::Pong(p)).await.unwrap(),
            Some(other) => panic!("{name}: unexpected {other:?}"),
            None => panic!("{name}: configd closed the connection"),
        }
    }
}

/// Adds `n` node tokens straight into configd's tokens file (configd
/// re-reads it within a quarter second).
fn node_tokens(fleet: &Fleet, prefix: &str, n: usize) -> Vec<(String, Token)> {
    let mut file = TokensFile::load(&fleet.data_dir.join("tokens.toml")).unwrap();
    let tokens = (0..n)
        .map(|i| {
            let name = format!("{prefix}-{i:05}");
            let token = file.add(&name, Role::Node).unwrap();
            (name, token)
        })
        .collect();
    file.save().unwrap();
    std::thread::sleep(Duration::from_millis(600));
    tokens
}

async fn bench(o: Options) -> bool {
    let fleet = Fleet::start_with(
        "heartbeat_interval = \"10m\"\nnode_dead_after = \"1h\"\nmax_handshakes_per_address = 1024\nweb_listen = \"127.0.0.1:0\"\nlog_buffer_lines = 100000\n",
    );
    let trust = Trust::Pinned(fleet.fingerprint());
    let web = Http {
        addr: std::fs::read_to_string(fleet.data_dir.join("web.addr"))
            .unwrap()
            .trim()
            .to_string(),
        fingerprint: Some(fleet.fingerprint()),
    };
    let mut ok = true;

    // 1. Pages with N nodes.
    let started = Instant::now();
    let tokens = node_tokens(&fleet, "bench", o.nodes);
    let gate = Arc::new(tokio::sync::Semaphore::new(64));
    let mut joins = Vec::new();
    for (i, (name, token)) in tokens.into_iter().enumerate() {
        let gate = gate.clone();
        let fleet_addr = fleet.addr.clone();
        let trust = trust.clone();
        joins.push(tokio::spawn(async move {
            let _permit = gate.acquire().await.unwrap();
            sim_node(&fleet_addr, &trust, &name, token, i).await
        }));
    }
    let mut held = Vec::with_capacity(joins.len());
    for j in joins {
        held.push(j.await.unwrap());
    }
    println!(
        "{} simulated nodes registered in {:.1}s",
        held.len(),
        started.elapsed().as_secs_f64()
    );
    let (cookie, _) = web.login(&fleet.viewer).await;
    let mut assets = 0;
    for a in ["/assets/app.css", "/assets/app.js"] {
        assets += web.get(a, None).await.body.len();
    }
    println!(
        "\n| page ({} nodes) | TTFB median | TTFB p95 | full page median | HTML | HTML + CSS + JS |",
        o.nodes
    );
    println!("|---|---|---|---|---|---|");
    for (path, page) in [
        ("/", "home"),
        ("/nodes", "nodes"),
        ("/nodes?sort=state&page=50", "nodes_page50"),
    ] {
        let mut ttfb = Vec::new();
        let mut full = Vec::new();
        let mut size = 0;
        for _ in 0..o.runs {
            let a = web.get(path, Some(&cookie)).await;
            assert_eq!(a.status, 200, "{path}: {}", a.status);
            ttfb.push(a.first_byte.as_secs_f64() * 1000.0);
            full.push(a.last_byte.as_secs_f64() * 1000.0);
            size = a.body.len();
        }
        ttfb.sort_by(f64::total_cmp);
        full.sort_by(f64::total_cmp);
        let (med, p95) = (percentile(&ttfb, 0.5), percentile(&ttfb, 0.95));
        let kb = |b: usize| b as f64 / 1024.0;
        println!(
            "| `{path}` | {med:.1} ms | {p95:.1} ms | {:.1} ms | {:.1} KB | {:.1} KB |",
            percentile(&full, 0.5),
            kb(size),
            kb(size + assets)
        );
        let weight = kb(size + assets);
        ok &= figure(
            &format!("web.{page}.ttfb"),
            med,
            "ms",
            Target::Below(TTFB_MS),
        );
        ok &= figure(
            &format!("web.{page}.weight"),
            weight,
            "KB",
            Target::Below(PAGE_KB),
        );
    }
    drop(held);

    // 2. Live logs at R lines/s into one tab.
    let (name, token) = node_tokens(&fleet, "chatty", 1).remove(0);
    let mut conn = sim_node(&fleet.addr, &trust, &name, token, 0).await;
    let driver = start_driver();
    let b = browser(&driver).await;
    let base = format!("https://{}", web.addr);
    b.goto(&format!("{base}/login")).await.unwrap();
    let viewer = std::fs::read_to_string(&fleet.viewer).unwrap();
    b.find(Locator::Id("token"))
        .await
        .unwrap()
        .send_keys(viewer.trim())
        .await
        .unwrap();
    b.find(Locator::Id("login"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    b.goto(&format!("{base}/logs?node={name}&n=0"))
        .await
        .unwrap();
    let status = b.find(Locator::Id("status")).await.unwrap();
    for _ in 0..100 {
        if status
            .text()
            .await
            .unwrap_or_default()
            .contains("following")
        {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let stop = tokio_util::sync::CancellationToken::new();
    let emitter = {
        let stop = stop.clone();
        let rate = o.rate;
        let name = name.clone();
        tokio::spawn(async move {
            // 100 batches a second.
            let per_batch = rate / 100;
            let mut tick = tokio::time::interval(Duration::from_millis(10));
            let mut sent = 0u64;
            let mut id = 10u64;
            let began = Instant::now();
            loop {
                tokio::select! {
                    _ = stop.cancelled() => return (sent, conn, began.elapsed()),
                    _ = tick.tick() => {
                        let now = monit::timefmt::now_ms();
                        let lines = (0..per_batch)
                            .map(|k| LogLine {
                                time_ms: now,
                                node: name.clone(),
                                level: Level::Info,
                                source: "daemon".into(),
                                message: format!("bench line {} of a chatty daemon, with some text to make it realistic", sent + k as u64),
                            })
                            .collect();
                        id += 1;
                        let batch = LogBatch { stream: 7, first_line: sent, lines };
                        conn.send(&Message::Request(Request { id, body: RequestBody::LogBatch(batch) })).await.unwrap();
                        sent += per_batch as u64;
                    }
                    m = conn.read() => match m.unwrap() {
                        Some(Message::Ping(p)) => conn.send(&Message::Pong(p)).await.unwrap(),
                        Some(_) => {}
                        None => panic!("configd closed the chatty node"),
                    },
                }
            }
        })
    };
    // The browser's own measure of each click, input to next paint
    // (Event Timing API; events faster than 16 ms are not reported).
    b.execute(
        "window.__clicks = []; new PerformanceObserver(function (l) { l.getEntries().forEach(function (e) { if (e.name === 'click' || e.name === 'pointerdown' || e.name === 'pointerup' || e.name === 'mousedown' || e.name === 'mouseup') window.__clicks.push(e.duration); }); }).observe({ type: 'event', durationThreshold: 16, buffered: false }); return true;",
        vec![],
    )
    .await
    .unwrap();
    let pause = b.find(Locator::Id("pause")).await.unwrap();
    let mut idle = Vec::new();
    for want in ["true", "false", "true", "false"] {
        let t = Instant::now();
        pause.click().await.unwrap();
        assert_eq!(
            pause.attr("aria-pressed").await.unwrap().as_deref(),
            Some(want)
        );
        idle.push(t.elapsed().as_secs_f64() * 1000.0);
    }
    idle.sort_by(f64::total_cmp);
    let mut clicks = Vec::new();
    let began = Instant::now();
    while began.elapsed() < Duration::from_secs(o.seconds) {
        tokio::time::sleep(Duration::from_millis(500)).await;
        for want in ["true", "false"] {
            let t = Instant::now();
            pause.click().await.unwrap();
            let pressed = pause.attr("aria-pressed").await.unwrap();
            clicks.push(t.elapsed().as_secs_f64() * 1000.0);
            assert_eq!(pressed.as_deref(), Some(want));
        }
    }
    stop.cancel();
    let (sent, _conn, emitted) = emitter.await.unwrap();
    let in_page: Vec<f64> = b
        .execute("return window.__clicks;", vec![])
        .await
        .unwrap()
        .as_array()
        .map(|a| a.iter().filter_map(|v| v.as_f64()).collect())
        .unwrap_or_default();
    let slowest_in_page = in_page.iter().copied().fold(0.0, f64::max);
    let log = b.find(Locator::Id("log")).await.unwrap();
    let counter = |n: Option<String>| n.and_then(|v| v.parse::<u64>().ok()).unwrap_or(0);
    let drained = Instant::now();
    let (mut shown, mut skipped) = (0, 0);
    while drained.elapsed() < Duration::from_secs(10) {
        shown = counter(log.attr("data-shown").await.unwrap());
        skipped = counter(log.attr("data-skipped").await.unwrap());
        if shown + skipped >= sent {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let markers = counter(log.attr("data-markers").await.unwrap());
    clicks.sort_by(f64::total_cmp);
    println!(
        "\nlive logs: {sent} lines in {:.1}s ({:.0} lines/s) into one tab",
        emitted.as_secs_f64(),
        sent as f64 / emitted.as_secs_f64()
    );
    println!(
        "  clicks before the stream (WebDriver's own cost): median {:.0} ms",
        percentile(&idle, 0.5)
    );
    println!(
        "  clicks: {} (Pause/Resume), median {:.0} ms, p95 {:.0} ms, max {:.0} ms",
        clicks.len(),
        percentile(&clicks, 0.5),
        percentile(&clicks, 0.95),
        clicks[clicks.len() - 1]
    );
    println!(
        "  page drew {shown} lines, marked {skipped} skipped ({markers} skip markers shown), accounted for {:.1}% within {:.1}s of the end",
        (shown + skipped) as f64 * 100.0 / sent.max(1) as f64,
        drained.elapsed().as_secs_f64()
    );
    let mut sorted_in_page = in_page.clone();
    sorted_in_page.sort_by(f64::total_cmp);
    println!(
        "  in the page (Event Timing, input to next paint): {} of {} mouse events over 16 ms; of those median {:.0} ms, slowest {:.0} ms",
        in_page.len(),
        (idle.len() + clicks.len()) * 5,
        if sorted_in_page.is_empty() { 0.0 } else { percentile(&sorted_in_page, 0.5) },
        slowest_in_page
    );
    ok &= figure(
        "web.click_in_page",
        slowest_in_page,
        "ms",
        Target::Below(CLICK_MS),
    );
    if markers == 0 && skipped > 0 {
        println!("  ^ lines were skipped without a marker");
        ok = false;
    }
    let _ = b.close().await;
    ok
}
