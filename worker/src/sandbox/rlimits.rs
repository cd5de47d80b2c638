//! Resource limits for a worker, as values.

use pyward_policy::config::SandboxLimits;

/// One `setrlimit` to make.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rlimit {
    pub resource: libc::__rlimit_resource_t,
    pub name: &'static str,
    pub soft: u64,
    pub hard: u64,
}

fn both(resource: libc::__rlimit_resource_t, name: &'static str, value: u64) -> Rlimit {
    Rlimit {
        resource,
        name,
        soft: value,
        hard: value,
    }
}

/// The limits a worker runs under. CPU gets one second of grace between the soft limit
/// (SIGXCPU, reported as the rlimit layer stopping the module) and the hard one (SIGKILL).
pub fn plan(limits: &SandboxLimits) -> Vec<Rlimit> {
    vec![
        both(libc::RLIMIT_CORE, "RLIMIT_CORE", 0),
        both(libc::RLIMIT_AS, "RLIMIT_AS", limits.memory_bytes),
        Rlimit {
            resource: libc::RLIMIT_CPU,
            name: "RLIMIT_CPU",
            soft: limits.cpu_seconds,
            hard: limits.cpu_seconds + 1,
        },
        both(libc::RLIMIT_NOFILE, "RLIMIT_NOFILE", limits.max_open_files),
        both(libc::RLIMIT_FSIZE, "RLIMIT_FSIZE", 0),
        both(libc::RLIMIT_NPROC, "RLIMIT_NPROC", limits.max_processes),
        both(libc::RLIMIT_MEMLOCK, "RLIMIT_MEMLOCK", 0),
        both(libc::RLIMIT_MSGQUEUE, "RLIMIT_MSGQUEUE", 0),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits_follow_the_policy() {
        let limits = pyward_policy::Policy::default().sandbox;
        let plan = plan(&limits);
        let get = |r| plan.iter().find(|l| l.resource == r).unwrap();
        assert_eq!(get(libc::RLIMIT_AS).soft, 256 << 20);
        assert_eq!(get(libc::RLIMIT_CPU).soft, 5);
        assert_eq!(get(libc::RLIMIT_CPU).hard, 6);
        assert_eq!(get(libc::RLIMIT_FSIZE).hard, 0);
        assert_eq!(get(libc::RLIMIT_CORE).hard, 0);
        assert_eq!(get(libc::RLIMIT_NPROC).hard, 1);
        assert_eq!(get(libc::RLIMIT_NOFILE).hard, 32);
    }
}
