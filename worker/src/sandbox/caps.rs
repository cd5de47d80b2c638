//! Privilege drop, as a value: which ids to become and which capability sets to empty; and the
//! capability sets as the kernel shows them, to check that the drop happened.

#![forbid(unsafe_code)]

use pyward_policy::config::SandboxLimits;

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

/// A thread's capability sets as 64-bit masks, every bit the kernel has ([`crate::sys::capability_masks`]),
/// not through the `caps` crate, whose sets hold only the capabilities it knows (up to
/// CAP_CHECKPOINT_RESTORE): the check after dropping must see every bit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct CapabilitySets {
    pub inheritable: u64,
    pub permitted: u64,
    pub effective: u64,
    pub bounding: u64,
}

impl CapabilitySets {
    /// Effective, permitted and inheritable are empty (the ambient set is a subset of permitted
    /// and inheritable, so it is empty too).
    pub fn base_empty(&self) -> bool {
        self.effective == 0 && self.permitted == 0 && self.inheritable == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn capability_sets_are_read_from_the_kernel_without_a_descriptor() {
        // Read-only calls, safe in the test harness: they agree with /proc/self/status.
        let (inheritable, permitted, effective, bounding) = crate::sys::capability_masks().unwrap();
        let status = std::fs::read_to_string("/proc/self/status").unwrap();
        let mask = |key: &str| {
            status
                .lines()
                .find_map(|line| line.strip_prefix(key))
                .map(|hex| u64::from_str_radix(hex.trim(), 16).unwrap())
                .unwrap()
        };
        assert_eq!(inheritable, mask("CapInh:"));
        assert_eq!(permitted, mask("CapPrm:"));
        assert_eq!(effective, mask("CapEff:"));
        assert_eq!(bounding, mask("CapBnd:"));
        let sets = CapabilitySets {
            effective: 1 << 41,
            ..CapabilitySets::default()
        };
        assert!(
            !sets.base_empty(),
            "a bit the caps crate has no name for counts"
        );
        assert!(CapabilitySets::default().base_empty());
    }

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
