//! The Prometheus exposition on `metrics_listen`: served over TLS with
//! configd's certificate, behind a bearer token, accepted by `promtool
//! check metrics`, and carrying the series and values the checks made.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::HashMap;
use std::process::{Command, Stdio};
use std::time::Duration;

use common::*;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const PLUGINS: &str = "/usr/lib/nagios/plugins";
const PROMTOOL: &str = "/usr/bin/promtool";

fn check_toml(name: &str, argv: &[&str]) -> String {
    let argv: Vec<String> = argv.iter().map(|a| format!("{a:?}")).collect();
    format!(
        "[[check]]\nname = \"{name}\"\ncommand = [{}]\ninterval = \"500ms\"\nmax_attempts = 1\n",
        argv.join(", ")
    )
}

/// One HTTP/1.1 request over TLS (configd's certificate pinned): status
/// line and body.
async fn get(
    fleet: &Fleet,
    addr: &str,
    method: &str,
    path: &str,
    token: Option<&str>,
) -> (String, String) {
    let mut stream = tls_to(addr, fleet.fingerprint()).await;
    let auth = token
        .map(|t| format!("Authorization: Bearer {t}\r\n"))
        .unwrap_or_default();
    let request =
        format!("{method} {path} HTTP/1.1\r\nHost: {addr}\r\n{auth}Accept: text/plain\r\n\r\n");
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut answer = Vec::new();
    tokio::time::timeout(Duration::from_secs(10), stream.read_to_end(&mut answer))
        .await
        .expect("the answer within 10 s")
        .unwrap();
    let text = String::from_utf8(answer).unwrap();
    let (head, body) = text.split_once("\r\n\r\n").expect("a head and a body");
    let status = head.lines().next().unwrap().to_string();
    (status, body.to_string())
}

/// Series (name with labels, as written) -> value.
fn samples(text: &str) -> HashMap<String, f64> {
    text.lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
        .map(|l| {
            let (series, value) = l.rsplit_once(' ').unwrap();
            let v = match value {
                "+Inf" => f64::INFINITY,
                "-Inf" => f64::NEG_INFINITY,
                v => v.parse().unwrap_or_else(|_| panic!("bad value in {l:?}")),
            };
            (series.to_string(), v)
        })
        .collect()
}

fn promtool_check(scrape: &str) -> (bool, String) {
    let mut child = Command::new(PROMTOOL)
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| {
            panic!("{PROMTOOL} is needed (Debian package `prometheus`; bash scripts/test installs it): {e}")
        });
    use std::io::Write;
    child
        .stdin
        .take()
        .unwrap()
        .write_all(scrape.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), said)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn promtool_accepts_a_scrape_with_failing_checks_and_perfdata() {
    let secrets = tempfile::tempdir().unwrap();
    let token_file = secrets.path().join("metrics.token");
    std::fs::write(&token_file, "scrape-secret-1\n").unwrap();
    let fleet = Fleet::start_with(&format!(
        "heartbeat_interval = \"200ms\"\nnode_dead_after = \"1s\"\nmetrics_listen = \"127.0.0.1:0\"\nmetrics_token_file = \"{}\"\nmetric_labels = [\"role\"]\n",
        token_file.display()
    ));
    let metrics_addr = std::fs::read_to_string(fleet.data_dir.join("metrics.addr"))
        .unwrap()
        .trim()
        .to_string();
    let dummy = format!("{PLUGINS}/check_dummy");
    let load = format!("{PLUGINS}/check_load");
    let disk = format!("{PLUGINS}/check_disk");
    let tcp = format!("{PLUGINS}/check_tcp");
    let port = fleet.addr.rsplit_once(':').unwrap().1.to_string();
    let mut extra = String::new();
    extra.push_str(&check_toml("down", &[&dummy, "2", "service is down"]));
    extra.push_str(&check_toml(
        "load",
        &[&load, "-w", "100,100,100", "-c", "200,200,200"],
    ));
    // Always critical (free space below 100%), with perfdata in MB.
    extra.push_str(&check_toml(
        "disk",
        &[&disk, "-w", "100%", "-c", "100%", "-p", "/"],
    ));
    extra.push_str(&check_toml("tcp", &[&tcp, "-H", "127.0.0.1", "-p", &port]));
    let _web = fleet.node_with("met-1", &[("role", "web"), ("dc", "x")], &extra);
    let t = Duration::from_secs(20);
    for check in ["down", "load", "disk", "tcp"] {
        fleet.wait_check("met-1", check, t, "a result with its perfdata", |c| {
            c["state"] != "pending"
                && (check == "down" || !c["perfdata"].as_array().unwrap().is_empty())
        });
    }

    // No token, a wrong one: refused; another path: not found.
    let (status, _) = get(&fleet, &metrics_addr, "GET", "/metrics", None).await;
    assert!(status.contains("401"), "{status}");
    let (status, _) = get(
        &fleet,
        &metrics_addr,
        "GET",
        "/metrics",
        Some("scrape-secret-2"),
    )
    .await;
    assert!(status.contains("401"), "{status}");
    let (status, _) = get(&fleet, &metrics_addr, "GET", "/", Some("scrape-secret-1")).await;
    assert!(status.contains("404"), "{status}");

    let (status, scrape) = get(
        &fleet,
        &metrics_addr,
        "GET",
        "/metrics",
        Some("scrape-secret-1"),
    )
    .await;
    assert!(status.contains("200"), "{status}");
    let (ok, said) = promtool_check(&scrape);
    assert!(
        ok,
        "promtool check metrics refused the scrape: {said}\n{scrape}"
    );

    let got = samples(&scrape);
    let value = |series: &str| -> f64 {
        *got.get(series)
            .unwrap_or_else(|| panic!("no series {series} in the scrape:\n{scrape}"))
    };
    assert_eq!(value("monit_node_up{node=\"met-1\",role=\"web\"}"), 1.0);
    assert_eq!(
        value("monit_check_state{node=\"met-1\",check=\"down\",role=\"web\"}"),
        2.0
    );
    assert_eq!(
        value("monit_check_state{node=\"met-1\",check=\"disk\",role=\"web\"}"),
        2.0
    );
    assert_eq!(
        value("monit_check_state{node=\"met-1\",check=\"load\",role=\"web\"}"),
        0.0
    );
    let age =
        value("monit_check_last_check_age_seconds{node=\"met-1\",check=\"load\",role=\"web\"}");
    assert!((0.0..10.0).contains(&age), "age {age}");
    // `dc` is not in metric_labels: it is no label of any series.
    assert!(!scrape.contains("dc=\""), "{scrape}");

    // The perfdata values are the ones `query checks` shows, in base units.
    let load_check = fleet.check("met-1", "load").unwrap();
    let load1 = load_check["perfdata"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["label"] == "load1")
        .unwrap()["value"]
        .as_f64()
        .unwrap();
    let scraped = value(
        "monit_check_perfdata{node=\"met-1\",check=\"load\",role=\"web\",label=\"load1\",uom=\"\"}",
    );
    assert!(
        (scraped - load1).abs() < 1.0,
        "scraped {scraped}, checked {load1}"
    );
    assert_eq!(
        value("monit_check_perfdata_threshold{node=\"met-1\",check=\"load\",role=\"web\",label=\"load1\",uom=\"\",threshold=\"critical\",bound=\"upper\"}"),
        200.0
    );
    let disk_check = fleet.check("met-1", "disk").unwrap();
    let root = &disk_check["perfdata"].as_array().unwrap()[0];
    let label = root["label"].as_str().unwrap();
    let factor = match root["uom"].as_str().unwrap() {
        "B" => 1.0,
        "KB" => 1024.0,
        "MB" => 1048576.0,
        "GB" => 1073741824.0,
        other => panic!("check_disk's unit {other}"),
    };
    let mb = root["value"].as_f64().unwrap();
    let bytes = value(&format!(
        "monit_check_perfdata_bytes{{node=\"met-1\",check=\"disk\",role=\"web\",label=\"{label}\"}}"
    ));
    assert!(
        (bytes - mb * factor).abs() < 1.0,
        "{bytes} bytes for {mb} {}",
        root["uom"]
    );
    let time = value(
        "monit_check_perfdata_seconds{node=\"met-1\",check=\"tcp\",role=\"web\",label=\"time\"}",
    );
    assert!((0.0..10.0).contains(&time), "tcp time {time}");

    assert!(value("monit_check_results_ingested_total") >= 4.0);
    assert!(value("monit_log_lines_ingested_total") >= 1.0);
    assert!(value("monit_connections_open") >= 1.0);
    assert!(value("process_resident_memory_bytes") > 1e6);
    assert!(value("process_open_fds") > 3.0);

    // The exposition follows the node: stopped, it is down.
    drop(_web);
    fleet.wait_state("met-1", "down", Duration::from_secs(10));
    let (_, scrape) = get(
        &fleet,
        &metrics_addr,
        "GET",
        "/metrics",
        Some("scrape-secret-1"),
    )
    .await;
    assert_eq!(
        samples(&scrape)["monit_node_up{node=\"met-1\",role=\"web\"}"],
        0.0
    );
}

#[test]
fn a_missing_token_file_or_bad_metric_label_stops_start_up_with_one_line() {
    let dir = tempfile::tempdir().unwrap();
    for (extra, says) in [
        (
            "metrics_listen = \"127.0.0.1:0\"\nmetrics_token_file = \"/nonexistent/token\"\n",
            "metrics token file",
        ),
        ("metric_labels = [\"node\"]\n", "metric_labels"),
        ("metrics_listen = \"127.0.0.1:x\"\n", "metrics_listen"),
    ] {
        let config = dir.path().join("configd.toml");
        std::fs::write(
            &config,
            format!(
                "listen = \"127.0.0.1:0\"\ndata_dir = \"{}\"\n{extra}",
                dir.path().join("data").display()
            ),
        )
        .unwrap();
        let out = command("monit-configd", dir.path())
            .arg("--config")
            .arg(&config)
            .arg("run")
            .output()
            .unwrap();
        assert!(!out.status.success(), "{extra}");
        let err = stderr(&out);
        assert!(err.contains(says), "{extra}: {err}");
    }
}

#[test]
fn plain_http_only_with_tls_off_on_loopback() {
    use std::io::{Read, Write};
    let fleet = Fleet::start_with(
        "tls = false\nheartbeat_interval = \"200ms\"\nnode_dead_after = \"1s\"\nmetrics_listen = \"127.0.0.1:0\"\n",
    );
    let addr = std::fs::read_to_string(fleet.data_dir.join("metrics.addr"))
        .unwrap()
        .trim()
        .to_string();
    let mut tcp = std::net::TcpStream::connect(&addr).unwrap();
    tcp.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    tcp.write_all(b"GET /metrics HTTP/1.0\r\n\r\n").unwrap();
    let mut answer = String::new();
    tcp.read_to_string(&mut answer).unwrap();
    assert!(answer.starts_with("HTTP/1.1 200 OK\r\n"), "{answer}");
    assert!(
        answer.contains("Content-Type: text/plain; version=0.0.4"),
        "{answer}"
    );
    let body = answer.split_once("\r\n\r\n").unwrap().1;
    let (ok, said) = promtool_check(body);
    assert!(ok, "{said}");
    assert_eq!(samples(body)["monit_nodes"], 0.0);
    // With tls = false, metrics_listen must be loopback too.
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("configd.toml");
    std::fs::write(
        &config,
        "listen = \"127.0.0.1:0\"\ntls = false\nmetrics_listen = \"0.0.0.0:9474\"\n",
    )
    .unwrap();
    let out = command("monit-configd", dir.path())
        .arg("--config")
        .arg(&config)
        .arg("check-config")
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(stderr(&out).contains("metrics_listen"), "{}", stderr(&out));
}
