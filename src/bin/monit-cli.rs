use std::process::ExitCode;

use clap::Parser;
use monit::cli::{self, args::Cli, exit};

fn main() -> ExitCode {
    let cli = Cli::parse();
    monit::net::dial::print_notices_on_stderr();
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            exit::report("monit-cli", &e.into());
            return exit::Exit::Failed.into();
        }
    };
    match runtime.block_on(cli::run(cli)) {
        Ok(()) => exit::Exit::Ok.into(),
        Err(e) => {
            exit::report("monit-cli", &e.error);
            e.exit.into()
        }
    }
}
