//! `[quarantine]`: the health score of each module, and when failures quarantine it.

use serde::{Deserialize, Serialize};

use super::{Invalid, invalid};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RawQuarantine {
    pub consecutive_failures: u32,
    pub success_factor: f64,
    pub failure_factor: f64,
    pub initial_score: f64,
}

impl Default for RawQuarantine {
    fn default() -> Self {
        RawQuarantine {
            consecutive_failures: 3,
            success_factor: 1.02,
            failure_factor: 0.85,
            initial_score: 100.0,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct QuarantineConfig {
    pub consecutive_failures: u32,
    pub success_factor: f64,
    pub failure_factor: f64,
    pub initial_score: f64,
}

impl RawQuarantine {
    pub(super) fn validate(self, errors: &mut Vec<Invalid>) -> QuarantineConfig {
        if self.consecutive_failures == 0 {
            errors.push(invalid(
                "quarantine.consecutive_failures",
                "must be at least 1",
            ));
        }
        // Written so that NaN fails each check.
        if !(self.success_factor >= 1.0 && self.success_factor <= 2.0) {
            errors.push(invalid(
                "quarantine.success_factor",
                "must be between 1.0 and 2.0",
            ));
        }
        if !(self.failure_factor > 0.0 && self.failure_factor < 1.0) {
            errors.push(invalid(
                "quarantine.failure_factor",
                "must be above 0.0 and below 1.0",
            ));
        }
        if !(self.initial_score > 0.0 && self.initial_score <= 100.0) {
            errors.push(invalid(
                "quarantine.initial_score",
                "must be above 0 and at most 100",
            ));
        }
        QuarantineConfig {
            consecutive_failures: self.consecutive_failures,
            success_factor: self.success_factor,
            failure_factor: self.failure_factor,
            initial_score: self.initial_score,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::problems;
    use super::*;

    #[test]
    fn quarantine_section_accepts_a_valid_table_and_refuses_a_bad_one() {
        let good = RawQuarantine {
            consecutive_failures: 1,
            success_factor: 2.0,
            failure_factor: 0.5,
            initial_score: 50.0,
        };
        let (quarantine, found) = problems(|errors| good.validate(errors));
        assert!(found.is_empty(), "{found:?}");
        assert_eq!(quarantine.initial_score, 50.0);

        let bad = RawQuarantine {
            consecutive_failures: 0,
            success_factor: f64::NAN,
            failure_factor: 1.0,
            initial_score: 0.0,
        };
        let (_, found) = problems(|errors| bad.validate(errors));
        assert_eq!(
            found,
            [
                "quarantine.consecutive_failures: must be at least 1",
                "quarantine.success_factor: must be between 1.0 and 2.0",
                "quarantine.failure_factor: must be above 0.0 and below 1.0",
                "quarantine.initial_score: must be above 0 and at most 100",
            ]
        );
    }
}
