//! The example configs in config/ are valid and say what they claim.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;

use monit::config::{ConfigdConfig, NodedConfig};

fn read(name: &str) -> (std::path::PathBuf, String) {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("config")
        .join(name);
    let text = std::fs::read_to_string(&path).unwrap();
    (path, text)
}

#[test]
fn configd_example_parses() {
    let (path, text) = read("configd.toml");
    let c = ConfigdConfig::from_str(&path, &text).unwrap();
    assert_eq!(c.listen.to_string(), "127.0.0.1:7400");
    assert_eq!(c.tokens_file, Path::new("/var/lib/monit/tokens.toml"));
    assert_eq!(c.node_dead_after, std::time::Duration::from_secs(3));
    assert!(c.inventory.contains_key("zone"));
    assert_eq!(c.metrics_listen.unwrap().to_string(), "127.0.0.1:9474");
    assert_eq!(c.metric_labels, ["role"]);
    assert_eq!(c.max_transfer_size, 4 << 30);
    let central: Vec<&str> = c
        .central_checks
        .iter()
        .map(|r| r.spec.name.as_str())
        .collect();
    assert_eq!(central, ["disk-root", "http"]);
    assert_eq!(c.central_checks[0].spec.retry_interval.as_secs(), 15);
}

#[test]
fn example_runbooks_load_with_the_example_configd() {
    let (path, text) = read("configd.toml");
    let (_, runbooks) = read("ops/runbooks.toml");
    let c = ConfigdConfig::from_str(&path, &format!("{text}\n{runbooks}")).unwrap();
    let names: Vec<String> = c.runbooks.iter().map(|r| r.signature()).collect();
    assert_eq!(
        names,
        [
            "move-zone <zone:key zone> <dst:node>",
            "merge-zones <target:key zone> <zones:keys zone>..."
        ]
    );
    // Without merged_into declared, check-config names the attribute.
    let text = text.replace(", merged_into = \"int\"", "");
    let err = ConfigdConfig::from_str(&path, &format!("{text}\n{runbooks}"))
        .unwrap_err()
        .to_string();
    assert!(err.contains("merged_into"), "{err}");
}

#[test]
fn noded_example_parses() {
    let (path, text) = read("noded.toml");
    let c = NodedConfig::from_str(&path, &text).unwrap();
    assert_eq!(c.name, "web-1");
    assert_eq!(c.labels["role"], "web");
    assert!(c.accept_checks);
    assert_eq!(c.plugin_dirs.len(), 3);
    // Commented out: transfers are off unless asked for.
    assert_eq!(c.transfer_dir, None);
    assert!(text.contains("# transfer_dir = \"/var/lib/monit/transfer\""));
    let names: Vec<&str> = c.commands.iter().map(|c| c.spec.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "open-zone",
            "change-zone-time",
            "archive-zone",
            "restore-zone"
        ]
    );
}

#[test]
fn client_example_parses() {
    let (path, text) = read("client.toml");
    let c: monit::config::ClientConfig = monit::config::parse_toml(&path, &text).unwrap();
    assert_eq!(c.server.as_deref(), Some("127.0.0.1:7400"));
}

#[test]
fn systemd_units_run_what_exists() {
    for (unit, bin) in [
        ("monit-configd.service", "monit-configd"),
        ("monit-noded.service", "monit-noded"),
    ] {
        let path = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("config/systemd")
            .join(unit);
        let text = std::fs::read_to_string(path).unwrap();
        assert!(text.contains("Type=notify"), "{unit}");
        assert!(
            text.contains("ExecReload=/bin/kill -HUP $MAINPID"),
            "{unit}"
        );
        assert!(
            text.contains(&format!("ExecStart=/usr/bin/{bin} --config /etc/monit/")),
            "{unit}"
        );
        assert!(text.contains("check-config"), "{unit}");
        assert!(text.contains("NoNewPrivileges=yes"), "{unit}");
    }
}
