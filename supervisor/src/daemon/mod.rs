//! The supervisor daemon's building blocks. The daemon itself (`pyward serve`: socket server,
//! JSON-RPC, module registry, host-call relay, persistence) is not built yet; these pieces are
//! its decisions, written and tested first.
#![allow(dead_code)] // used by tests until `pyward serve` exists

pub mod quarantine;
pub mod rate_limit;
