use std::process::ExitCode;

use clap::Parser;
use monit::cli::exit::report;
use monit::configd::cli::{main as configd_main, ConfigdCli};

fn main() -> ExitCode {
    match configd_main(ConfigdCli::parse()) {
        Ok(code) => ExitCode::from(code),
        Err(e) => {
            report("monit-configd", &e);
            ExitCode::FAILURE
        }
    }
}
