//! `[rate_limit]`: calls allowed per (caller, module) in a sliding window.

use serde::{Deserialize, Serialize};

use super::{Invalid, check_ranges, invalid};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RawRateLimit {
    pub calls_per_window: u32,
    pub window_seconds: u64,
}

impl Default for RawRateLimit {
    fn default() -> Self {
        RawRateLimit {
            calls_per_window: 60,
            window_seconds: 60,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RateLimit {
    pub calls_per_window: u32,
    pub window_seconds: u64,
}

impl RawRateLimit {
    pub(super) fn validate(self, errors: &mut Vec<Invalid>) -> RateLimit {
        if self.calls_per_window == 0 {
            errors.push(invalid("rate_limit.calls_per_window", "must be at least 1"));
        }
        check_ranges(
            errors,
            &[("rate_limit.window_seconds", self.window_seconds, 1, 86_400)],
        );
        RateLimit {
            calls_per_window: self.calls_per_window,
            window_seconds: self.window_seconds,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::problems;
    use super::*;

    #[test]
    fn rate_limit_section_accepts_a_valid_table_and_refuses_a_bad_one() {
        let good = RawRateLimit {
            calls_per_window: 1,
            window_seconds: 86_400,
        };
        let (limit, found) = problems(|errors| good.validate(errors));
        assert!(found.is_empty(), "{found:?}");
        assert_eq!(limit.window_seconds, 86_400);

        let bad = RawRateLimit {
            calls_per_window: 0,
            window_seconds: 86_401,
        };
        let (_, found) = problems(|errors| bad.validate(errors));
        assert_eq!(
            found,
            [
                "rate_limit.calls_per_window: must be at least 1",
                "rate_limit.window_seconds: must be between 1 and 86400",
            ]
        );
    }
}
