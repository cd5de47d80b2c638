//! `[sandbox]`: the limits of the worker process that runs a module, and the layers it must
//! have in force.

use std::collections::BTreeSet;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use super::{Invalid, check_ranges, invalid};

/// Linux namespaces a worker can be put in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Namespace {
    User,
    Net,
    Pid,
    Ipc,
    Uts,
    Mount,
}

/// A sandbox layer a policy can insist on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Layer {
    Landlock,
    Seccomp,
    NoNewPrivs,
    Rlimits,
    /// Dropping to an unprivileged uid and emptying every capability set (only meaningful as root).
    PrivilegeDrop,
    Namespaces,
    Cgroup,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RawSandbox {
    pub memory_mb: u64,
    pub cpu_seconds: u64,
    pub wall_ms: u64,
    pub max_output_bytes: usize,
    pub max_open_files: u64,
    pub max_processes: u64,
    pub read_paths: Vec<PathBuf>,
    pub packages_dir: Option<PathBuf>,
    pub worker_uid: u32,
    pub worker_gid: u32,
    pub namespaces: Vec<Namespace>,
    pub require: Vec<Layer>,
    pub dangerously_allow_network: bool,
    pub dangerously_allow_degraded: bool,
}

impl Default for RawSandbox {
    fn default() -> Self {
        RawSandbox {
            memory_mb: 256,
            cpu_seconds: 5,
            wall_ms: 10_000,
            max_output_bytes: 64 * 1024,
            max_open_files: 32,
            max_processes: 1,
            read_paths: Vec::new(),
            packages_dir: None,
            worker_uid: 65534,
            worker_gid: 65534,
            namespaces: Vec::new(),
            require: vec![
                Layer::Landlock,
                Layer::Seccomp,
                Layer::NoNewPrivs,
                Layer::Rlimits,
            ],
            dangerously_allow_network: false,
            dangerously_allow_degraded: false,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SandboxLimits {
    pub memory_bytes: u64,
    pub cpu_seconds: u64,
    pub wall_ms: u64,
    pub max_output_bytes: usize,
    pub max_open_files: u64,
    pub max_processes: u64,
    pub read_paths: Vec<PathBuf>,
    /// The operator's vetted Python packages (`pip install --target`): on the workers'
    /// `sys.path` and readable by them; a package is importable only when allowlisted.
    pub packages_dir: Option<PathBuf>,
    pub worker_uid: u32,
    pub worker_gid: u32,
    pub namespaces: BTreeSet<Namespace>,
    pub require: BTreeSet<Layer>,
    pub dangerously_allow_network: bool,
    pub dangerously_allow_degraded: bool,
}

impl RawSandbox {
    pub(super) fn validate(self, errors: &mut Vec<Invalid>) -> SandboxLimits {
        let ranges: [(&str, u64, u64, u64); 6] = [
            ("sandbox.memory_mb", self.memory_mb, 32, 64 * 1024),
            ("sandbox.cpu_seconds", self.cpu_seconds, 1, 3600),
            ("sandbox.wall_ms", self.wall_ms, 10, 3_600_000),
            (
                "sandbox.max_output_bytes",
                self.max_output_bytes as u64,
                1,
                64 << 20,
            ),
            ("sandbox.max_open_files", self.max_open_files, 4, 4096),
            ("sandbox.max_processes", self.max_processes, 1, 4096),
        ];
        check_ranges(errors, &ranges);
        if self.worker_uid == 0 || self.worker_gid == 0 {
            errors.push(invalid(
                "sandbox.worker_uid",
                "workers never run as uid or gid 0; pick an unprivileged id such as 65534",
            ));
        }
        for (i, p) in self.read_paths.iter().enumerate() {
            if !p.is_absolute() {
                errors.push(invalid(
                    format!("sandbox.read_paths[{i}]"),
                    "must be an absolute path",
                ));
            }
        }
        if let Some(dir) = &self.packages_dir
            && !dir.is_absolute()
        {
            errors.push(invalid("sandbox.packages_dir", "must be an absolute path"));
        }
        SandboxLimits {
            memory_bytes: self.memory_mb * 1024 * 1024,
            cpu_seconds: self.cpu_seconds,
            wall_ms: self.wall_ms,
            max_output_bytes: self.max_output_bytes,
            max_open_files: self.max_open_files,
            max_processes: self.max_processes,
            read_paths: self.read_paths,
            packages_dir: self.packages_dir,
            worker_uid: self.worker_uid,
            worker_gid: self.worker_gid,
            namespaces: self.namespaces.into_iter().collect(),
            require: self.require.into_iter().collect(),
            dangerously_allow_network: self.dangerously_allow_network,
            dangerously_allow_degraded: self.dangerously_allow_degraded,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::problems;
    use super::*;

    #[test]
    fn sandbox_section_accepts_a_valid_table_and_refuses_a_bad_one() {
        let good = RawSandbox {
            memory_mb: 64,
            read_paths: vec!["/srv/data".into()],
            namespaces: vec![Namespace::Net, Namespace::User, Namespace::Net],
            ..RawSandbox::default()
        };
        let (sandbox, found) = problems(|errors| good.validate(errors));
        assert!(found.is_empty(), "{found:?}");
        assert_eq!(sandbox.memory_bytes, 64 << 20);
        assert_eq!(
            sandbox.namespaces,
            BTreeSet::from([Namespace::User, Namespace::Net])
        );

        let bad = RawSandbox {
            max_open_files: 3,
            worker_gid: 0,
            packages_dir: Some("site-packages".into()),
            ..RawSandbox::default()
        };
        let (_, found) = problems(|errors| bad.validate(errors));
        assert_eq!(
            found,
            [
                "sandbox.max_open_files: must be between 4 and 4096",
                "sandbox.worker_uid: workers never run as uid or gid 0; pick an unprivileged id \
                 such as 65534",
                "sandbox.packages_dir: must be an absolute path",
            ]
        );
    }
}
