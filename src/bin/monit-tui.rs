use std::process::ExitCode;

use clap::Parser;
use monit::tui::args::TuiCli;

fn main() -> ExitCode {
    let _cli = TuiCli::parse();
    eprintln!(
        "monit-tui: not available yet: the terminal UI lands with a later release. \
         Meanwhile: monit-cli query nodes"
    );
    ExitCode::from(1)
}
