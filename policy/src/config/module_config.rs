//! `[module_config]`: admin-set values a module reads with `pyward.config(key)`. The table as
//! written is also what the rest of pyward uses: validating it only checks it.

use serde::{Deserialize, Serialize};

use super::{Invalid, check_ranges};

/// `[module_config]`: admin-set values a module reads with `pyward.config(key)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ConfigLimits {
    /// Config keys one manifest may declare.
    pub max_keys: usize,
    /// Size of one value (its JSON text).
    pub max_value_bytes: usize,
}

impl Default for ConfigLimits {
    fn default() -> Self {
        ConfigLimits {
            max_keys: 16,
            max_value_bytes: 4096,
        }
    }
}

impl ConfigLimits {
    pub(super) fn validate(self, errors: &mut Vec<Invalid>) -> ConfigLimits {
        let ranges: [(&str, usize, usize, usize); 2] = [
            ("module_config.max_keys", self.max_keys, 0, 1024),
            (
                "module_config.max_value_bytes",
                self.max_value_bytes,
                1,
                1 << 20,
            ),
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
    fn module_config_section_accepts_a_valid_table_and_refuses_a_bad_one() {
        let good = ConfigLimits {
            max_keys: 0,
            max_value_bytes: 1 << 20,
        };
        let (limits, found) = problems(|errors| good.validate(errors));
        assert!(found.is_empty(), "{found:?}");
        assert_eq!(limits, good);

        let bad = ConfigLimits {
            max_keys: 1025,
            max_value_bytes: 0,
        };
        let (_, found) = problems(|errors| bad.validate(errors));
        assert_eq!(
            found,
            [
                "module_config.max_keys: must be between 0 and 1024",
                "module_config.max_value_bytes: must be between 1 and 1048576",
            ]
        );
    }
}
