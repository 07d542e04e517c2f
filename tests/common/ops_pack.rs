//! The example ops pack (config/ops) for tests: its scripts where they
//! are in the source tree, its zone root a sandbox directory.

use std::path::{Path, PathBuf};

/// config/ops in the source tree.
pub fn ops_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("config/ops")
}

/// The pack's `[[command]]` entries with the sandbox `root`.
pub fn pack(root: &Path) -> String {
    let text = std::fs::read_to_string(ops_dir().join("commands.toml")).unwrap();
    text.replace("/etc/monit/ops", ops_dir().to_str().unwrap())
        .replace("/srv/game", root.to_str().unwrap())
}

/// A zone root for `node` under `dir`, with a template zone.
pub fn zone_root(dir: &Path, node: &str) -> PathBuf {
    let r = dir.join(format!("{node}-game"));
    std::fs::create_dir_all(r.join("template/conf")).unwrap();
    std::fs::write(r.join("template/conf/game.ini"), "zone=TEMPLATE\n").unwrap();
    r
}
