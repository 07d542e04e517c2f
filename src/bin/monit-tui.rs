use std::process::ExitCode;

use clap::Parser;

/// The operator's terminal UI.
#[derive(Debug, Parser)]
#[command(
    name = "monit-tui",
    version,
    about = "The monit operator's terminal UI"
)]
struct TuiCli {
    /// Start configd and three nodes in-process and open the UI on them
    #[arg(long)]
    demo: bool,
}

fn main() -> ExitCode {
    let _cli = TuiCli::parse();
    eprintln!(
        "monit-tui: not available yet: the terminal UI lands with a later release. \
         Meanwhile: monit-cli query nodes"
    );
    ExitCode::from(1)
}
