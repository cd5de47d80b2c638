//! The supervisor daemon (`pyward serve`): socket server, JSON-RPC, module registry, ACL, rate
//! limits, health and quarantine, host-call relay, and its state in SQLite.

pub mod budget;
pub mod http;
pub mod lines;
pub mod module_state;
pub mod outbox;
pub mod peers;
pub mod quarantine;
pub mod rate_limit;
pub mod rpc;
pub mod server;
pub mod store;
pub mod verdicts;
