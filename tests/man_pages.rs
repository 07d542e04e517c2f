//! The man pages in man/ match the code, and man(1) reads every one of
//! them without a warning. Regenerate after changing a command line with
//! `MONIT_BLESS=1 cargo test --test man_pages`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;
use std::process::Command;

fn man_dir() -> &'static Path {
    Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/man"))
}

#[test]
fn committed_pages_match_the_code() {
    let bless = std::env::var_os("MONIT_BLESS").is_some();
    for page in monit::man::pages() {
        let path = man_dir().join(&page.file_name);
        if bless {
            std::fs::write(&path, &page.text).unwrap();
            continue;
        }
        let committed = std::fs::read_to_string(&path).unwrap_or_else(|_| {
            panic!(
                "{} is missing: run MONIT_BLESS=1 cargo test --test man_pages",
                path.display()
            )
        });
        assert!(
            committed == page.text,
            "{} drifted from the code: run MONIT_BLESS=1 cargo test --test man_pages and commit",
            page.file_name
        );
    }
}

#[test]
fn every_page_reads_without_warnings() {
    let mut pages: Vec<_> = std::fs::read_dir(man_dir())
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| {
            p.extension()
                .is_some_and(|e| e == "1" || e == "5" || e == "8")
        })
        .collect();
    pages.sort();
    assert!(
        pages.len() >= 5,
        "expected the four binaries' pages and monit.toml.5: {pages:?}"
    );
    for page in pages {
        let out = Command::new("man")
            .args(["--warnings", "-E", "UTF-8", "-l"])
            .arg(&page)
            .env("MANWIDTH", "80")
            .env("MAN_KEEP_FORMATTING", "0")
            .output()
            .expect("man(1) is needed: apt-get install man-db (scripts/test installs it)");
        let warnings = String::from_utf8_lossy(&out.stderr);
        assert!(
            out.status.success(),
            "man failed on {}: {warnings}",
            page.display()
        );
        assert!(warnings.trim().is_empty(), "{}: {warnings}", page.display());
        // Drop overstrike formatting (X\x08X) and SGR escapes.
        let raw = String::from_utf8_lossy(&out.stdout);
        let mut text = String::new();
        for c in raw.chars() {
            if c == '\u{8}' {
                text.pop();
            } else {
                text.push(c);
            }
        }
        for section in ["EXAMPLES", "FILES", "ENVIRONMENT", "EXIT STATUS"] {
            assert!(
                text.contains(section),
                "{} has no {section} section",
                page.display()
            );
        }
    }
}

#[test]
fn completions_for_every_shell() {
    for bin in [
        env!("CARGO_BIN_EXE_monit-configd"),
        env!("CARGO_BIN_EXE_monit-noded"),
    ] {
        for shell in ["bash", "zsh", "fish"] {
            let out = Command::new(bin)
                .args(["completions", shell])
                .output()
                .unwrap();
            assert!(out.status.success(), "{bin} completions {shell}");
            let text = String::from_utf8_lossy(&out.stdout);
            assert!(text.contains("check-config"), "{bin} {shell}: {text:.200}");
        }
    }
    let out = Command::new(env!("CARGO_BIN_EXE_monit-cli"))
        .args(["completions", "bash"])
        .output()
        .unwrap();
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stdout).contains("query"));
}

#[test]
fn clap_definitions_are_consistent() {
    use clap::CommandFactory;
    monit::configd::cli::ConfigdCli::command().debug_assert();
    monit::noded::cli::NodedCli::command().debug_assert();
    monit::cli::args::Cli::command().debug_assert();
    monit::tui::args::TuiCli::command().debug_assert();
}

#[test]
fn flags_render_without_a_value_placeholder() {
    let cli = monit::man::pages()
        .into_iter()
        .find(|p| p.file_name == "monit-cli.1")
        .unwrap();
    for flag in ["sticky", "follow", "yes"] {
        let placeholder = format!("\\-\\-{flag} {}", flag.to_uppercase());
        assert!(
            !cli.text.contains(&placeholder),
            "{placeholder} in monit-cli.1"
        );
        assert!(
            cli.text.contains(&format!("[\\-\\-{flag}]")),
            "--{flag} listed"
        );
    }
    let tui = monit::man::pages()
        .into_iter()
        .find(|p| p.file_name == "monit-tui.1")
        .unwrap();
    assert!(tui.text.contains(".SH KEYS"), "monit-tui(1) lists the keys");
    for (key, _) in monit::tui::ui::HELP {
        assert!(tui.text.contains(&key.replace('-', "\\-")), "key {key}");
    }
}
