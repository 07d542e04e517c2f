//! The subcommands both daemons share (DESIGN section 6), and running them.

use std::time::Duration;

use clap::Subcommand;

use super::control::Control;
use crate::logging::Mode;

#[derive(Debug, Subcommand)]
pub enum DaemonCommand {
    /// Run in the foreground, logging as configured (systemd: Type=notify)
    Run,
    /// Run in the foreground, logging at debug level in colour
    Debug,
    /// Start in the background; returns once it serves, or fails with its own error
    Start,
    /// Stop the background daemon (SIGTERM, then wait)
    Stop {
        /// How long to wait for it to exit
        #[arg(long, default_value = "10s", value_parser = humantime::parse_duration)]
        timeout: Duration,
    },
    /// Stop, then start
    Restart {
        /// How long to wait for the old one to exit
        #[arg(long, default_value = "10s", value_parser = humantime::parse_duration)]
        timeout: Duration,
    },
    /// Exit 0 and print pid, uptime and address when running; exit 3 when not
    Status,
    /// Validate the configuration file and exit (non-zero with file, line, key and reason)
    CheckConfig {
        /// monit-configd: also list each `[[check]]` of configd.toml with the number of
        /// known nodes its `apply` rule matches now
        #[arg(long)]
        show_matches: bool,
    },
    /// Print a shell completion script (bash, zsh, fish)
    #[command(hide = true)]
    Completions { shell: clap_complete::Shell },
}

/// What a daemon binary supplies for the shared subcommands.
pub trait Daemon {
    /// How `start`/`stop`/`status` find and run it.
    fn control(&self) -> Control;
    /// Runs in the foreground until stopped.
    fn serve(self, mode: Mode) -> anyhow::Result<()>;
    /// The `check-config` success line, or why the file is not usable.
    fn check_config(&self, show_matches: bool) -> anyhow::Result<String>;
}

/// Runs one shared subcommand; the process exit code on success.
pub fn execute<D: Daemon>(cmd: DaemonCommand, daemon: D) -> anyhow::Result<u8> {
    match cmd {
        DaemonCommand::Run => daemon.serve(Mode::Run)?,
        DaemonCommand::Debug => daemon.serve(Mode::Debug)?,
        DaemonCommand::Start => daemon.control().start()?,
        DaemonCommand::Stop { timeout } => daemon.control().stop(timeout)?,
        DaemonCommand::Restart { timeout } => {
            let c = daemon.control();
            c.stop(timeout)?;
            c.start()?;
        }
        DaemonCommand::Status => return Ok(daemon.control().status()),
        DaemonCommand::CheckConfig { show_matches } => {
            crate::cli::output::print_line(daemon.check_config(show_matches)?)?
        }
        DaemonCommand::Completions { .. } => {}
    }
    Ok(0)
}

/// Prints completions for `cmd` when asked; true when it did.
pub fn completions(sub: &DaemonCommand, cmd: clap::Command) -> std::io::Result<bool> {
    if let DaemonCommand::Completions { shell } = sub {
        crate::completions::print(*shell, cmd)?;
        return Ok(true);
    }
    Ok(false)
}

/// The file `check-config` checked, once it has no `problems`; an error
/// without a file (`file_name` was looked for) or with problems.
pub fn checked_file<'a>(
    source: Option<&'a std::path::PathBuf>,
    file_name: &str,
    problems: Vec<String>,
) -> anyhow::Result<std::path::Display<'a>> {
    let Some(source) = source else {
        anyhow::bail!(
            "no configuration file found (looked at $MONIT_CONFIG, ~/.config/monit/{file_name}, /etc/monit/{file_name}); pass --config FILE"
        );
    };
    if !problems.is_empty() {
        anyhow::bail!("{}: {}", source.display(), problems.join("; "));
    }
    Ok(source.display())
}
