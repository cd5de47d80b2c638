//! How pyward enforces: the worker's sandbox stages, the embedded interpreter, the zygote and
//! the worker side of the supervisor link.
//!
//! All `unsafe` code lives in [`sys`], the one module allowed it (and it says why); every other
//! module forbids it. Everything else computes values or calls `sys` and the safe crates (`nix`,
//! `caps`, rust-landlock).

#![deny(unsafe_code)]

pub mod cgroup;
pub mod exit;
pub mod kernel;
pub mod link;
pub mod process;
pub mod runtime;
pub mod sandbox;
pub mod serve;
#[allow(unsafe_code)]
pub mod sys;
pub mod verdict;
pub mod zygote;
