//! Ops commands and the inventory: pieces shared by configd, noded and
//! the client (typed values, command specs, argument checks).

pub mod kinds;
pub mod local;
pub mod runbook;
pub mod spec;
pub mod template;
pub mod values;
pub mod views;
