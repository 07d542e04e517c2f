//! A zone fleet for runbook tests and benches: configd with the example
//! runbooks, three real noded with the example pack (config/ops) on their
//! own zone roots and transfer dirs, zones with data on disk and in the
//! inventory.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde_json::Value;
use sha2::{Digest, Sha256};

use super::ops_pack::ops_dir;
use super::{stderr, Fleet, Proc};

pub const NODES: [&str; 3] = ["web-1", "web-2", "web-3"];

fn inventory_kinds() -> String {
    "[inventory.zone]
key = \"int\"
attributes = { domain = \"string\", group = \"int\", state = \"new|live|archived\", db = \"ip\", dbc = \"ip\", merged_into = \"int\" }
defaults = { group = \"{key}\" }
"
    .to_string()
}

pub struct World {
    pub fleet: Fleet,
    pub admin: PathBuf,
    pub op: PathBuf,
    pub nodes: BTreeMap<&'static str, Proc>,
    /// Every command runs `/bin/true` instead of its script (benches:
    /// what monit itself costs per step).
    noop: bool,
}

/// Which zones each node hosts.
pub type Layout<'a> = &'a [(&'static str, &'a [u64])];

/// 101-107 on web-1, 201-207 on web-2, 301-306 on web-3 (20 zones).
pub const TWENTY: Layout = &[
    ("web-1", &[101, 102, 103, 104, 105, 106, 107]),
    ("web-2", &[201, 202, 203, 204, 205, 206, 207]),
    ("web-3", &[301, 302, 303, 304, 305, 306]),
];

impl World {
    pub fn root(&self, node: &str) -> PathBuf {
        self.fleet.path().join(format!("{node}-game"))
    }

    pub fn xfer(&self, node: &str) -> PathBuf {
        self.fleet.path().join(format!("{node}-xfer"))
    }

    pub fn start_node(&mut self, node: &'static str) {
        let server = self.fleet.addr.clone();
        self.start_node_via(node, &server);
    }

    pub fn start_node_via(&mut self, node: &'static str, server: &str) {
        let mut pack = std::fs::read_to_string(ops_dir().join("commands.toml")).unwrap();
        if self.noop {
            pack = pack
                .lines()
                .map(|l| match l.starts_with("argv = ") {
                    true => "argv = [\"/bin/true\"]",
                    false => l,
                })
                .collect::<Vec<_>>()
                .join("\n");
        }
        let pack = pack
            .replace("/etc/monit/ops", ops_dir().to_str().unwrap())
            .replace("/srv/game", self.root(node).to_str().unwrap())
            .replace("/var/lib/monit/transfer", self.xfer(node).to_str().unwrap());
        let extra = format!(
            "{pack}\n[[command]]\nname = \"pause\"\nargv = [\"/bin/sleep\", \"{{secs}}\"]\nargs = [{{ name = \"secs\", type = \"string\", pattern = \"[0-9]+\" }}]\ntimeout = \"60s\"\n"
        );
        let token = self.fleet.node_token(node);
        let top = format!("transfer_dir = \"{}\"\n", self.xfer(node).display());
        let proc = self
            .fleet
            .node_via(node, &token, server, &top, &[], &extra, &[]);
        self.nodes.insert(node, proc);
    }

    /// Three nodes with the zones of `layout`, each live with a directory
    /// of data (50 kB, incompressible); configd.toml has the example
    /// runbooks and `extra`.
    pub fn start(layout: Layout, extra: &str, noop: bool) -> World {
        let runbooks = std::fs::read_to_string(ops_dir().join("runbooks.toml")).unwrap();
        let fleet = Fleet::start_with(&format!(
            "heartbeat_interval = \"200ms\"\nnode_dead_after = \"2s\"\n{}\n{runbooks}\n{extra}",
            inventory_kinds()
        ));
        let admin = fleet.token("root", "admin");
        let op = fleet.token("alice", "operator");
        let mut w = World {
            fleet,
            admin,
            op,
            nodes: BTreeMap::new(),
            noop,
        };
        let mut csv = String::from("kind,key,node,state\n");
        for node in NODES {
            std::fs::create_dir_all(w.xfer(node)).unwrap();
            let zones = layout
                .iter()
                .find(|(n, _)| *n == node)
                .map(|(_, z)| *z)
                .unwrap_or(&[]);
            for &zone in zones {
                let dir = w.root(node).join(format!("s{zone}"));
                std::fs::create_dir_all(dir.join("conf")).unwrap();
                std::fs::write(dir.join("conf/game.ini"), format!("zone={zone}\n")).unwrap();
                // Incompressible, so the tarball that moves is as big.
                let mut x: u64 = 0x9E37_79B9_7F4A_7C15 ^ zone;
                let data: Vec<u8> = (0..50_000)
                    .map(|_| {
                        x ^= x << 13;
                        x ^= x >> 7;
                        x ^= x << 17;
                        (x >> 24) as u8
                    })
                    .collect();
                std::fs::write(dir.join("players.db"), data).unwrap();
                csv.push_str(&format!("zone,{zone},{node},live\n"));
            }
            w.start_node(node);
        }
        for node in NODES {
            w.fleet.wait_state(node, "up", Duration::from_secs(20));
        }
        let file = w.fleet.path().join("zones.csv");
        std::fs::write(&file, csv).unwrap();
        let out = w
            .fleet
            .cli_as(&w.admin, &["inventory", "import", file.to_str().unwrap()]);
        assert!(out.status.success(), "{}", stderr(&out));
        w
    }

    pub fn cli_op(&self, args: &[&str]) -> std::process::Output {
        self.fleet.cli_as(&self.op, args)
    }

    pub fn inventory(&self) -> Vec<Value> {
        let out = self.fleet.cli(&["query", "inventory", "-o", "json"]);
        assert!(out.status.success(), "{}", stderr(&out));
        serde_json::from_slice(&out.stdout).unwrap()
    }

    pub fn zone(&self, key: u64) -> Value {
        self.inventory()
            .into_iter()
            .find(|i| i["key"].to_string().trim_matches('"') == key.to_string())
            .unwrap()
    }

    /// Every file under every node's zone root and transfer dir, with its
    /// SHA-256.
    pub fn disk(&self) -> BTreeMap<String, String> {
        let mut out = BTreeMap::new();
        for node in NODES {
            for base in [self.root(node), self.xfer(node)] {
                walk(&base, &base, node, &mut out);
            }
        }
        out
    }

    pub fn job(&self, id: u64) -> Value {
        let out = self
            .fleet
            .cli(&["job", "show", &id.to_string(), "-o", "json"]);
        assert!(out.status.success(), "{}", stderr(&out));
        let v: Value = serde_json::from_slice(&out.stdout).unwrap();
        match v {
            Value::Array(mut a) => a.remove(0),
            v => v,
        }
    }

    pub fn last_job(&self) -> Value {
        let out = self.fleet.cli(&["query", "jobs", "-o", "json"]);
        let jobs: Vec<Value> = serde_json::from_slice(&out.stdout).unwrap();
        let id = jobs
            .iter()
            .map(|j| j["id"].as_u64().unwrap())
            .max()
            .unwrap();
        self.job(id)
    }
}

fn walk(base: &Path, dir: &Path, node: &str, out: &mut BTreeMap<String, String>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for e in entries {
        let e = e.unwrap();
        let path = e.path();
        let rel = format!(
            "{node}:{}:{}",
            base.file_name().unwrap().to_string_lossy(),
            path.strip_prefix(base).unwrap().display()
        );
        if e.file_type().unwrap().is_dir() {
            out.insert(rel, "dir".into());
            walk(base, &path, node, out);
        } else {
            let bytes = std::fs::read(&path).unwrap_or_default();
            out.insert(rel, hex::encode(Sha256::digest(&bytes)));
        }
    }
}

/// The files of `dir` relative to it, with their SHA-256.
pub fn tree(dir: &Path) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    walk(dir, dir, "", &mut out);
    out.into_iter()
        .map(|(k, v)| (k.splitn(3, ':').nth(2).unwrap().to_string(), v))
        .collect()
}
