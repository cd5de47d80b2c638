//! `[budgets]`: what one module call, one module's declarations and one-shot runs may make the
//! supervisor hold or do.

use serde::{Deserialize, Serialize};

use super::{Invalid, check_ranges};

/// What one module call (or one peer's one-shot runs) may make the supervisor hold or do.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RawBudgets {
    pub max_host_calls_per_call: u32,
    pub max_host_call_args_bytes: usize,
    pub max_result_bytes: usize,
    pub max_commands: usize,
    pub max_command_name_bytes: usize,
    pub max_help_bytes: usize,
    pub max_one_shot_per_connection: usize,
    pub max_one_shot_workers: usize,
}

impl Default for RawBudgets {
    fn default() -> Self {
        RawBudgets {
            max_host_calls_per_call: 100,
            max_host_call_args_bytes: 64 * 1024,
            max_result_bytes: 256 * 1024,
            max_commands: 32,
            max_command_name_bytes: 64,
            max_help_bytes: 1024,
            max_one_shot_per_connection: 2,
            max_one_shot_workers: 8,
        }
    }
}

/// Budgets of one module call, one module's declarations and one-shot runs (`[budgets]`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Budgets {
    pub max_host_calls_per_call: u32,
    pub max_host_call_args_bytes: usize,
    pub max_result_bytes: usize,
    pub max_commands: usize,
    pub max_command_name_bytes: usize,
    pub max_help_bytes: usize,
    pub max_one_shot_per_connection: usize,
    pub max_one_shot_workers: usize,
}

impl RawBudgets {
    pub(super) fn validate(self, errors: &mut Vec<Invalid>) -> Budgets {
        let ranges: [(&str, usize, usize, usize); 8] = [
            (
                "budgets.max_host_calls_per_call",
                self.max_host_calls_per_call as usize,
                1,
                1_000_000,
            ),
            (
                "budgets.max_host_call_args_bytes",
                self.max_host_call_args_bytes,
                64,
                64 << 20,
            ),
            (
                "budgets.max_result_bytes",
                self.max_result_bytes,
                16,
                32 << 20,
            ),
            ("budgets.max_commands", self.max_commands, 1, 10_000),
            (
                "budgets.max_command_name_bytes",
                self.max_command_name_bytes,
                1,
                1024,
            ),
            ("budgets.max_help_bytes", self.max_help_bytes, 0, 1 << 20),
            (
                "budgets.max_one_shot_per_connection",
                self.max_one_shot_per_connection,
                1,
                4096,
            ),
            (
                "budgets.max_one_shot_workers",
                self.max_one_shot_workers,
                1,
                4096,
            ),
        ];
        check_ranges(errors, &ranges);
        Budgets {
            max_host_calls_per_call: self.max_host_calls_per_call,
            max_host_call_args_bytes: self.max_host_call_args_bytes,
            max_result_bytes: self.max_result_bytes,
            max_commands: self.max_commands,
            max_command_name_bytes: self.max_command_name_bytes,
            max_help_bytes: self.max_help_bytes,
            max_one_shot_per_connection: self.max_one_shot_per_connection,
            max_one_shot_workers: self.max_one_shot_workers,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::problems;
    use super::*;

    #[test]
    fn budgets_section_accepts_a_valid_table_and_refuses_a_bad_one() {
        let good = RawBudgets {
            max_help_bytes: 0,
            max_one_shot_workers: 4096,
            ..RawBudgets::default()
        };
        let (budgets, found) = problems(|errors| good.validate(errors));
        assert!(found.is_empty(), "{found:?}");
        assert_eq!(budgets.max_one_shot_workers, 4096);

        let bad = RawBudgets {
            max_result_bytes: 15,
            max_commands: 10_001,
            ..RawBudgets::default()
        };
        let (_, found) = problems(|errors| bad.validate(errors));
        assert_eq!(
            found,
            [
                "budgets.max_result_bytes: must be between 16 and 33554432",
                "budgets.max_commands: must be between 1 and 10000",
            ]
        );
    }
}
