//! The worker's kernel confinement, computed as values and applied in one ordered function.

pub mod seccomp;
