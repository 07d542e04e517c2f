//! `monit-tui`, the operator's terminal UI. All logic is in `monit::tui`.
use std::process::ExitCode;

use clap::Parser;
use monit::tui::args::{TuiCli, TuiCommand};

fn main() -> ExitCode {
    let cli = TuiCli::parse();
    if let Some(TuiCommand::Completions { shell }) = cli.command {
        let cmd = <TuiCli as clap::CommandFactory>::command();
        return match monit::completions::print(shell, cmd) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("monit-tui: error: cannot write the completions: {e}");
                ExitCode::from(1)
            }
        };
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("monit-tui: error: cannot start the runtime: {e}");
            return ExitCode::from(1);
        }
    };
    let result = runtime.block_on(monit::tui::run(cli));
    runtime.shutdown_timeout(std::time::Duration::from_secs(2));
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("monit-tui: error: {e}");
            ExitCode::from(e.exit_code())
        }
    }
}
