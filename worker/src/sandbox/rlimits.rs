//! Resource limits for a worker, as values.

#![forbid(unsafe_code)]

use pyward_policy::config::SandboxLimits;

/// The resources, as `nix` names them (re-exported for callers that ask for a limit).
pub use nix::sys::resource::Resource;

/// One `setrlimit` to make.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rlimit {
    pub resource: Resource,
    pub name: &'static str,
    pub soft: u64,
    pub hard: u64,
}

fn both(resource: Resource, name: &'static str, value: u64) -> Rlimit {
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
        both(Resource::RLIMIT_CORE, "RLIMIT_CORE", 0),
        both(Resource::RLIMIT_AS, "RLIMIT_AS", limits.memory_bytes),
        Rlimit {
            resource: Resource::RLIMIT_CPU,
            name: "RLIMIT_CPU",
            soft: limits.cpu_seconds,
            hard: limits.cpu_seconds + 1,
        },
        both(
            Resource::RLIMIT_NOFILE,
            "RLIMIT_NOFILE",
            limits.max_open_files,
        ),
        both(Resource::RLIMIT_FSIZE, "RLIMIT_FSIZE", 0),
        both(Resource::RLIMIT_NPROC, "RLIMIT_NPROC", limits.max_processes),
        both(Resource::RLIMIT_MEMLOCK, "RLIMIT_MEMLOCK", 0),
        both(Resource::RLIMIT_MSGQUEUE, "RLIMIT_MSGQUEUE", 0),
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
        assert_eq!(get(Resource::RLIMIT_AS).soft, 256 << 20);
        assert_eq!(get(Resource::RLIMIT_CPU).soft, 5);
        assert_eq!(get(Resource::RLIMIT_CPU).hard, 6);
        assert_eq!(get(Resource::RLIMIT_FSIZE).hard, 0);
        assert_eq!(get(Resource::RLIMIT_CORE).hard, 0);
        assert_eq!(get(Resource::RLIMIT_NPROC).hard, 1);
        assert_eq!(get(Resource::RLIMIT_NOFILE).hard, 32);
    }
}
