//! The supervisor daemon (`pyward serve`): socket server, JSON-RPC, module registry, ACL, rate
//! limits, health and quarantine, host-call relay. State lives in memory for now.

pub mod lines;
pub mod quarantine;
pub mod rate_limit;
pub mod rpc;
pub mod server;
