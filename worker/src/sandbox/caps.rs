//! Privilege drop, as a value: which ids to become and which capability sets to empty.

use pyward_policy::config::SandboxLimits;

/// The highest capability number any kernel defines today is 40 (CAP_CHECKPOINT_RESTORE);
/// dropping walks up to 63 and stops where the kernel says the capability does not exist.
pub const MAX_CAP: u32 = 63;

/// What the worker does about privileges.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PrivilegePlan {
    /// Running as root: clear groups, set gid and uid to the policy's unprivileged ids, empty
    /// the bounding, ambient, inheritable, permitted and effective sets.
    DropTo { uid: u32, gid: u32 },
    /// Not root: nothing to switch to; still empty ambient, inheritable, permitted and
    /// effective (a user namespace may have handed us capabilities).
    AlreadyUnprivileged,
}

pub fn plan(limits: &SandboxLimits, effective_uid: u32) -> PrivilegePlan {
    if effective_uid == 0 {
        PrivilegePlan::DropTo {
            uid: limits.worker_uid,
            gid: limits.worker_gid,
        }
    } else {
        PrivilegePlan::AlreadyUnprivileged
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn root_drops_to_the_policy_ids() {
        let limits = pyward_policy::Policy::default().sandbox;
        assert_eq!(
            plan(&limits, 0),
            PrivilegePlan::DropTo {
                uid: 65534,
                gid: 65534
            }
        );
        assert_eq!(plan(&limits, 1000), PrivilegePlan::AlreadyUnprivileged);
    }
}
