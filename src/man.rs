//! Man pages, generated from the clap definitions (so they cannot drift
//! from `--help`) plus the sections clap does not know: COMMANDS in full,
//! EXAMPLES, FILES, ENVIRONMENT and EXIT STATUS. `tests/man_pages.rs`
//! fails when the pages committed in `man/` differ from these.

use clap::CommandFactory;
use roff::{bold, italic, roman, Roff};

/// One page: its file name (`monit-cli.1`) and roff text.
pub struct Page {
    pub file_name: String,
    pub text: String,
}

struct Extra {
    /// monit-tui's keys, as its `?` help shows them.
    keys: &'static [(&'static str, &'static str)],
    examples: &'static [(&'static str, &'static str)],
    files: &'static [(&'static str, &'static str)],
    environment: &'static [(&'static str, &'static str)],
    exit_status: &'static [(&'static str, &'static str)],
}

const DAEMON_EXIT: &[(&str, &str)] = &[
    ("0", "Success; for status, the daemon is running."),
    (
        "1",
        "Failure: a bad configuration, a missing or non-executable program, an unusable token file, a start that did not become ready or that configd refused.",
    ),
    ("2", "Usage error: bad flags or arguments."),
    ("3", "status only: the daemon is not running (LSB)."),
];

const CLIENT_EXIT: &[(&str, &str)] = &[
    ("0", "Success."),
    (
        "1",
        "The operation failed (a remote command failed, a rejected write).",
    ),
    ("2", "Usage error: bad flags, arguments or filters."),
    ("3", "Cannot connect to configd, or not authorised."),
    (
        "130",
        "monit-cli run interrupted by Ctrl-C, after cancelling its job on every node.",
    ),
];

const CLIENT_ENV: &[(&str, &str)] = &[
    ("MONIT_SERVER", "configd address, as --server."),
    ("MONIT_TOKEN_FILE", "token file, as --token-file."),
    (
        "MONIT_TOKEN",
        "the token itself (ID.SECRET), when no token file is given.",
    ),
    ("NO_COLOR", "when set, no colours."),
];

const CLIENT_FILES: &[(&str, &str)] = &[(
    "~/.config/monit/client.toml",
    "defaults for server and token_file, so neither needs typing.",
)];

fn extra(name: &str) -> Extra {
    match name {
        "monit-configd" => Extra {
            keys: &[],
            examples: &[
                (
                    "monit-configd token create web-1 --role node --out /etc/monit/node.token",
                    "Create a node token and write it to a private file.",
                ),
                ("monit-configd token create alice --role operator", "Create an operator token; it is printed once."),
                ("monit-configd --config /etc/monit/configd.toml run", "Serve in the foreground (systemd)."),
                ("monit-configd start && monit-configd status", "Serve in the background and check on it."),
                ("monit-configd check-config --config configd.toml", "Validate a file before a reload."),
            ],
            files: &[
                ("/etc/monit/configd.toml", "configuration; see monit.toml(5)."),
                ("DATA_DIR/monit.db", "SQLite store: node registry, events (WAL)."),
                ("DATA_DIR/tokens.toml", "tokens, mode 0600."),
                ("DATA_DIR/configd.addr", "the address configd listens on."),
                ("DATA_DIR/monit-configd.pid", "pidfile, locked while running."),
                ("DATA_DIR/monit-configd.log", "log of a daemon started with start."),
            ],
            environment: &[
                ("MONIT_CONFIG", "configuration file, when --config is not given."),
                ("MONIT_LOG", "log filter overriding the configured level, e.g. debug or monit=trace."),
                ("NOTIFY_SOCKET", "set by systemd: READY, RELOADING and STOPPING are sent there."),
            ],
            exit_status: DAEMON_EXIT,
        },
        "monit-noded" => Extra {
            keys: &[],
            examples: &[
                ("monit-noded --config /etc/monit/noded.toml run", "Run in the foreground (systemd)."),
                (
                    "monit-noded --server 127.0.0.1:7400 --name web-1 --token-file web-1.token debug",
                    "Try a node by hand with a debug log.",
                ),
                ("kill -HUP $(cat /var/lib/monit/monit-noded.pid)", "Reload the configuration without reconnecting."),
            ],
            files: &[
                ("/etc/monit/noded.toml", "configuration; see monit.toml(5)."),
                ("/etc/monit/node.token", "the node token, mode 0600."),
                (
                    "/var/lib/monit/monit-noded.pid",
                    "pidfile, locked while running; by default next to spool_dir.",
                ),
                (
                    "/var/lib/monit/monit-noded.state",
                    "registered, or retrying and why: what status prints.",
                ),
            ],
            environment: &[
                ("MONIT_CONFIG", "configuration file, when --config is not given."),
                ("MONIT_LOG", "log filter overriding the configured level."),
                ("NOTIFY_SOCKET", "set by systemd: READY, RELOADING and STOPPING are sent there."),
            ],
            exit_status: DAEMON_EXIT,
        },
        "monit-cli" => Extra {
            keys: &[],
            examples: &[
                ("monit-cli query nodes", "A table of every node."),
                ("monit-cli query nodes --filter state=down -o json", "Down nodes, as JSON."),
                ("monit-cli query nodes --filter labels.role=web --filter name~^web-1", "Filters AND together."),
            ],
            files: CLIENT_FILES,
            environment: CLIENT_ENV,
            exit_status: CLIENT_EXIT,
        },
        _ => Extra {
            keys: crate::tui::ui::HELP,
            examples: &[
                ("monit-tui --demo", "configd and three nodes in-process, and the UI on them."),
                ("monit-tui --server configd.example:7400", "The UI on a real fleet."),
            ],
            files: CLIENT_FILES,
            environment: CLIENT_ENV,
            exit_status: CLIENT_EXIT,
        },
    }
}

/// Every generated page.
pub fn pages() -> Vec<Page> {
    vec![
        page(crate::configd::cli::ConfigdCli::command(), "8"),
        page(crate::noded::cli::NodedCli::command(), "8"),
        page(crate::cli::args::Cli::command(), "1"),
        page(crate::tui::args::TuiCli::command(), "1"),
    ]
}

fn page(cmd: clap::Command, section: &str) -> Page {
    let name = cmd.get_name().to_string();
    let man = clap_mangen::Man::new(cmd.clone())
        .section(section)
        .manual("monit manual")
        .source(format!("monit {}", crate::VERSION));
    let mut out: Vec<u8> = Vec::new();
    // Writing to a Vec cannot fail.
    let _ = man.render_title(&mut out);
    let _ = man.render_name_section(&mut out);
    let _ = man.render_synopsis_section(&mut out);
    let _ = man.render_description_section(&mut out);
    let _ = man.render_options_section(&mut out);
    let mut roff = Roff::default();
    let visible = cmd.get_subcommands().any(|s| !s.is_hide_set());
    if visible {
        roff.control("SH", ["COMMANDS"]);
        commands(&mut roff, &cmd, &name);
    }
    let extra = extra(&name);
    // The `?` help: its headings (empty key) start sections (KEYS, then
    // what the columns mean).
    for (key, what) in extra.keys {
        if key.is_empty() {
            roff.control("SH", [what.to_uppercase().as_str()]);
            continue;
        }
        roff.control("TP", []);
        roff.text([bold(*key)]);
        roff.text([roman(*what)]);
    }
    for (title, items) in [
        ("EXAMPLES", extra.examples),
        ("FILES", extra.files),
        ("ENVIRONMENT", extra.environment),
        ("EXIT STATUS", extra.exit_status),
    ] {
        roff.control("SH", [title]);
        for (item, what) in items {
            roff.control("TP", []);
            roff.text([bold(*item)]);
            roff.text([roman(*what)]);
        }
    }
    roff.control("SH", ["SEE ALSO"]);
    let see: Vec<&str> = [
        "monit-configd(8)",
        "monit-noded(8)",
        "monit-cli(1)",
        "monit-tui(1)",
        "monit.toml(5)",
    ]
    .into_iter()
    .filter(|p| !p.starts_with(&format!("{name}(")))
    .collect();
    roff.text([roman(see.join(", "))]);
    let _ = roff.to_writer(&mut out);
    let _ = man.render_version_section(&mut out);
    let mut text = String::from_utf8_lossy(&out).into_owned();
    if !visible {
        // Only hidden ones (monit-tui's `completions`): none to announce.
        text = text.replace(" [\\fIsubcommands\\fR]", "");
    }
    Page {
        file_name: format!("{name}.{section}"),
        text,
    }
}

/// Every visible subcommand, depth first, with its usage, what it does
/// and its own options.
fn commands(roff: &mut Roff, cmd: &clap::Command, path: &str) {
    for sub in cmd.get_subcommands().filter(|s| !s.is_hide_set()) {
        let full = format!("{path} {}", sub.get_name());
        if sub.has_subcommands() {
            commands(roff, sub, &full);
            continue;
        }
        // Its own arguments: not hidden, not global, not --help/--version.
        let args: Vec<&clap::Arg> = sub
            .get_arguments()
            .filter(|a| !a.is_hide_set() && !a.is_global_set())
            .filter(|a| !matches!(a.get_id().as_str(), "help" | "version"))
            .collect();
        let mut usage = full.clone();
        for arg in &args {
            let id = arg.get_id().as_str();
            let value = arg
                .get_value_names()
                .and_then(|v| v.first())
                .map(|v| v.to_string())
                .unwrap_or_else(|| id.to_uppercase());
            let piece = match (arg.get_long(), arg.is_positional()) {
                (_, true) => value,
                (Some(long), false)
                    if arg
                        .get_num_args()
                        .map(|n| n.takes_values())
                        .unwrap_or_else(|| arg.get_action().takes_values()) =>
                {
                    format!("--{long} {value}")
                }
                (Some(long), false) => format!("--{long}"),
                (None, false) => value,
            };
            if arg.is_required_set() {
                usage.push_str(&format!(" {piece}"));
            } else {
                usage.push_str(&format!(" [{piece}]"));
            }
        }
        roff.control("TP", []);
        roff.text([bold(usage)]);
        if let Some(about) = sub.get_long_about().or(sub.get_about()) {
            roff.text([roman(about.to_string())]);
        }
        for arg in &args {
            let Some(help) = arg.get_help() else { continue };
            let label = match arg.get_long() {
                Some(long) => format!("--{long}"),
                None => arg.get_id().as_str().to_uppercase(),
            };
            roff.control("RS", []);
            roff.text([italic(label), roman(format!(": {help}"))]);
            roff.control("RE", []);
        }
    }
}
