//! `[schedules]`: `@pyward.every(seconds)` and `pyward.schedule_at(...)`. The table as written is
//! also what the rest of pyward uses: validating it only checks it.

use serde::{Deserialize, Serialize};

use super::{Invalid, check_ranges};

/// `[schedules]`: `@pyward.every(seconds)` and `pyward.schedule_at(...)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ScheduleLimits {
    /// Shortest period of `@pyward.every`.
    pub min_interval_seconds: u64,
    /// Periodic handlers one module may declare.
    pub max_periodic_per_module: usize,
    /// One-off runs one module may have pending.
    pub max_pending_per_module: usize,
    /// Size of a one-off's payload (its JSON text).
    pub max_payload_bytes: usize,
    /// How far ahead a one-off may be set.
    pub max_delay_days: u64,
    /// How long a host call of an event or a schedule waits for a subscribed bot.
    pub subscriber_wait_ms: u64,
}

impl Default for ScheduleLimits {
    fn default() -> Self {
        ScheduleLimits {
            min_interval_seconds: 60,
            max_periodic_per_module: 8,
            max_pending_per_module: 100,
            max_payload_bytes: 4096,
            max_delay_days: 366,
            subscriber_wait_ms: 5000,
        }
    }
}

impl ScheduleLimits {
    pub(super) fn validate(self, errors: &mut Vec<Invalid>) -> ScheduleLimits {
        let ranges: [(&str, usize, usize, usize); 6] = [
            (
                "schedules.min_interval_seconds",
                self.min_interval_seconds as usize,
                1,
                86_400,
            ),
            (
                "schedules.max_periodic_per_module",
                self.max_periodic_per_module,
                0,
                1024,
            ),
            (
                "schedules.max_pending_per_module",
                self.max_pending_per_module,
                0,
                100_000,
            ),
            (
                "schedules.max_payload_bytes",
                self.max_payload_bytes,
                2,
                1 << 20,
            ),
            (
                "schedules.max_delay_days",
                self.max_delay_days as usize,
                1,
                3660,
            ),
            (
                "schedules.subscriber_wait_ms",
                self.subscriber_wait_ms as usize,
                0,
                3_600_000,
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
    fn schedules_section_accepts_a_valid_table_and_refuses_a_bad_one() {
        let good = ScheduleLimits {
            min_interval_seconds: 1,
            max_periodic_per_module: 0,
            subscriber_wait_ms: 0,
            ..ScheduleLimits::default()
        };
        let (limits, found) = problems(|errors| good.validate(errors));
        assert!(found.is_empty(), "{found:?}");
        assert_eq!(limits, good);

        let bad = ScheduleLimits {
            max_payload_bytes: 1,
            max_delay_days: 3661,
            ..ScheduleLimits::default()
        };
        let (_, found) = problems(|errors| bad.validate(errors));
        assert_eq!(
            found,
            [
                "schedules.max_payload_bytes: must be between 2 and 1048576",
                "schedules.max_delay_days: must be between 1 and 3660",
            ]
        );
    }
}
