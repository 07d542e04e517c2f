//! `monit-tui`, the operator's terminal UI.

pub mod args;
