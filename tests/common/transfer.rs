//! A world for file transfers: configd in this process (so a test or the
//! benchmark calls `configd::transfer::copy` and reads configd's memory
//! from /proc/self), real `monit-noded` processes, each with its own
//! `transfer_dir`, TLS on as in production.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use monit::configd::transfer::{
    self, TransferError, TransferProgress, TransferRequest, Transferred,
};
use monit::configd::{Configd, Shared};
use tokio_util::sync::CancellationToken;

use super::{Fleet, Proc};

pub struct World {
    pub fleet: Fleet,
    pub shared: Arc<Shared>,
    shutdown: CancellationToken,
}

impl Drop for World {
    fn drop(&mut self) {
        self.shutdown.cancel();
    }
}

impl World {
    /// configd in-process on 127.0.0.1:0, with tokens for `nodes`;
    /// `config_extra` goes into its configd.toml.
    pub async fn start(config_extra: &str, nodes: &[&str]) -> World {
        let fleet = Fleet::without_configd(config_extra);
        for n in nodes {
            fleet.node_token(n);
        }
        World::start_in(fleet).await
    }

    async fn start_in(mut fleet: Fleet) -> World {
        let path = fleet.write_config("127.0.0.1:0");
        let config = monit::config::ConfigdConfig::load(&monit::config::ConfigdOverrides {
            config: Some(path),
            ..Default::default()
        })
        .unwrap();
        assert!(config.tls.is_some(), "TLS on, as in production");
        let shutdown = CancellationToken::new();
        let configd = Configd::bind(config, shutdown.clone()).await.unwrap();
        fleet.addr = configd.local_addr().unwrap().to_string();
        let shared = configd.shared.clone();
        tokio::spawn(configd.serve(None));
        World {
            fleet,
            shared,
            shutdown,
        }
    }

    /// `name`'s transfer_dir (created).
    pub fn dir(&self, name: &str) -> PathBuf {
        let d = self.fleet.path().join(format!("{name}.xfer"));
        std::fs::create_dir_all(&d).unwrap();
        d
    }

    /// Starts node `name`, with its transfer_dir unless `with_dir` is false,
    /// and waits until configd has its link.
    pub async fn node(&self, name: &str, with_dir: bool) -> Proc {
        let token = self.fleet.node_token(name);
        let top = if with_dir {
            format!("transfer_dir = \"{}\"\n", self.dir(name).display())
        } else {
            String::new()
        };
        let proc = self.fleet.node_top(name, &token, &top, &[], "", &[]);
        self.wait_link(name).await;
        proc
    }

    /// Waits (30 s at most) until node `name` is connected.
    pub async fn wait_link(&self, name: &str) {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
        while self
            .shared
            .registry()
            .get(name)
            .and_then(|s| s.link())
            .is_none()
        {
            assert!(
                tokio::time::Instant::now() < deadline,
                "node {name} did not connect"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Copies and returns the result with the last progress seen.
    pub async fn copy(
        &self,
        src: (&str, &str),
        dst: (&str, &str),
    ) -> (Result<Transferred, TransferError>, TransferProgress) {
        let (tx, rx) = tokio::sync::watch::channel(TransferProgress::default());
        let r = transfer::copy(
            &self.shared,
            request(src, dst),
            tx,
            CancellationToken::new(),
        )
        .await;
        let last = *rx.borrow();
        (r, last)
    }
}

pub fn request(src: (&str, &str), dst: (&str, &str)) -> TransferRequest {
    TransferRequest {
        src_node: src.0.into(),
        src_path: src.1.into(),
        dst_node: dst.0.into(),
        dst_path: dst.1.into(),
        overwrite: false,
    }
}

/// Writes `len` pseudo-random bytes (xorshift: fast, incompressible
/// enough, never sparse) to `path`, 1 MiB at a time.
pub fn random_file(path: &Path, len: u64, seed: u64) {
    use std::io::Write;
    let mut out = std::io::BufWriter::new(std::fs::File::create(path).unwrap());
    let mut x = seed | 1;
    let mut buf = vec![0u8; 1 << 20];
    let mut left = len;
    while left > 0 {
        for word in buf.chunks_exact_mut(8) {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            word.copy_from_slice(&x.to_le_bytes());
        }
        let n = left.min(buf.len() as u64) as usize;
        out.write_all(&buf[..n]).unwrap();
        left -= n as u64;
    }
    out.flush().unwrap();
}

/// SHA-256 of a file, hex.
pub fn sha256_file(path: &Path) -> String {
    use sha2::{Digest, Sha256};
    use std::io::Read;
    let mut f = std::fs::File::open(path).unwrap();
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = f.read(&mut buf).unwrap();
        if n == 0 {
            break;
        }
        h.update(&buf[..n]);
    }
    hex::encode(h.finalize())
}

/// Every entry under `dir`, relative, sorted (to show what is left).
pub fn listing(dir: &Path) -> Vec<String> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap().flatten() {
            let p = e.path();
            out.push(p.strip_prefix(dir).unwrap().display().to_string());
            if e.file_type().unwrap().is_dir() {
                stack.push(p);
            }
        }
    }
    out.sort();
    out
}
