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

use std::io::{BufRead, BufReader};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use monit::auth::{Token, TokensFile};
use monit::net::client::Client;
use monit::net::dial::{dial, link_config, Dialed, Endpoint};
use monit::net::link::{drive, Handler, Incoming, LinkHandle};
use monit::net::proto::{
    CommandExit, ErrorCode, ErrorFrame, PeerKind, Registration, RequestBody, ResponseBody, Role,
    RunRequest, TargetState, DEFAULT_MAX_FRAME,
};
use monit::net::tls::{Fingerprint, Trust};
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

fn write_private(path: &Path, text: &str) -> anyhow::Result<()> {
    use std::io::Write;
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)
        .with_context(|| format!("cannot write {}", path.display()))?;
    f.write_all(text.as_bytes())?;
    Ok(())
}

struct Killed(Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn median(mut xs: Vec<f64>) -> f64 {
    xs.sort_by(|a, b| a.total_cmp(b));
    xs.get(xs.len() / 2).copied().unwrap_or(f64::NAN)
}

async fn sim_node(endpoint: Endpoint, name: String, stop: CancellationToken) -> anyhow::Result<()> {
    let Dialed { conn, welcome, .. } = dial(&endpoint, PeerKind::Node, &name).await?;
    let (link, queue) = LinkHandle::new(DEFAULT_MAX_FRAME);
    let config = link_config(&welcome);
    let driver = tokio::spawn(drive(
        conn,
        link.clone(),
        queue,
        Arc::new(Noop),
        config,
        stop,
        ErrorFrame::new(ErrorCode::ShuttingDown, "bench over"),
    ));
    let reg = Registration {
        hostname: name.clone(),
        version: monit::VERSION.into(),
        labels: [("sim".to_string(), "yes".to_string())].into(),
        addrs: vec![],
        checks: vec![],
        commands: vec![CommandSpec {
            name: "noop".into(),
            description: "answers at once".into(),
            argv: vec!["/bin/true".into()],
            args: vec![],
            timeout_ms: 10_000,
            concurrency: 1,
            inventory: None,
            role: Default::default(),
        }],
        takes_checks: false,
    };
    let mut answers = link.request(RequestBody::Register(reg)).await?;
    match answers.next().await {
        Some(Ok(ResponseBody::Registered(_))) => {}
        other => bail!("registration of {name}: {other:?}"),
    }
    let _ = driver.await;
    Ok(())
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

    let dir = tempfile::tempdir()?;
    let data = dir.path().join("data");
    std::fs::create_dir_all(&data)?;
    let mut tokens = TokensFile::load(&data.join("tokens.toml"))?;
    let sim_tokens: Vec<(String, Token)> = (0..sims)
        .map(|i| {
            let name = format!("sim-{i:04}");
            let t = tokens.add(&name, Role::Node)?;
            Ok((name, t))
        })
        .collect::<anyhow::Result<_>>()?;
    let real_tokens: Vec<(String, PathBuf)> = (0..reals.max(1))
        .map(|i| {
            let name = format!("real-{i:02}");
            let t = tokens.add(&name, Role::Node)?;
            let path = dir.path().join(format!("{name}.token"));
            write_private(&path, &format!("{t}\n"))?;
            Ok((name, path))
        })
        .collect::<anyhow::Result<_>>()?;
    let op = tokens.add("bench-operator", Role::Operator)?;
    tokens.save()?;
    let op_path = dir.path().join("op.token");
    write_private(&op_path, &format!("{op}\n"))?;
    let config = dir.path().join("configd.toml");
    write_private(
        &config,
        &format!(
            "listen = \"127.0.0.1:0\"\ndata_dir = \"{}\"\nheartbeat_interval = \"1s\"\nnode_dead_after = \"10s\"\nmax_handshakes_per_address = 1024\n",
            data.display()
        ),
    )?;
    let mut configd = Command::new(env!("CARGO_BIN_EXE_monit-configd"));
    configd
        .arg("--config")
        .arg(&config)
        .arg("run")
        .env("MONIT_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::null());
    let mut child = configd.spawn().context("cannot start monit-configd")?;
    let stdout = child.stdout.take().context("no stdout")?;
    let _configd = Killed(child);
    let mut line = String::new();
    BufReader::new(stdout).read_line(&mut line)?;
    let addr = line
        .trim()
        .strip_prefix("listening on ")
        .context("configd did not print its address")?
        .to_string();

    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    let stop = CancellationToken::new();
    let trust = Trust::Pinned(Fingerprint::of_pem_file(&data.join("tls/cert.pem"))?);
    let endpoint = |token: Token| Endpoint {
        server: addr.clone(),
        token,
        trust: trust.clone(),
    };
    rt.block_on(async {
        for (name, token) in sim_tokens {
            let (endpoint, stop) = (endpoint(token), stop.clone());
            tokio::spawn(async move {
                if let Err(e) = sim_node(endpoint, name.clone(), stop).await {
                    eprintln!("{name}: {e}");
                }
            });
        }
    });
    // Real nodes.
    let mut nodes = Vec::new();
    for (name, token) in &real_tokens {
        let cfg = dir.path().join(format!("{name}.toml"));
        write_private(
            &cfg,
            &format!(
                "name = \"{name}\"\nserver = \"{addr}\"\ntoken_file = \"{}\"\n[labels]\nsim = \"no\"\n\
                 [[command]]\nname = \"true\"\nargv = [\"/bin/true\"]\ntimeout = \"30s\"\n\
                 [[command]]\nname = \"big\"\nargv = [\"/bin/sh\", \"-c\", \"yes 'xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx' | head -c {}\"]\ntimeout = \"10m\"\n",
                token.display(),
                megabytes * 1_000_000
            ),
        )?;
        let child = Command::new(env!("CARGO_BIN_EXE_monit-noded"))
            .arg("--config")
            .arg(&cfg)
            .arg("run")
            .env("MONIT_LOG", "warn")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .context("cannot start monit-noded")?;
        nodes.push(Killed(child));
    }
    let op_token = op;
    let (sim_ms, real_ms) = rt.block_on(async {
        let client = Client::connect(&endpoint(op_token.clone()), "bench").await?;
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
        let status = Command::new(env!("CARGO_BIN_EXE_monit-cli"))
            .args(["--server", &addr, "--token-file"])
            .arg(&op_path)
            .args([
                "run",
                "big",
                "--target",
                &format!("node={}", real_tokens[0].0),
            ])
            .env_remove("MONIT_TOKEN")
            .stdin(Stdio::null())
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
        println!(
            "fan-out noop to {sims} simulated nodes: median {:.1} ms (min {:.1}, max {:.1}); target < 1000 ms",
            median(sim_ms.clone()),
            sim_ms.iter().cloned().fold(f64::INFINITY, f64::min),
            sim_ms.iter().cloned().fold(0.0, f64::max)
        );
    }
    if reals > 0 {
        println!(
            "fan-out /bin/true to {reals} real noded: median {:.1} ms (min {:.1}, max {:.1})",
            median(real_ms.clone()),
            real_ms.iter().cloned().fold(f64::INFINITY, f64::min),
            real_ms.iter().cloned().fold(0.0, f64::max)
        );
    }
    println!(
        "output {megabytes} MB node -> configd -> monit-cli > /dev/null: median {:.0} MB/s (runs: {}); target >= 100 MB/s",
        median(mbps.clone()),
        mbps.iter().map(|m| format!("{m:.0}")).collect::<Vec<_>>().join(", ")
    );
    Ok(())
}
