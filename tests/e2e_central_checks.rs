//! Checks declared once in configd.toml: `apply` rules pick the nodes,
//! a SIGHUP to configd or a node's new labels change what runs without a
//! restart, and the node keeps the last word (`accept_checks`,
//! `plugin_dirs`, a local check of the same name wins).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::path::Path;
use std::time::Duration;

use common::*;
use nix::sys::signal::Signal;
use serde_json::Value;

const DUMMY: &str = "/usr/lib/nagios/plugins/check_dummy";
const T: Duration = Duration::from_secs(20);

fn base() -> String {
    "heartbeat_interval = \"200ms\"\nnode_dead_after = \"1s\"\n".to_string()
}

fn rule(name: &str, argv: &[&str], apply: &str) -> String {
    let argv: Vec<String> = argv.iter().map(|a| format!("{a:?}")).collect();
    format!(
        "[[check]]\nname = \"{name}\"\ncommand = [{}]\ninterval = \"500ms\"\nmax_attempts = 1\napply = {apply}\n",
        argv.join(", ")
    )
}

/// Rewrites configd.toml with `extra` after the fixed keys, then SIGHUP.
fn reload_configd(fleet: &mut Fleet, extra: &str) {
    let path = fleet.path().join("configd.toml");
    let text = std::fs::read_to_string(&path).unwrap();
    let keep: String = text
        .lines()
        .take_while(|l| !l.starts_with("heartbeat_interval"))
        .map(|l| format!("{l}\n"))
        .collect();
    std::fs::write(&path, format!("{keep}{extra}")).unwrap();
    fleet.configd().signal(Signal::SIGHUP);
}

fn node(fleet: &Fleet, name: &str, top: &str, labels: &[(&str, &str)], extra: &str) -> Proc {
    let token = fleet.node_token(name);
    fleet.node_top(name, &token, top, labels, extra, &[])
}

/// Waits until `node`'s check `name` ran with an output containing `text`.
fn wait_output(fleet: &Fleet, node: &str, name: &str, text: &str) -> Value {
    fleet.wait_check(node, name, T, &format!("output `{text}`"), |c| {
        c["output"].as_str().unwrap_or("").contains(text) && c["origin"] == "central"
    })
}

/// Waits until `node` has no check `name` at all.
fn wait_gone(fleet: &Fleet, node: &str, name: &str) {
    wait_for(T, &format!("{node}/{name} to go"), || {
        fleet
            .checks()
            .iter()
            .all(|c| !(c["node"] == node && c["name"] == name))
            .then_some(())
    });
}

fn running(p: &mut Proc) -> bool {
    p.child.try_wait().unwrap().is_none()
}

#[test]
fn apply_rules_follow_configd_reloads_and_node_labels() {
    let v1 = rule(
        "web-probe",
        &[DUMMY, "0", "probe v1"],
        "{ labels = { role = \"web\" } }",
    );
    let mut fleet = Fleet::start_with(&format!("{}{v1}", base()));
    let accept = "accept_checks = true\n";
    let mut web1 = node(&fleet, "web-1", accept, &[("role", "web")], "");
    let mut web2 = node(&fleet, "web-2", accept, &[("role", "web")], "");
    let mut db1 = node(&fleet, "db-1", accept, &[("role", "db")], "");
    for n in ["web-1", "web-2", "db-1"] {
        fleet.wait_state(n, "up", T);
    }
    // Both web nodes run it; the db node does not have it.
    wait_output(&fleet, "web-1", "web-probe", "probe v1");
    let c = wait_output(&fleet, "web-2", "web-probe", "probe v1");
    assert_eq!(c["state"], "ok", "{c}");
    assert!(fleet.check("db-1", "web-probe").is_none());

    // A changed rule, SIGHUP to configd: only web-1, with the new output.
    let v2 = rule(
        "web-probe",
        &[DUMMY, "1", "probe v2"],
        "{ nodes = [\"web-1\"] }",
    );
    reload_configd(&mut fleet, &format!("{}{v2}", base()));
    let c = wait_output(&fleet, "web-1", "web-probe", "probe v2");
    assert_eq!(c["state"], "warning", "{c}");
    wait_gone(&fleet, "web-2", "web-probe");
    assert!(fleet.check("db-1", "web-probe").is_none());

    // Back to the label rule.
    let v3 = rule(
        "web-probe",
        &[DUMMY, "0", "probe v3"],
        "{ labels = { role = \"web\" } }",
    );
    reload_configd(&mut fleet, &format!("{}{v3}", base()));
    wait_output(&fleet, "web-1", "web-probe", "probe v3");
    wait_output(&fleet, "web-2", "web-probe", "probe v3");
    assert!(fleet.check("db-1", "web-probe").is_none());

    // db-1 relabelled to web (its noded.toml, SIGHUP): it runs it too.
    let config = fleet.node_config("db-1");
    let text = std::fs::read_to_string(&config).unwrap();
    std::fs::write(&config, text.replace("role = \"db\"", "role = \"web\"")).unwrap();
    db1.signal(Signal::SIGHUP);
    wait_output(&fleet, "db-1", "web-probe", "probe v3");

    // Nobody was restarted.
    for p in [&mut web1, &mut web2, &mut db1] {
        assert!(running(p), "{} exited", p.name);
    }
    let log = fleet.configd().log();
    assert!(!log.contains("panicked"), "{log}");
}

fn write_plugin(dir: &Path) -> String {
    use std::os::unix::fs::PermissionsExt;
    std::fs::create_dir_all(dir).unwrap();
    let plugin = dir.join("check_marker");
    std::fs::write(&plugin, "#!/bin/sh\ntouch \"$1\"\necho \"marker made\"\n").unwrap();
    std::fs::set_permissions(&plugin, std::fs::Permissions::from_mode(0o755)).unwrap();
    plugin.display().to_string()
}

fn refused(fleet: &Fleet, node: &str, name: &str) -> Value {
    wait_for(T, &format!("{node}/{name} refused"), || {
        fleet
            .checks()
            .into_iter()
            .find(|c| c["node"] == node && c["name"] == name && c["refused"].is_string())
    })
}

#[test]
fn the_node_keeps_the_last_word() {
    let scratch = tempfile::tempdir().unwrap();
    let plugins = scratch.path().join("plugins");
    let plugin = write_plugin(&plugins);
    let escape_marker = scratch.path().join("escaped");
    let acc_marker = scratch.path().join("acc-made");
    let noacc_marker = scratch.path().join("noacc-made");
    let escape = format!("touch {}", escape_marker.display());
    let rules = |extra: &str| {
        format!(
            "{}{}{}{}{}{extra}",
            base(),
            rule("escape", &["/bin/sh", "-c", &escape], "\"all\""),
            rule(
                "marker",
                &[&plugin, &acc_marker.display().to_string()],
                "{ nodes = [\"acc-1\"] }"
            ),
            rule(
                "marker-2",
                &[&plugin, &noacc_marker.display().to_string()],
                "{ nodes = [\"noacc-1\"] }"
            ),
            rule("shared", &[DUMMY, "0", "central shared"], "\"all\""),
        )
    };
    let mut fleet = Fleet::start_with(&rules(""));
    let dirs = format!(
        "plugin_dirs = [{:?}, {DUMMY:?}]\n",
        plugins.display().to_string()
    );
    let dirs = dirs.replace(&format!("{DUMMY:?}"), "\"/usr/lib/nagios/plugins\"");
    // acc-1 takes central checks from its plugin_dirs, and has its own
    // `shared`; noacc-1 takes none.
    let local_shared = "[[check]]\nname = \"shared\"\ncommand = [\"/usr/lib/nagios/plugins/check_dummy\", \"1\", \"local shared\"]\ninterval = \"500ms\"\nmax_attempts = 1\n";
    let _acc = node(
        &fleet,
        "acc-1",
        &format!("accept_checks = true\n{dirs}"),
        &[],
        local_shared,
    );
    let _noacc = node(&fleet, "noacc-1", &dirs, &[], "");

    // The allowed plugin runs (the mechanism works)...
    wait_output(&fleet, "acc-1", "marker", "marker made");
    assert!(acc_marker.exists());
    // ... the rest are refused, with the reason.
    let r = refused(&fleet, "acc-1", "escape");
    assert!(r["refused"].as_str().unwrap().contains("outside"), "{r}");
    assert_eq!(r["origin"], "central");
    for name in ["escape", "marker-2", "shared"] {
        let r = refused(&fleet, "noacc-1", name);
        assert!(
            r["refused"].as_str().unwrap().contains("accept_checks"),
            "{r}"
        );
    }
    // The local check of the same name wins.
    let r = refused(&fleet, "acc-1", "shared");
    assert!(r["refused"].as_str().unwrap().contains("local"), "{r}");
    let local = wait_for(T, "acc-1/shared: the local one ran", || {
        fleet.checks().into_iter().find(|c| {
            c["node"] == "acc-1"
                && c["name"] == "shared"
                && c["origin"] == "local"
                && c["output"].as_str().unwrap_or("").contains("local shared")
        })
    });
    assert_eq!(local["state"], "warning");
    // `query checks --filter` takes the new fields.
    let out = fleet.cli(&[
        "query",
        "checks",
        "-o",
        "json",
        "--filter",
        "origin=central",
        "--filter",
        "refused~outside",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let rows: Vec<Value> = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(rows.len(), 1, "{rows:?}");

    // A reload that changes another rule sends acc-1 its set again: the
    // clash is not logged again.
    reload_configd(
        &mut fleet,
        &rules(&rule("extra", &[DUMMY, "0", "extra"], "\"all\"")),
    );
    wait_output(&fleet, "acc-1", "extra", "extra");
    // Several intervals on, nothing refused has run.
    std::thread::sleep(Duration::from_secs(2));
    assert!(!escape_marker.exists(), "a refused check ran");
    assert!(
        !noacc_marker.exists(),
        "a check ran on a node without accept_checks"
    );
    let clash = |log: &str| {
        log.lines()
            .filter(|l| l.contains("refused") && l.contains("shared") && l.contains("local"))
            .count()
    };
    let configd_log = fleet.configd().log();
    assert_eq!(clash(&configd_log), 1, "{configd_log}");
    let acc_log = _acc.log();
    assert_eq!(clash(&acc_log), 1, "{acc_log}");
}

#[test]
fn check_config_counts_the_nodes_each_rule_matches() {
    let fleet = Fleet::start_with(&format!(
        "{}{}{}",
        base(),
        rule(
            "web-probe",
            &[DUMMY, "0", "x"],
            "{ labels = { role = \"web\" } }"
        ),
        rule("everywhere", &[DUMMY, "0", "x"], "\"all\""),
    ));
    let _a = node(&fleet, "cc-web-1", "", &[("role", "web")], "");
    let _b = node(&fleet, "cc-db-1", "", &[("role", "db")], "");
    fleet.wait_state("cc-web-1", "up", T);
    fleet.wait_state("cc-db-1", "up", T);
    let out = fleet
        .configd_cmd()
        .args(["check-config", "--show-matches"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(
        text.contains("web-probe") && text.contains("1 node"),
        "{text}"
    );
    assert!(
        text.contains("everywhere") && text.contains("2 nodes"),
        "{text}"
    );
    // A bad rule: non-zero, one line naming it.
    std::fs::write(
        fleet.path().join("bad.toml"),
        "[[check]]\nname = \"x\"\ncommand = [\"/bin/true\"]\napply = \"some\"\n",
    )
    .unwrap();
    let out = command("monit-configd", fleet.path())
        .arg("--config")
        .arg(fleet.path().join("bad.toml"))
        .arg("check-config")
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(stderr(&out).contains("apply"), "{}", stderr(&out));
}

#[test]
fn a_changed_central_check_keeps_its_hard_state() {
    let hard = |text: &str| {
        format!(
            "[[check]]\nname = \"flaky\"\ncommand = [{DUMMY:?}, \"2\", {text:?}]\ninterval = \"400ms\"\nmax_attempts = 3\napply = \"all\"\n"
        )
    };
    let mut fleet = Fleet::start_with(&format!("{}{}", base(), hard("down v1")));
    let _n = node(&fleet, "keep-1", "accept_checks = true\n", &[], "");
    fleet.wait_check("keep-1", "flaky", T, "a hard critical", |c| {
        c["state"] == "critical" && c["state_type"] == "hard"
    });
    reload_configd(&mut fleet, &format!("{}{}", base(), hard("down v2")));
    let c = wait_output(&fleet, "keep-1", "flaky", "down v2");
    // Not a new soft problem at attempt 1: the state went on.
    assert_eq!(c["state_type"], "hard", "{c}");
    assert_eq!(c["attempt"], 3, "{c}");
    let soft = fleet.events(&["node=keep-1", "kind=check_state"]);
    let soft_after: Vec<&Value> = soft
        .iter()
        .filter(|e| e["message"].as_str().unwrap_or("").contains("down v2"))
        .collect();
    assert!(
        soft_after.is_empty(),
        "no state change after the edit: {soft_after:?}"
    );
}
