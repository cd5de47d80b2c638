//! Per-worker cgroup v2 sub-groups, when this process's own cgroup can take them (systemd
//! `Delegate=yes`, or root on the hierarchy): each worker gets its own group, so the supervisor
//! can kill everything in it at once (`cgroup.kill`) and, where the `memory` and `pids`
//! controllers are available, bound its real memory (`memory.max`, no swap) and its process
//! count (`pids.max`) beside the rlimits. What could be set is reported, never assumed.

#![forbid(unsafe_code)]

use std::io;
use std::path::{Path, PathBuf};

use pyward_policy::config::SandboxLimits;
use serde::{Deserialize, Serialize};

/// How often, and how many times, a dropped worker's group is tried for removal: the kernel
/// refuses while its killed processes are still being reaped, which takes milliseconds; after
/// half a second the group is left behind (it holds no process once they are reaped).
const REMOVE_RETRY: std::time::Duration = std::time::Duration::from_millis(10);
const REMOVE_TRIES: u32 = 50;

/// What per-worker groups can do here.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct CgroupSupport {
    pub per_worker_groups: bool,
    pub kill: bool,
    pub memory_max: bool,
    pub pids_max: bool,
}

/// The cgroup under which worker groups are made.
#[derive(Debug, Clone)]
pub struct CgroupRoot {
    dir: PathBuf,
    pub support: CgroupSupport,
}

fn write(path: &Path, value: &str) -> io::Result<()> {
    std::fs::write(path, value)
}

impl CgroupRoot {
    /// This process's cgroup, if sub-groups can be made in it. Enables the memory and pids
    /// controllers for children where the hierarchy offers them.
    pub fn detect() -> Option<CgroupRoot> {
        let facts = crate::kernel::probe();
        let mount = facts.cgroup2_mount?;
        let group = facts.cgroup?;
        let dir = Path::new(&mount).join(group.trim_start_matches('/'));
        // Can we make and remove a group here at all?
        let trial = dir.join(format!("pyward-trial-{}", std::process::id()));
        std::fs::create_dir(&trial).ok()?;
        let kill = trial.join("cgroup.kill").exists();
        let _ = std::fs::remove_dir(&trial);
        let enable = |controller: &str| {
            facts.cgroup_controllers.iter().any(|c| c == controller)
                && write(
                    &dir.join("cgroup.subtree_control"),
                    &format!("+{controller}"),
                )
                .is_ok()
        };
        // Groups a crashed supervisor left behind: rmdir only removes empty ones, so a live
        // worker of another supervisor sharing this cgroup is never touched.
        if let Ok(entries) = std::fs::read_dir(&dir) {
            for entry in entries.flatten() {
                if entry
                    .file_name()
                    .to_string_lossy()
                    .starts_with("pyward-worker-")
                {
                    let _ = std::fs::remove_dir(entry.path());
                }
            }
        }
        let support = CgroupSupport {
            per_worker_groups: true,
            kill,
            memory_max: enable("memory"),
            pids_max: enable("pids"),
        };
        Some(CgroupRoot { dir, support })
    }

    /// Make the group for one worker and set the limits the controllers allow.
    pub fn for_worker(&self, name: &str, limits: &SandboxLimits) -> io::Result<WorkerCgroup> {
        let dir = self.dir.join(name);
        std::fs::create_dir(&dir)?;
        let group = WorkerCgroup { dir };
        if self.support.memory_max {
            write(
                &group.dir.join("memory.max"),
                &limits.memory_bytes.to_string(),
            )?;
            let _ = write(&group.dir.join("memory.swap.max"), "0");
        }
        if self.support.pids_max {
            write(
                &group.dir.join("pids.max"),
                &limits.max_processes.to_string(),
            )?;
        }
        Ok(group)
    }
}

/// One worker's group. Dropping it kills whatever is still inside and removes the group.
#[derive(Debug)]
pub struct WorkerCgroup {
    dir: PathBuf,
}

impl WorkerCgroup {
    pub fn path(&self) -> &Path {
        &self.dir
    }

    /// Move a process into the group.
    pub fn add(&self, pid: i32) -> io::Result<()> {
        write(&self.dir.join("cgroup.procs"), &pid.to_string())
    }

    /// Kill every process in the group at once.
    pub fn kill(&self) -> io::Result<()> {
        write(&self.dir.join("cgroup.kill"), "1")
    }

    /// Did the kernel's OOM killer act inside this group (memory.max reached)?
    pub fn oom_killed(&self) -> bool {
        std::fs::read_to_string(self.dir.join("memory.events"))
            .unwrap_or_default()
            .lines()
            .any(|l| l.strip_prefix("oom_kill ").is_some_and(|n| n.trim() != "0"))
    }
}

impl Drop for WorkerCgroup {
    fn drop(&mut self) {
        let _ = self.kill();
        // The group can only be removed once its processes are gone (and reaped).
        for _ in 0..REMOVE_TRIES {
            if std::fs::remove_dir(&self.dir).is_ok() {
                return;
            }
            std::thread::sleep(REMOVE_RETRY);
        }
    }
}
