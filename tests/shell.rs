//! The binaries in a shell: completions in a real bash below the first
//! word, and output into a pipe whose reader is gone (`| head -1`) ends
//! without a panic.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::process::{Command, Stdio};

const BINARIES: [&str; 4] = ["monit-configd", "monit-noded", "monit-cli", "monit-tui"];

/// What bash completes for `line` (ending with the word being typed),
/// using the script `BIN completions bash` prints.
fn bash_complete(bin: &str, line: &str) -> Vec<String> {
    let dir = tempfile::tempdir().unwrap();
    let script = dir.path().join("completion.bash");
    let out = common::command(bin, dir.path())
        .args(["completions", "bash"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{bin} completions bash");
    std::fs::write(&script, &out.stdout).unwrap();
    let words: Vec<&str> = line.split(' ').collect();
    let cword = words.len() - 1;
    let prev = if cword > 0 { words[cword - 1] } else { "" };
    // As bash calls a completion function: COMP_WORDS/COMP_CWORD set,
    // arguments command, current word, previous word.
    let driver = format!(
        "source '{script}'\n\
         fn=$(complete -p {bin} | sed 's/.*-F \\([^ ]*\\).*/\\1/')\n\
         COMP_WORDS=({words})\nCOMP_CWORD={cword}\nCOMP_LINE='{line}'\nCOMP_POINT=${{#COMP_LINE}}\n\
         \"$fn\" {bin} '{cur}' '{prev}'\n\
         printf '%s\\n' \"${{COMPREPLY[@]}}\"\n",
        script = script.display(),
        words = words
            .iter()
            .map(|w| format!("'{w}'"))
            .collect::<Vec<_>>()
            .join(" "),
        cur = words[cword],
    );
    let out = Command::new("bash")
        .args(["--norc", "--noprofile", "-c", &driver])
        .output()
        .expect("bash is needed");
    assert!(
        out.status.success(),
        "bash: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .filter(|l| !l.is_empty())
        .map(String::from)
        .collect()
}

#[test]
fn bash_completes_below_the_first_word() {
    assert_eq!(bash_complete("monit-cli", "monit-cli query n"), ["nodes"]);
    assert_eq!(bash_complete("monit-cli", "monit-cli q"), ["query"]);
    assert_eq!(
        bash_complete("monit-cli", "monit-cli query nodes -o c"),
        ["csv"]
    );
    assert_eq!(bash_complete("monit-cli", "monit-cli downtime l"), ["list"]);
    assert_eq!(
        bash_complete("monit-configd", "monit-configd token cr"),
        ["create"]
    );
    assert_eq!(
        bash_complete("monit-configd", "monit-configd token create web-1 --ro"),
        ["--role"]
    );
    assert_eq!(
        bash_complete("monit-noded", "monit-noded check-config --con"),
        ["--config"]
    );
    assert_eq!(bash_complete("monit-tui", "monit-tui --de"), ["--demo"]);
    assert_eq!(
        bash_complete("monit-cli", "monit-cli run open-zone 1 --forc"),
        ["--force-target"]
    );
}

/// What fish completes for `line`, using `BIN completions fish`.
fn fish_complete(bin: &str, line: &str) -> Vec<String> {
    let dir = tempfile::tempdir().unwrap();
    let script = dir.path().join("completion.fish");
    let out = common::command(bin, dir.path())
        .args(["completions", "fish"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{bin} completions fish");
    std::fs::write(&script, &out.stdout).unwrap();
    let out = Command::new("fish")
        .args(["--no-config", "-c"])
        .arg(format!(
            "source '{}'; complete -C '{line}'",
            script.display()
        ))
        .output()
        .expect("fish is needed: apt-get install fish (scripts/test installs it)");
    assert!(
        out.status.success(),
        "fish: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| l.split('\t').next().unwrap_or("").to_string())
        .collect()
}

#[test]
fn fish_completes_below_the_first_word() {
    assert_eq!(fish_complete("monit-cli", "monit-cli query n"), ["nodes"]);
    assert_eq!(fish_complete("monit-cli", "monit-cli downtime l"), ["list"]);
    assert_eq!(
        fish_complete("monit-configd", "monit-configd token cr"),
        ["create"]
    );
    assert_eq!(
        fish_complete("monit-noded", "monit-noded check-c"),
        ["check-config"]
    );
    assert_eq!(fish_complete("monit-tui", "monit-tui --de"), ["--demo"]);
}

/// What zsh completes for `line`: an interactive zsh in a zpty with
/// compinit and `BIN completions zsh` on its fpath, Tab pressed, the
/// matches caught by wrapping compadd.
fn zsh_complete(bin: &str, line: &str) -> Vec<String> {
    let dir = tempfile::tempdir().unwrap();
    let out = common::command(bin, dir.path())
        .args(["completions", "zsh"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{bin} completions zsh");
    std::fs::write(dir.path().join(format!("_{bin}")), &out.stdout).unwrap();
    let driver = format!(
        r#"zmodload zsh/zpty
zpty z zsh -f -i
zpty -w z 'PROMPT=; RPROMPT=; fpath=({dir} $fpath); autoload -U compinit; compinit -u -D'
zpty -w z 'compadd () {{ builtin compadd -O __hits "$@"; local h; for h in $__hits; do print -r -- "<hit>$h</hit>"; done; builtin compadd "$@" }}'
zpty -w z "bindkey '^I' complete-word"
zpty -n -w z $'{line}	'
out=""
integer i=0 idle=0
while (( i++ < 100 )); do
  if zpty -r -t z chunk; then out+=$chunk; idle=0
  else
    (( idle++ ))
    [[ $out == *'<hit>'[^$]* && idle -ge 3 ]] && break
    sleep 0.1
  fi
done
zpty -d z
print -r -- "$out"
"#,
        dir = dir.path().display()
    );
    let out = Command::new("zsh")
        .args(["-f", "-c", &driver])
        .output()
        .expect("zsh is needed: apt-get install zsh (scripts/test installs it)");
    let text = String::from_utf8_lossy(&out.stdout);
    let mut hits: Vec<String> = text
        .split("<hit>")
        .skip(1)
        .filter_map(|h| h.split_once("</hit>").map(|(h, _)| h.to_string()))
        .filter(|h| h != "$h")
        .collect();
    hits.sort();
    hits.dedup();
    hits
}

#[test]
fn zsh_completes_below_the_first_word() {
    assert_eq!(zsh_complete("monit-cli", "monit-cli query n"), ["nodes"]);
    assert_eq!(zsh_complete("monit-cli", "monit-cli downtime l"), ["list"]);
    assert_eq!(
        zsh_complete("monit-configd", "monit-configd token cr"),
        ["create"]
    );
    assert_eq!(
        zsh_complete("monit-noded", "monit-noded check-c"),
        ["check-config"]
    );
}

#[test]
fn zsh_and_fish_scripts_reach_subcommands() {
    for bin in BINARIES {
        for shell in ["zsh", "fish"] {
            let out = Command::new(common::bin(bin))
                .args(["completions", shell])
                .output()
                .unwrap();
            assert!(out.status.success(), "{bin} completions {shell}");
            let text = String::from_utf8_lossy(&out.stdout);
            let deep = match bin {
                "monit-cli" => "nodes",
                "monit-configd" => "revoke",
                "monit-noded" => "check-config",
                _ => "demo",
            };
            assert!(text.contains(deep), "{bin} {shell}: no `{deep}`");
        }
    }
}

/// Runs `bin args` with stdout a pipe whose read end is already closed:
/// every write fails with EPIPE.
fn into_closed_pipe(bin: &str, args: &[&str], home: &std::path::Path) -> std::process::Output {
    let (read, write) = nix::unistd::pipe().unwrap();
    drop(read);
    common::command(bin, home)
        .args(args)
        .stdout(Stdio::from(write))
        .stderr(Stdio::piped())
        .output()
        .unwrap()
}

#[test]
fn no_binary_panics_on_a_closed_pipe() {
    let dir = tempfile::tempdir().unwrap();
    let home = dir.path();
    let config = home.join("configd.toml");
    std::fs::write(
        &config,
        format!(
            "listen = \"127.0.0.1:0\"\ndata_dir = \"{}\"\n",
            home.join("data").display()
        ),
    )
    .unwrap();
    let config = config.to_str().unwrap();
    let mut runs: Vec<(&str, Vec<&str>)> = Vec::new();
    for bin in BINARIES {
        for args in [
            vec!["--help"],
            vec!["--version"],
            vec!["completions", "bash"],
            vec!["completions", "zsh"],
            vec!["completions", "fish"],
        ] {
            runs.push((bin, args));
        }
    }
    runs.push(("monit-configd", vec!["--config", config, "check-config"]));
    runs.push(("monit-configd", vec!["--config", config, "status"]));
    runs.push((
        "monit-configd",
        vec![
            "--config", config, "token", "create", "alice", "--role", "viewer",
        ],
    ));
    runs.push(("monit-configd", vec!["--config", config, "token", "list"]));
    runs.push(("monit-cli", vec!["query", "--help"]));
    for (bin, args) in runs {
        let out = into_closed_pipe(bin, &args, home);
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            !err.contains("panicked") && out.status.code().is_some_and(|c| c != 101),
            "{bin} {args:?} into a closed pipe: {:?} {err}",
            out.status
        );
        // `status` of a daemon that is not running says so with 3 (LSB).
        let expected = if args.contains(&"status") { 3 } else { 0 };
        assert_eq!(
            out.status.code(),
            Some(expected),
            "{bin} {args:?} into a closed pipe: {err}"
        );
    }
}
