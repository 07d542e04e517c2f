//! Live logs: every daemon's lines, command output and check changes on one
//! stream, from the nodes through configd to operators.
//!
//! - [`pipe`]: the process-wide bounded queue lines enter (never blocks).
//! - [`layer`]: the tracing layer that feeds the pipe.
//! - [`shipper`]: noded's side: batch, send, replay on reconnect.
//! - [`spool`]: what waits for configd's ack, in memory then on disk.
//! - [`hub`]: configd's side: per-node rings and subscriber fan-out.
//! - [`filter`]: server-side subscription filters.
//! - [`render`]: how `monit-cli logs` prints lines.
//! - [`rotate`]: the rotating log file sink.

pub mod filter;
pub mod hub;
pub mod layer;
pub mod pipe;
pub mod render;
pub mod rotate;
pub mod shipper;
pub mod spool;

pub use filter::LogFilter;
pub use hub::LogHub;
pub use pipe::Pipe;
