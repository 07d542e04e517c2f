//! The notifiers shipped in config/notify/: the webhook as configd runs it
//! on a real problem (curl POSTing to a listener on 127.0.0.1), and the
//! mail one through a stand-in sendmail.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use common::{stderr, wait_for, Fleet};
use serde_json::Value;

fn notifier(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("config/notify")
        .join(name)
}

/// Accepts one HTTP request on `listener`, answers 200, returns its body.
fn one_post(listener: TcpListener) -> std::sync::mpsc::Receiver<(String, Vec<u8>)> {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let (stream, _) = listener.accept().unwrap();
        let mut reader = BufReader::new(stream);
        let mut head = String::new();
        let mut length = 0;
        loop {
            let mut line = String::new();
            reader.read_line(&mut line).unwrap();
            if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                length = v.trim().parse().unwrap();
            }
            if line == "\r\n" || line.is_empty() {
                break;
            }
            head.push_str(&line);
        }
        let mut body = vec![0; length];
        reader.read_exact(&mut body).unwrap();
        let mut stream = reader.into_inner();
        stream
            .write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
            .unwrap();
        let _ = tx.send((head, body));
    });
    rx
}

#[test]
fn configd_runs_the_webhook_notifier_on_a_problem() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    let posts = one_post(listener);
    let fleet = Fleet::start_with(&format!(
        "heartbeat_interval = \"200ms\"\nnode_dead_after = \"1s\"\n\
         [[notify]]\nname = \"hook\"\ncommand = [\"{}\", \"{url}\"]\nstates = [\"critical\"]\n",
        notifier("webhook.sh").display()
    ));
    let _node = fleet.node_with(
        "web-1",
        &[],
        "[[check]]\nname = \"disk\"\nfreshness = \"1h\"\nmax_attempts = 1\n",
    );
    let op = fleet.token("ops", "operator");
    wait_for(Duration::from_secs(15), "the passive check", || {
        fleet.check("web-1", "disk")
    });
    let out = fleet.cli_as(
        &op,
        &[
            "submit",
            "web-1/disk",
            "critical",
            "DISK CRITICAL - \"/\" at 99%\ttab",
        ],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let (head, body) = posts
        .recv_timeout(Duration::from_secs(15))
        .expect("the webhook was called");
    assert!(head.starts_with("POST /hook "), "{head}");
    assert!(head
        .to_ascii_lowercase()
        .contains("content-type: application/json"));
    let v: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(v["event"], "problem", "{v}");
    assert_eq!(v["node"], "web-1");
    assert_eq!(v["check"], "disk");
    assert_eq!(v["state"], "critical");
    assert_eq!(v["output"], "DISK CRITICAL - \"/\" at 99%\ttab");
}

#[test]
fn the_mail_notifier_hands_sendmail_one_message() {
    let dir = tempfile::tempdir().unwrap();
    let caught = dir.path().join("mail.txt");
    let sendmail = dir.path().join("sendmail");
    std::fs::write(
        &sendmail,
        format!(
            "#!/bin/sh\necho \"ARGS $*\" > {0}\ncat >> {0}\n",
            caught.display()
        ),
    )
    .unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&sendmail, std::fs::Permissions::from_mode(0o755)).unwrap();
    let out = Command::new(notifier("mail.sh"))
        .args(["oncall@example.com", "ops@example.com"])
        .env("SENDMAIL", &sendmail)
        .env("MONIT_EVENT", "problem")
        .env("MONIT_NODE", "web-1")
        .env("MONIT_CHECK", "load")
        .env("MONIT_STATE", "critical")
        .env("MONIT_PREVIOUS_STATE", "ok")
        .env("MONIT_OUTPUT", "LOAD CRITICAL\nsecond line")
        .env("MONIT_RENOTIFY", "1")
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let mail = std::fs::read_to_string(&caught).unwrap();
    let mut lines = mail.lines();
    assert_eq!(lines.next(), Some("ARGS -t -oi"));
    assert_eq!(
        lines.next(),
        Some("To: oncall@example.com, ops@example.com")
    );
    assert_eq!(
        lines.next(),
        Some("Subject: [monit] problem: web-1/load is critical (still)")
    );
    assert!(mail.contains("\n\nEvent:    problem\n"), "{mail}");
    assert!(mail.contains("LOAD CRITICAL\nsecond line\n"), "{mail}");
    // Without a recipient: a usage error, nothing sent.
    let out = Command::new(notifier("mail.sh")).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
}
