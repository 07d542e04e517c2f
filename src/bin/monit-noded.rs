use std::process::ExitCode;

use clap::Parser;
use monit::cli::exit::report;
use monit::noded::cli::{main as noded_main, NodedCli};

fn main() -> ExitCode {
    match noded_main(NodedCli::parse()) {
        Ok(code) => ExitCode::from(code),
        Err(e) => {
            report("monit-noded", &e);
            ExitCode::FAILURE
        }
    }
}
