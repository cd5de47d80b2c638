//! Namespaces, as a value: the `unshare` flags for what the policy asks.

#![forbid(unsafe_code)]

use std::collections::BTreeSet;

use nix::sched::CloneFlags;
use pyward_policy::config::Namespace;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NamespacePlan {
    pub flags: CloneFlags,
    pub namespaces: BTreeSet<Namespace>,
    /// PID namespaces only affect children; a worker has none, so it is noted, not made.
    pub skipped: Vec<(Namespace, &'static str)>,
}

/// Without root, any other namespace needs a user namespace first (in the same `unshare`).
pub fn plan(requested: &BTreeSet<Namespace>, effective_uid: u32) -> NamespacePlan {
    let mut flags = CloneFlags::empty();
    let mut namespaces = BTreeSet::new();
    let mut skipped = Vec::new();
    for &ns in requested {
        let flag = match ns {
            Namespace::User => CloneFlags::CLONE_NEWUSER,
            Namespace::Net => CloneFlags::CLONE_NEWNET,
            Namespace::Ipc => CloneFlags::CLONE_NEWIPC,
            Namespace::Uts => CloneFlags::CLONE_NEWUTS,
            Namespace::Mount => CloneFlags::CLONE_NEWNS,
            Namespace::Pid => {
                skipped.push((
                    ns,
                    "a worker creates no processes, so a pid namespace adds nothing",
                ));
                continue;
            }
        };
        flags |= flag;
        namespaces.insert(ns);
    }
    if !flags.is_empty() && effective_uid != 0 && !flags.contains(CloneFlags::CLONE_NEWUSER) {
        flags |= CloneFlags::CLONE_NEWUSER;
        namespaces.insert(Namespace::User);
    }
    NamespacePlan {
        flags,
        namespaces,
        skipped,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unprivileged_needs_a_user_namespace() {
        let want = BTreeSet::from([Namespace::Net]);
        assert_eq!(plan(&want, 0).flags, CloneFlags::CLONE_NEWNET);
        let p = plan(&want, 1000);
        assert_eq!(
            p.flags,
            CloneFlags::CLONE_NEWNET | CloneFlags::CLONE_NEWUSER
        );
        assert!(p.namespaces.contains(&Namespace::User));
        assert_eq!(plan(&BTreeSet::new(), 1000).flags, CloneFlags::empty());
        assert_eq!(plan(&BTreeSet::from([Namespace::Pid]), 0).skipped.len(), 1);
    }
}
