//! What this machine can enforce, found by trying (never by assuming).

#![forbid(unsafe_code)]

use serde::{Deserialize, Serialize};

use crate::sys;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KernelFacts {
    pub kernel: String,
    pub running_as_root: bool,
    pub landlock_abi: Option<u32>,
    pub landlock_error: Option<String>,
    pub seccomp_filter: bool,
    pub user_namespaces: bool,
    pub user_namespaces_error: Option<String>,
    pub cgroup2_mount: Option<String>,
    pub cgroup: Option<String>,
    /// Controllers the v2 hierarchy offers here (`memory` and `pids` are what workers need).
    pub cgroup_controllers: Vec<String>,
    /// This process's v2 cgroup is writable by it (systemd `Delegate=yes`, or root) and offers
    /// the memory and pids controllers: per-worker sub-groups are possible.
    pub cgroup_delegated: bool,
}

pub fn probe() -> KernelFacts {
    let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease")
        .map(|s| s.trim().to_string())
        .unwrap_or_else(|_| "unknown".into());
    let (landlock_abi, landlock_error) = match sys::landlock_abi() {
        Ok(abi) => (Some(abi), None),
        Err(e) => (None, Some(e.to_string())),
    };
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let seccomp_filter = status.lines().any(|l| l.starts_with("Seccomp_filters:"))
        || std::path::Path::new("/proc/sys/kernel/seccomp/actions_avail").exists();
    let (user_namespaces, user_namespaces_error) =
        match try_in_child(|| nix::sched::unshare(nix::sched::CloneFlags::CLONE_NEWUSER).is_ok()) {
            Ok(true) => (true, None),
            Ok(false) => (false, Some("unshare(CLONE_NEWUSER) was refused".into())),
            Err(e) => (false, Some(e.to_string())),
        };
    let cgroup2_mount = std::fs::read_to_string("/proc/self/mountinfo")
        .unwrap_or_default()
        .lines()
        .find(|l| l.contains(" - cgroup2 "))
        .and_then(|l| l.split_whitespace().nth(4).map(str::to_string));
    let cgroup = std::fs::read_to_string("/proc/self/cgroup")
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix("0::").map(str::to_string));
    let dir = match (&cgroup2_mount, &cgroup) {
        (Some(mount), Some(group)) => {
            Some(std::path::Path::new(mount).join(group.trim_start_matches('/')))
        }
        _ => None,
    };
    let cgroup_controllers: Vec<String> = dir
        .as_ref()
        .and_then(|d| std::fs::read_to_string(d.join("cgroup.controllers")).ok())
        .map(|s| s.split_whitespace().map(str::to_string).collect())
        .unwrap_or_default();
    let cgroup_delegated = dir
        .as_ref()
        .is_some_and(|d| writable(&d.join("cgroup.subtree_control")) && writable(d))
        && ["memory", "pids"]
            .iter()
            .all(|c| cgroup_controllers.iter().any(|have| have == c));
    KernelFacts {
        kernel,
        running_as_root: sys::euid() == 0,
        landlock_abi,
        landlock_error,
        seccomp_filter,
        user_namespaces,
        user_namespaces_error,
        cgroup2_mount,
        cgroup,
        cgroup_controllers,
        cgroup_delegated,
    }
}

fn writable(path: &std::path::Path) -> bool {
    use std::os::unix::ffi::OsStrExt;
    let Ok(c) = std::ffi::CString::new(path.as_os_str().as_bytes()) else {
        return false;
    };
    sys::access_writable(&c)
}

/// Run `test` in a forked child (kernel state it changes dies with the child).
fn try_in_child(test: fn() -> bool) -> std::io::Result<bool> {
    let single = sys::SingleThreaded::check()?;
    match sys::fork(&single)? {
        sys::Forked::Child => sys::exit_now(if test() { 0 } else { 1 }),
        sys::Forked::Parent { pid } => Ok(matches!(
            sys::wait_pid(pid, true)?,
            Some(sys::ExitStatus::Exited(0))
        )),
    }
}
