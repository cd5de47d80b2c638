//! Landlock, as values and one apply step through rust-landlock: the rights a worker hands to
//! the kernel (every right Landlock ABI 7 defines, so each is denied unless a rule grants it;
//! rules grant only reading), and what the kernel really enforced.
//!
//! ABI compatibility is the crate's: on an older kernel it handles the rights that kernel knows
//! and reports the ruleset as partially enforced (best effort). The first ABI's file-system
//! rights are a hard requirement, and a ruleset the kernel did not enforce at all is an error:
//! a kernel without Landlock never passes silently.

#![forbid(unsafe_code)]

use std::path::PathBuf;

use ::landlock::{
    ABI, Access, AccessFs, AccessNet, BitFlags, CompatLevel, Compatible, LandlockStatus,
    PathBeneath, PathFd, Ruleset, RulesetAttr, RulesetCreatedAttr, RulesetStatus, Scope,
};

use crate::sys;

/// The newest ABI whose rights pyward handles. A newer kernel is used at this level: rights it
/// adds are left alone until pyward is taught them and tested with them.
pub const NEWEST_KNOWN_ABI: ABI = ABI::V7;

/// What to ask the kernel for (the crate drops what an older kernel does not know).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RulesetPlan {
    pub handled_fs: BitFlags<AccessFs>,
    pub handled_net: BitFlags<AccessNet>,
    pub scoped: BitFlags<Scope>,
    /// Granted read-only (reading files; listing too when the path is a directory).
    pub read_paths: Vec<PathBuf>,
}

/// How completely the policy's intent can be enforced at this ABI.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Coverage {
    /// File system, TCP and scoping (signals, abstract sockets): ABI 6 and later.
    Full,
    /// Some rights this ABI lacks are left to other layers (seccomp still denies sockets).
    Partial,
}

/// Every file-system right, TCP bind and connect (unless the policy allows the network), and
/// both scopes: signals and abstract Unix sockets stay inside the worker's own domain.
pub fn ruleset(network_allowed: bool, read_paths: Vec<PathBuf>) -> RulesetPlan {
    RulesetPlan {
        handled_fs: AccessFs::from_all(NEWEST_KNOWN_ABI),
        handled_net: if network_allowed {
            BitFlags::EMPTY
        } else {
            AccessNet::BindTcp | AccessNet::ConnectTcp
        },
        scoped: Scope::from_all(NEWEST_KNOWN_ABI),
        read_paths,
    }
}

/// Rights a read path gets: reading files, and listing if it is a directory. Never execute.
pub fn read_access(is_dir: bool) -> BitFlags<AccessFs> {
    if is_dir {
        AccessFs::ReadFile | AccessFs::ReadDir
    } else {
        AccessFs::ReadFile.into()
    }
}

/// Judge what `restrict_self` reported: the ABI the ruleset was built at (the kernel's, up to
/// [`NEWEST_KNOWN_ABI`]) and how much of it is in force. Not enforced at all is an error.
pub fn enforced(
    ruleset: RulesetStatus,
    landlock: LandlockStatus,
) -> Result<(u32, Coverage), String> {
    let abi = match landlock {
        LandlockStatus::Available { effective_abi, .. } => effective_abi.min(NEWEST_KNOWN_ABI),
        other => return Err(format!("the kernel offers no Landlock ({other:?})")),
    };
    let coverage = match ruleset {
        RulesetStatus::FullyEnforced => Coverage::Full,
        RulesetStatus::PartiallyEnforced => Coverage::Partial,
        RulesetStatus::NotEnforced => {
            return Err(format!(
                "the kernel (Landlock ABI {abi}) enforced none of the ruleset"
            ));
        }
    };
    Ok((abi as u32, coverage))
}

/// Apply `plan` to the calling thread: a new Landlock domain for this worker alone. Needs
/// no_new_privs (set by the stage before; the crate is told not to set it again).
pub fn restrict_self(plan: &RulesetPlan) -> Result<(u32, Coverage), String> {
    // The crate's answer to "no Landlock here" is a status without the errno; on a failure the
    // kernel is asked, so that the error names the cause (a kernel without it, or a container's
    // seccomp filter refusing it with EPERM). Not asked when all goes well: one system call
    // less for every worker.
    apply(plan).map_err(|why| match sys::landlock_abi() {
        Err(e) => format!("the kernel offers no Landlock: {e}"),
        Ok(_) => why,
    })
}

fn apply(plan: &RulesetPlan) -> Result<(u32, Coverage), String> {
    let built = || -> Result<_, ::landlock::RulesetError> {
        Ruleset::default()
            .set_compatibility(CompatLevel::HardRequirement)
            .handle_access(AccessFs::from_all(ABI::V1))?
            .set_compatibility(CompatLevel::BestEffort)
            .handle_access(plan.handled_fs)?
            .handle_access(plan.handled_net)?
            .scope(plan.scoped)?
            .create()
    };
    let mut ruleset = built()
        .map_err(|e| format!("landlock ruleset: {e}"))?
        .no_new_privs(false);
    for path in &plan.read_paths {
        let anchor = PathFd::new(path).map_err(|e| format!("read path {}: {e}", path.display()))?;
        let is_dir = std::fs::metadata(path).map(|m| m.is_dir()).unwrap_or(false);
        ruleset = ruleset
            .add_rule(PathBeneath::new(anchor, read_access(is_dir)))
            .map_err(|e| format!("read path {}: {e}", path.display()))?;
    }
    let status = ruleset
        .restrict_self()
        .map_err(|e| format!("landlock_restrict_self: {e}"))?;
    enforced(status.ruleset, status.landlock)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What the crate hands a kernel of ABI `abi`: the plan's rights that ABI knows.
    fn handled_at(plan: &RulesetPlan, abi: i32) -> (u64, u64, u64) {
        let abi = ABI::from(abi);
        (
            (plan.handled_fs & AccessFs::from_all(abi)).bits(),
            (plan.handled_net & AccessNet::from_all(abi)).bits(),
            (plan.scoped & Scope::from_all(abi)).bits(),
        )
    }

    #[test]
    fn every_right_of_each_abi_is_handled() {
        let plan = ruleset(false, Vec::new());
        let fs = |abi| handled_at(&plan, abi).0;
        assert_eq!(fs(1), 0x1fff);
        assert_eq!(fs(2), 0x3fff);
        assert_eq!(fs(3), 0x7fff);
        assert_eq!(fs(4), 0x7fff);
        assert_eq!(fs(5), 0xffff);
        assert_eq!(fs(7), 0xffff);
        assert_eq!(handled_at(&plan, 3).1, 0);
        assert_eq!(handled_at(&plan, 4).1, 3);
        let network = ruleset(true, Vec::new());
        assert_eq!(handled_at(&network, 4).1, 0, "network allowed by policy");
        assert_eq!(handled_at(&plan, 5).2, 0);
        assert_eq!(handled_at(&plan, 6).2, 3);
        // A kernel newer than pyward knows is used at the newest ABI pyward knows.
        assert_eq!(handled_at(&plan, 99), handled_at(&plan, 7));
        // The crate enforces all of it from ABI 6 on, as `Coverage::Full` always meant.
        let all = (
            plan.handled_fs.bits(),
            plan.handled_net.bits(),
            plan.scoped.bits(),
        );
        assert_ne!(handled_at(&plan, 5), all);
        assert_eq!(handled_at(&plan, 6), all);
    }

    #[test]
    fn the_report_says_what_the_kernel_enforced() {
        let at = |abi| LandlockStatus::Available {
            effective_abi: abi,
            kernel_abi: None,
        };
        assert_eq!(
            enforced(RulesetStatus::PartiallyEnforced, at(ABI::V5)),
            Ok((5, Coverage::Partial))
        );
        assert_eq!(
            enforced(RulesetStatus::FullyEnforced, at(ABI::V7)),
            Ok((7, Coverage::Full))
        );
        assert_eq!(
            enforced(RulesetStatus::FullyEnforced, at(ABI::V10)),
            Ok((7, Coverage::Full)),
            "the ABI reported is the one the ruleset was built for"
        );
        assert!(enforced(RulesetStatus::NotEnforced, at(ABI::V7)).is_err());
        assert!(enforced(RulesetStatus::NotEnforced, LandlockStatus::NotEnabled).is_err());
        assert!(enforced(RulesetStatus::FullyEnforced, LandlockStatus::NotImplemented).is_err());
    }

    #[test]
    fn read_paths_never_get_write_or_execute() {
        for is_dir in [true, false] {
            let access = read_access(is_dir);
            assert!(!access.intersects(AccessFs::WriteFile | AccessFs::Execute));
            assert!(access.contains(AccessFs::ReadFile));
        }
        assert!(!read_access(false).contains(AccessFs::ReadDir));
    }
}
