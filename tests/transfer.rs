//! File transfer between nodes through configd (issue 14, item 4):
//! configd in this process, two real `monit-noded` processes with their
//! own `transfer_dir`, TLS on. A copy is byte for byte; paths that leave
//! transfer_dir, a node without one, a file over the cap and a missing
//! file are refused with a line naming the node; a destination killed
//! mid-stream or a cancelled copy leaves nothing at the destination.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::Duration;

use common::transfer::{listing, random_file, request, sha256_file, World};
use monit::configd::transfer::{self, TransferError, TransferProgress};
use tokio_util::sync::CancellationToken;

const QUICK: &str = "heartbeat_interval = \"200ms\"\nnode_dead_after = \"1s\"\n";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_file_is_copied_byte_for_byte() {
    let w = World::start(QUICK, &["web-1", "web-2"]).await;
    let _a = w.node("web-1", true).await;
    let _b = w.node("web-2", true).await;
    std::fs::create_dir(w.dir("web-1").join("in")).unwrap();
    std::fs::create_dir(w.dir("web-2").join("got")).unwrap();
    // Not a whole number of chunks.
    let src = w.dir("web-1").join("in/zone-101.tar");
    let len = 6 * 1024 * 1024 + 12345;
    random_file(&src, len, 101);
    let want = sha256_file(&src);

    let (got, progress) = w
        .copy(("web-1", "in/zone-101.tar"), ("web-2", "got/zone-101.tar"))
        .await;
    let got = got.unwrap();
    assert_eq!(got.bytes, len);
    assert_eq!(got.sha256, want);
    assert_eq!(
        progress,
        TransferProgress {
            bytes: len,
            total: len
        }
    );
    let dst = w.dir("web-2").join("got/zone-101.tar");
    assert_eq!(sha256_file(&dst), want);
    assert_eq!(std::fs::read(&dst).unwrap(), std::fs::read(&src).unwrap());
    assert_eq!(listing(&w.dir("web-2")), ["got", "got/zone-101.tar"]);

    // An existing destination is not overwritten unless asked.
    random_file(&src, 1000, 7);
    let e = w
        .copy(("web-1", "in/zone-101.tar"), ("web-2", "got/zone-101.tar"))
        .await
        .0
        .unwrap_err();
    assert!(
        e.to_string().contains("web-2") && e.to_string().contains("already exists"),
        "{e}"
    );
    assert_eq!(sha256_file(&dst), want);
    let mut again = request(("web-1", "in/zone-101.tar"), ("web-2", "got/zone-101.tar"));
    again.overwrite = true;
    let (tx, _rx) = tokio::sync::watch::channel(TransferProgress::default());
    let t = transfer::copy(&w.shared, again, tx, CancellationToken::new())
        .await
        .unwrap();
    assert_eq!(t.bytes, 1000);
    assert_eq!(std::fs::read(&dst).unwrap(), std::fs::read(&src).unwrap());

    // An empty file, the other way round.
    std::fs::write(w.dir("web-2").join("empty"), b"").unwrap();
    let t = w
        .copy(("web-2", "empty"), ("web-1", "empty"))
        .await
        .0
        .unwrap();
    assert_eq!(t.bytes, 0);
    assert_eq!(std::fs::read(w.dir("web-1").join("empty")).unwrap(), b"");

    // One node is both ends: refused, clearly.
    let e = w
        .copy(("web-1", "in/zone-101.tar"), ("web-1", "copy"))
        .await
        .0
        .unwrap_err();
    assert_eq!(
        e,
        TransferError::SameNode {
            node: "web-1".into()
        }
    );
    // A node that is not connected.
    let e = w.copy(("web-9", "x"), ("web-1", "x")).await.0.unwrap_err();
    assert_eq!(e.to_string(), "node `web-9` is not connected");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn paths_leaving_transfer_dir_are_refused() {
    let w = World::start(QUICK, &["web-1", "web-2"]).await;
    let _a = w.node("web-1", true).await;
    let _b = w.node("web-2", true).await;
    let outside = w.fleet.path().join("outside");
    std::fs::create_dir(&outside).unwrap();
    std::fs::write(outside.join("secret"), b"secret").unwrap();
    let src_dir = w.dir("web-1");
    std::fs::write(src_dir.join("ok"), b"fine").unwrap();
    std::os::unix::fs::symlink(outside.join("secret"), src_dir.join("link")).unwrap();
    std::os::unix::fs::symlink(&outside, src_dir.join("out")).unwrap();
    std::os::unix::fs::symlink(&outside, w.dir("web-2").join("out")).unwrap();

    for (path, says) in [
        ("../outside/secret", "`..`"),
        ("/etc/passwd", "absolute"),
        ("link", "symbolic link"),
        ("out/secret", "outside transfer_dir"),
        ("", "empty path"),
        ("a//b", "plain names"),
    ] {
        let e = w.copy(("web-1", path), ("web-2", "x")).await.0.unwrap_err();
        let line = e.to_string();
        assert!(
            matches!(e, TransferError::Source { .. })
                && line.contains("node `web-1`")
                && line.contains(says),
            "{path}: {line}"
        );
        assert!(!line.contains('\n'), "{line}");
    }
    for (path, says) in [
        ("../x", "`..`"),
        ("/tmp/x", "absolute"),
        ("out/x", "outside transfer_dir"),
        ("missing/x", "does not exist"),
        (".monit-part-x", "temporary file"),
    ] {
        let e = w
            .copy(("web-1", "ok"), ("web-2", path))
            .await
            .0
            .unwrap_err();
        let line = e.to_string();
        assert!(
            matches!(e, TransferError::Destination { .. })
                && line.contains("node `web-2`")
                && line.contains(says),
            "{path}: {line}"
        );
    }
    // Nothing was written outside, nothing left inside.
    assert_eq!(listing(&outside), ["secret"]);
    assert_eq!(listing(&w.dir("web-2")), ["out"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_transfer_dir_no_transfers() {
    let w = World::start(QUICK, &["web-1", "web-2"]).await;
    let _a = w.node("web-1", false).await;
    let _b = w.node("web-2", true).await;
    std::fs::write(w.dir("web-2").join("f"), b"data").unwrap();
    let e = w.copy(("web-1", "f"), ("web-2", "g")).await.0.unwrap_err();
    assert!(
        e.to_string()
            .starts_with("node `web-1` refused to send `f`: no transfer_dir"),
        "{e}"
    );
    let e = w.copy(("web-2", "f"), ("web-1", "g")).await.0.unwrap_err();
    assert!(
        e.to_string()
            .starts_with("node `web-1` refused to write `g`: no transfer_dir"),
        "{e}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn over_the_cap_is_refused_before_anything_is_written() {
    let w = World::start(
        &format!("{QUICK}max_transfer_size = \"1MiB\"\n"),
        &["web-1", "web-2"],
    )
    .await;
    let _a = w.node("web-1", true).await;
    let _b = w.node("web-2", true).await;
    random_file(&w.dir("web-1").join("big"), (1 << 20) + 1, 3);
    random_file(&w.dir("web-1").join("fits"), 1 << 20, 4);
    let (r, progress) = w.copy(("web-1", "big"), ("web-2", "big")).await;
    let e = r.unwrap_err().to_string();
    assert!(
        e.contains("node `web-1`")
            && e.contains("1048577 bytes")
            && e.contains("max_transfer_size"),
        "{e}"
    );
    assert_eq!(progress, TransferProgress::default(), "no byte moved");
    assert!(listing(&w.dir("web-2")).is_empty());
    w.copy(("web-1", "fits"), ("web-2", "fits"))
        .await
        .0
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_missing_source_file_is_named() {
    let w = World::start(QUICK, &["web-1", "web-2"]).await;
    let _a = w.node("web-1", true).await;
    let _b = w.node("web-2", true).await;
    let e = w
        .copy(("web-1", "zone-7.tar"), ("web-2", "zone-7.tar"))
        .await
        .0
        .unwrap_err();
    assert_eq!(
        e.to_string(),
        "node `web-1` refused to send `zone-7.tar`: no file `zone-7.tar` in transfer_dir"
    );
    assert!(listing(&w.dir("web-2")).is_empty());
}

/// Starts a copy of `src` on web-1 to web-2 and waits until some bytes
/// have reached web-2.
async fn copy_under_way(
    w: &World,
    cancel: CancellationToken,
) -> tokio::task::JoinHandle<Result<transfer::Transferred, TransferError>> {
    let (tx, mut rx) = tokio::sync::watch::channel(TransferProgress::default());
    let shared = w.shared.clone();
    let task = tokio::spawn(async move {
        transfer::copy(
            &shared,
            request(("web-1", "big"), ("web-2", "big")),
            tx,
            cancel,
        )
        .await
    });
    tokio::time::timeout(Duration::from_secs(30), async {
        while rx.borrow_and_update().bytes == 0 {
            rx.changed().await.unwrap();
        }
    })
    .await
    .expect("no progress within 30 s");
    task
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_destination_killed_mid_stream_keeps_nothing() {
    let w = World::start(QUICK, &["web-1", "web-2"]).await;
    let _a = w.node("web-1", true).await;
    let mut b = w.node("web-2", true).await;
    random_file(&w.dir("web-1").join("big"), 64 << 20, 9);

    let task = copy_under_way(&w, CancellationToken::new()).await;
    b.kill9();
    let e = tokio::time::timeout(Duration::from_secs(30), task)
        .await
        .expect("copy did not end")
        .unwrap()
        .unwrap_err();
    assert!(
        matches!(&e, TransferError::Lost { node, .. } if node == "web-2"),
        "{e}"
    );
    // Killed, noded could not clean up: its temporary file is there.
    let left = listing(&w.dir("web-2"));
    assert!(
        left.len() == 1 && left[0].starts_with(".monit-part-"),
        "{left:?}"
    );
    // configd saw it go; started again, it removes the file before it
    // serves.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while w
        .shared
        .registry()
        .get("web-2")
        .and_then(|s| s.link())
        .is_some()
    {
        assert!(tokio::time::Instant::now() < deadline, "web-2 still linked");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let _b = w.node("web-2", true).await;
    assert!(listing(&w.dir("web-2")).is_empty());
    // The source is untouched and can be sent again.
    let t = w.copy(("web-1", "big"), ("web-2", "big")).await.0.unwrap();
    assert_eq!(t.sha256, sha256_file(&w.dir("web-2").join("big")));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cancelled_copy_keeps_nothing() {
    let w = World::start(QUICK, &["web-1", "web-2"]).await;
    let _a = w.node("web-1", true).await;
    let _b = w.node("web-2", true).await;
    random_file(&w.dir("web-1").join("big"), 64 << 20, 11);
    let cancel = CancellationToken::new();
    let task = copy_under_way(&w, cancel.clone()).await;
    cancel.cancel();
    let e = tokio::time::timeout(Duration::from_secs(30), task)
        .await
        .expect("copy did not end")
        .unwrap()
        .unwrap_err();
    assert_eq!(e, TransferError::Cancelled);
    // The live node removes its temporary file once it hears.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while !listing(&w.dir("web-2")).is_empty() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "left: {:?}",
            listing(&w.dir("web-2"))
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_configd_sends_transfer_requests() {
    let w = World::start(QUICK, &[]).await;
    let token =
        monit::auth::Token::parse(&std::fs::read_to_string(&w.fleet.viewer).unwrap()).unwrap();
    let client = monit::net::client::Client::connect(&w.fleet.endpoint(&token), "peer")
        .await
        .unwrap();
    let e = client
        .one(monit::net::proto::RequestBody::ReadFile(
            monit::net::proto::ReadFile {
                path: "x".into(),
                max_size: 1,
            },
        ))
        .await
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("file transfer") && e.contains("forbidden"),
        "{e}"
    );
}
