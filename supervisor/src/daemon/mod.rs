//! The supervisor daemon (`pyward serve`): socket server, JSON-RPC, module registry, ACL, rate
//! limits, health and quarantine, host-call relay, and its state in SQLite.
//!
//! Public: the line framing and the line parser, which the fuzz targets drive with any bytes a
//! client can send.

pub(crate) mod budget;
pub(crate) mod http;
pub mod lines;
pub(crate) mod module_state;
pub(crate) mod outbox;
pub(crate) mod peers;
pub(crate) mod quarantine;
pub(crate) mod rate_limit;
pub mod rpc;
pub(crate) mod server;
pub(crate) mod store;
pub(crate) mod verdicts;
