//! How pyward enforces: the worker's sandbox stages, the embedded interpreter, the zygote and
//! the worker side of the supervisor link.
//!
//! All `unsafe` code lives in [`sys`]; everything else computes values or calls `sys`.

pub mod cgroup;
pub mod exit;
pub mod kernel;
pub mod link;
pub mod process;
pub mod runtime;
pub mod sandbox;
pub mod serve;
pub mod sys;
pub mod verdict;
pub mod zygote;
