//! The supervisor daemon (`pyward serve`): socket server, JSON-RPC, module registry, ACL, rate
//! limits, health and quarantine, host-call relay, and its state in SQLite.
//!
//! Public: the line framing and the line parser, which the fuzz targets drive with any bytes a
//! client can send.

mod audit;
pub(crate) mod budget;
mod calls;
mod connection;
mod dispatch;
mod error;
mod events;
mod grants;
pub(crate) mod http;
pub mod lines;
mod listen;
pub(crate) mod module_state;
mod one_shot;
pub(crate) mod outbox;
mod params;
pub(crate) mod peers;
pub(crate) mod quarantine;
pub(crate) mod rate_limit;
mod registry;
mod relay;
mod reload;
pub mod rpc;
mod settle;
mod state;
pub(crate) mod store;
#[cfg(test)]
mod testing;
pub(crate) mod verdicts;
mod vetting;
mod workers;

pub use listen::run;
