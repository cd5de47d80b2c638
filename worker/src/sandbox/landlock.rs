//! Landlock rule sets, as values: which access rights the running kernel's ABI can handle, and
//! the read-only rules for the policy's read paths. Every right the ABI knows is handled (so it
//! is denied unless a rule grants it); rules grant only reading.

/// File-system access rights (`LANDLOCK_ACCESS_FS_*`) and the ABI that introduced them.
pub const FS_EXECUTE: u64 = 1 << 0;
pub const FS_WRITE_FILE: u64 = 1 << 1;
pub const FS_READ_FILE: u64 = 1 << 2;
pub const FS_READ_DIR: u64 = 1 << 3;
/// ABI 1 handles bits 0..=12 (execute, write, read, remove, make-*).
const FS_ABI1: u64 = (1 << 13) - 1;
const FS_REFER: u64 = 1 << 13; // ABI 2
const FS_TRUNCATE: u64 = 1 << 14; // ABI 3
const FS_IOCTL_DEV: u64 = 1 << 15; // ABI 5
pub const NET_BIND_TCP: u64 = 1 << 0; // ABI 4
pub const NET_CONNECT_TCP: u64 = 1 << 1; // ABI 4
pub const SCOPE_ABSTRACT_UNIX_SOCKET: u64 = 1 << 0; // ABI 6
pub const SCOPE_SIGNAL: u64 = 1 << 1; // ABI 6

/// The newest ABI this code knows the rights of. Newer kernels are used at this level.
pub const NEWEST_KNOWN_ABI: u32 = 7;

/// What to ask the kernel for, given its ABI.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ruleset {
    pub abi: u32,
    pub handled_fs: u64,
    pub handled_net: u64,
    pub scoped: u64,
    /// How many bytes of `landlock_ruleset_attr` this ABI reads.
    pub attr_size: usize,
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

pub fn ruleset(kernel_abi: u32, network_allowed: bool) -> Ruleset {
    let abi = kernel_abi.min(NEWEST_KNOWN_ABI);
    let mut fs = FS_ABI1;
    if abi >= 2 {
        fs |= FS_REFER;
    }
    if abi >= 3 {
        fs |= FS_TRUNCATE;
    }
    if abi >= 5 {
        fs |= FS_IOCTL_DEV;
    }
    let net = if abi >= 4 && !network_allowed {
        NET_BIND_TCP | NET_CONNECT_TCP
    } else {
        0
    };
    let scoped = if abi >= 6 {
        SCOPE_ABSTRACT_UNIX_SOCKET | SCOPE_SIGNAL
    } else {
        0
    };
    let attr_size = match abi {
        0..=3 => 8,
        4..=5 => 16,
        _ => 24,
    };
    Ruleset {
        abi,
        handled_fs: fs,
        handled_net: net,
        scoped,
        attr_size,
    }
}

pub fn coverage(ruleset: &Ruleset) -> Coverage {
    if ruleset.abi >= 6 {
        Coverage::Full
    } else {
        Coverage::Partial
    }
}

/// Rights a read path gets: reading files, and listing if it is a directory. Never execute.
pub fn read_access(is_dir: bool) -> u64 {
    if is_dir {
        FS_READ_FILE | FS_READ_DIR
    } else {
        FS_READ_FILE
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_right_of_each_abi_is_handled() {
        assert_eq!(ruleset(1, false).handled_fs, 0x1fff);
        assert_eq!(ruleset(2, false).handled_fs, 0x3fff);
        assert_eq!(ruleset(3, false).handled_fs, 0x7fff);
        assert_eq!(ruleset(4, false).handled_fs, 0x7fff);
        assert_eq!(ruleset(5, false).handled_fs, 0xffff);
        assert_eq!(ruleset(7, false).handled_fs, 0xffff);
        assert_eq!(ruleset(3, false).handled_net, 0);
        assert_eq!(ruleset(4, false).handled_net, 3);
        assert_eq!(ruleset(4, true).handled_net, 0, "network allowed by policy");
        assert_eq!(ruleset(5, false).scoped, 0);
        assert_eq!(ruleset(6, false).scoped, 3);
        assert_eq!(ruleset(99, false).abi, NEWEST_KNOWN_ABI);
        assert_eq!(
            [1, 4, 6].map(|abi| ruleset(abi, false).attr_size),
            [8, 16, 24]
        );
        assert_eq!(coverage(&ruleset(5, false)), Coverage::Partial);
        assert_eq!(coverage(&ruleset(7, false)), Coverage::Full);
    }

    #[test]
    fn read_paths_never_get_write_or_execute() {
        for is_dir in [true, false] {
            let access = read_access(is_dir);
            assert_eq!(access & (FS_WRITE_FILE | FS_EXECUTE), 0);
            assert_ne!(access & FS_READ_FILE, 0);
        }
        assert_eq!(read_access(false) & FS_READ_DIR, 0);
    }
}
