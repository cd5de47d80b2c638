//! `[storage]`: the key-value store the supervisor keeps for each loaded module. The table as
//! written is also what the rest of pyward uses: validating it only checks it.

use serde::{Deserialize, Serialize};

use super::{Invalid, check_ranges};

/// `[storage]`: the key-value store the supervisor keeps for each loaded module.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct StorageLimits {
    /// A module's quota when its manifest names no `storage_kb` (and the most it gets without
    /// an admin's approval).
    pub default_kb: u64,
    /// Keys one module may hold.
    pub max_keys: usize,
    /// Length of one key.
    pub max_key_bytes: usize,
    /// Size of one value (its JSON text).
    pub max_value_bytes: usize,
}

impl Default for StorageLimits {
    fn default() -> Self {
        StorageLimits {
            default_kb: 64,
            max_keys: 1000,
            max_key_bytes: 256,
            max_value_bytes: 16 * 1024,
        }
    }
}

impl StorageLimits {
    pub(super) fn validate(self, errors: &mut Vec<Invalid>) -> StorageLimits {
        let ranges: [(&str, usize, usize, usize); 4] = [
            ("storage.default_kb", self.default_kb as usize, 0, 1 << 20),
            ("storage.max_keys", self.max_keys, 1, 1_000_000),
            ("storage.max_key_bytes", self.max_key_bytes, 1, 4096),
            ("storage.max_value_bytes", self.max_value_bytes, 1, 16 << 20),
        ];
        check_ranges(errors, &ranges);
        self
    }
}

#[cfg(test)]
mod tests {
    use super::super::problems;
    use super::*;

    #[test]
    fn storage_section_accepts_a_valid_table_and_refuses_a_bad_one() {
        let good = StorageLimits {
            default_kb: 0,
            max_key_bytes: 4096,
            ..StorageLimits::default()
        };
        let (storage, found) = problems(|errors| good.validate(errors));
        assert!(found.is_empty(), "{found:?}");
        assert_eq!(storage, good);

        let bad = StorageLimits {
            default_kb: (1 << 20) + 1,
            max_keys: 0,
            ..StorageLimits::default()
        };
        let (_, found) = problems(|errors| bad.validate(errors));
        assert_eq!(
            found,
            [
                "storage.default_kb: must be between 0 and 1048576",
                "storage.max_keys: must be between 1 and 1000000",
            ]
        );
    }
}
