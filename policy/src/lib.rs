//! What pyward allows: the policy file ([`config`]), access decisions ([`acl`]), what brokered
//! HTTP may reach ([`http`]) and the static scanner ([`scan`]).
//!
//! This crate is pure: no syscalls, no I/O beyond reading a policy file the caller names, and no
//! `unsafe`. Everything here is a value or a decision that can be unit-tested.

#![forbid(unsafe_code)]

pub mod acl;
pub mod config;
pub mod http;
pub mod imports;
pub mod manifest;
mod position;
pub mod scan;

pub use config::{Policy, PolicyError};
