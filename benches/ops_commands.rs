//! Commands (issue 4): fan-out and output throughput against a real
//! `monit-configd`.
//!
//! ```text
//! cargo bench --bench ops_commands            # 1000 simulated, 10 real, 100 MB
//! cargo bench --bench ops_commands -- 1000 10 100 5
//! ```
//!
//! Arguments: simulated nodes, real noded, megabytes of output, repeats.
//!
//! 1. Fan-out, simulated: N in-process nodes, each with its own TCP
//!    connection, handshake and registration advertising a `noop` command,
//!    answering every `RunCommand` at once. Time from sending `Run` (target
//!    `label.sim=yes`) until `JobDone` (every result in). Median of repeats.
//! 2. Fan-out, real: K `monit-noded` processes with `true` = `/bin/true`;
//!    the same measure through `monit-cli run true --target label.sim=no --yes`.
//! 3. Throughput: one real node runs a command printing M MB (100-byte
//!    lines); `monit-cli run` writes it to /dev/null. MB/s = M / wall time.

#[path = "../tests/common/mod.rs"]
mod common;

use std::process::Stdio;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::bail;
use common::bench::{figure, median, names, node_link, registration, Configd, Target};
use common::{command, write_private, Proc};
use monit::net::client::Client;
use monit::net::link::{Handler, Incoming};
use monit::net::proto::{CommandExit, RequestBody, ResponseBody, Role, RunRequest, TargetState};
use monit::ops::spec::CommandSpec;
use tokio_util::sync::CancellationToken;

struct Noop;

impl Handler for Noop {
    async fn handle(self: Arc<Self>, req: Incoming) {
        if let RequestBody::RunCommand(_) = req.body {
            let _ = req
                .reply
                .send(ResponseBody::CommandExit(CommandExit {
                    state: TargetState::Ok,
                    exit_code: Some(0),
                    message: String::new(),
                }))
                .await;
        }
    }
}

/// A simulated node advertising `noop` (answered at once by `Noop`).
fn sim_registration(name: &str) -> monit::net::proto::Registration {
    let mut reg = registration(name, 0, 1);
    reg.labels = [("sim".to_string(), "yes".to_string())].into();
    reg.commands = vec![CommandSpec {
        name: "noop".into(),
        description: "answers at once".into(),
        argv: vec!["/bin/true".into()],
        args: vec![],
        timeout_ms: 10_000,
        concurrency: 1,
        inventory: None,
        role: Default::default(),
    }];
    reg
}

fn main() -> anyhow::Result<()> {
    let args: Vec<usize> = std::env::args()
        .skip(1)
        .filter_map(|a| a.parse().ok())
        .collect();
    let sims = args.first().copied().unwrap_or(1000);
    let reals = args.get(1).copied().unwrap_or(10);
    let megabytes = args.get(2).copied().unwrap_or(100);
    let repeats = args.get(3).copied().unwrap_or(5).max(1);
    monit::daemon::raise_nofile_limit();

    // Simulated nodes first, then the real ones (at least one: the output test).
    let mut all = names("sim", sims);
    all.extend((0..reals.max(1)).map(|i| format!("real-{i:02}")));
    let mut configd = Configd::start(
        all,
        Role::Operator,
        "heartbeat_interval = \"1s\"\nnode_dead_after = \"10s\"\n[log]\nlevel = \"warn\"\n",
    );
    let mut nodes = std::mem::take(&mut configd.nodes);
    let real_tokens = nodes.split_off(sims);
    let addr = configd.addr.clone();

    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    let stop = CancellationToken::new();
    let mut links = Vec::new();
    rt.block_on(async {
        for (name, token) in nodes {
            let reg = sim_registration(&name);
            match node_link(&configd.endpoint(&token), reg, Arc::new(Noop), &stop).await {
                Ok(link) => links.push(link),
                Err(e) => eprintln!("{name}: {e}"),
            }
        }
    });
    // Real nodes.
    let mut real = Vec::new();
    for (name, token) in &real_tokens {
        let token_file = configd.path().join(format!("{name}.token"));
        write_private(&token_file, &format!("{token}\n"));
        let cfg = configd.path().join(format!("{name}.toml"));
        write_private(
            &cfg,
            &format!(
                "name = \"{name}\"\nserver = \"{addr}\"\ntoken_file = \"{}\"\nspool_dir = \"{}\"\n[labels]\nsim = \"no\"\n\
                 [[command]]\nname = \"true\"\nargv = [\"/bin/true\"]\ntimeout = \"30s\"\n\
                 [[command]]\nname = \"big\"\nargv = [\"/bin/sh\", \"-c\", \"yes 'xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx' | head -c {}\"]\ntimeout = \"10m\"\n",
                token_file.display(),
                // Each node its own spool and pidfile (beside the spool):
                // as root the default is one /var/lib/monit for all.
                configd.path().join(format!("{name}.state/spool")).display(),
                megabytes * 1_000_000
            ),
        );
        let mut cmd = command("monit-noded", configd.path());
        cmd.arg("--config")
            .arg(&cfg)
            .arg("run")
            .env("MONIT_LOG", "warn")
            .stdout(Stdio::null());
        real.push(Proc::spawn(name, cmd, configd.path()));
    }
    let op_token = configd.client.clone();
    let (sim_ms, real_ms) = rt.block_on(async {
        let client = Client::connect(&configd.endpoint(&op_token), "bench").await?;
        // Wait until every node is up.
        let want = sims + real_tokens.len();
        let start = Instant::now();
        loop {
            let up = client.query_nodes(vec!["state=up".into()]).await?.len();
            if up >= want {
                break;
            }
            if start.elapsed() > Duration::from_secs(120) {
                bail!("only {up} of {want} nodes came up");
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        let mut sim_ms = Vec::new();
        let mut real_ms = Vec::new();
        for _ in 0..repeats {
            for (target, command, out) in [
                ("label.sim=yes", "noop", &mut sim_ms),
                ("label.sim=no", "true", &mut real_ms),
            ] {
                if (command == "noop" && sims == 0) || (command == "true" && reals == 0) {
                    continue;
                }
                let t = Instant::now();
                let mut answers = client
                    .request(RequestBody::Run(RunRequest {
                        command: command.into(),
                        args: vec![],
                        target: target.into(),
                        timeout_ms: None,
                        force_target: false,
                        reason: String::new(),
                    }))
                    .await?;
                loop {
                    match answers.next().await {
                        Some(Ok(ResponseBody::JobDone(job))) => {
                            let ok = job
                                .targets
                                .iter()
                                .filter(|t| t.state == TargetState::Ok)
                                .count();
                            if ok != job.targets.len() {
                                bail!("{command}: only {ok} of {} targets ok", job.targets.len());
                            }
                            break;
                        }
                        Some(Ok(ResponseBody::Error(e))) => bail!("{command}: {e}"),
                        Some(Ok(_)) => {}
                        other => bail!("{command}: stream ended: {other:?}"),
                    }
                }
                out.push(t.elapsed().as_secs_f64() * 1000.0);
            }
        }
        Ok::<_, anyhow::Error>((sim_ms, real_ms))
    })?;
    // Throughput through the real CLI into /dev/null.
    let mut mbps = Vec::new();
    for _ in 0..repeats.min(3) {
        let t = Instant::now();
        let target = format!("node={}", real_tokens[0].0);
        let status = configd
            .cli(&["run", "big", "--target", &target])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()?;
        let secs = t.elapsed().as_secs_f64();
        if !status.success() {
            bail!("monit-cli run big failed: {status}");
        }
        mbps.push(megabytes as f64 / secs);
    }
    stop.cancel();
    println!("Commands (issue 4), repeats={repeats}");
    if sims > 0 {
        let fan_out = median(sim_ms.clone());
        println!(
            "fan-out noop to {sims} simulated nodes: median {fan_out:.1} ms (min {:.1}, max {:.1}); target < 1000 ms",
            sim_ms.iter().cloned().fold(f64::INFINITY, f64::min),
            sim_ms.iter().cloned().fold(0.0, f64::max)
        );
        figure("ops.fan_out", fan_out, "ms", Target::Below(1000.0));
    }
    if reals > 0 {
        println!(
            "fan-out /bin/true to {reals} real noded: median {:.1} ms (min {:.1}, max {:.1})",
            median(real_ms.clone()),
            real_ms.iter().cloned().fold(f64::INFINITY, f64::min),
            real_ms.iter().cloned().fold(0.0, f64::max)
        );
    }
    let output = median(mbps.clone());
    println!(
        "output {megabytes} MB node -> configd -> monit-cli > /dev/null: median {output:.0} MB/s (runs: {}); target >= 100 MB/s",
        mbps.iter().map(|m| format!("{m:.0}")).collect::<Vec<_>>().join(", ")
    );
    figure("ops.output", output, "MB/s", Target::AtLeast(100.0));
    drop(links);
    drop(real);
    Ok(())
}
