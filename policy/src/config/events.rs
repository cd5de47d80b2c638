//! `[events]`: chat events the bot forwards (`module.event`). The table as written is also what
//! the rest of pyward uses: validating it only checks it.

use serde::{Deserialize, Serialize};

use super::{Invalid, check_ranges};

/// `[events]`: chat events the bot forwards (`module.event`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct EventLimits {
    /// Size of one forwarded event (its JSON text).
    pub max_event_bytes: usize,
}

impl Default for EventLimits {
    fn default() -> Self {
        EventLimits {
            max_event_bytes: 16 * 1024,
        }
    }
}

impl EventLimits {
    pub(super) fn validate(self, errors: &mut Vec<Invalid>) -> EventLimits {
        let ranges: [(&str, usize, usize, usize); 1] =
            [("events.max_event_bytes", self.max_event_bytes, 64, 16 << 20)];
        check_ranges(errors, &ranges);
        self
    }
}

#[cfg(test)]
mod tests {
    use super::super::problems;
    use super::*;

    #[test]
    fn events_section_accepts_a_valid_table_and_refuses_a_bad_one() {
        let good = EventLimits {
            max_event_bytes: 64,
        };
        let (limits, found) = problems(|errors| good.validate(errors));
        assert!(found.is_empty(), "{found:?}");
        assert_eq!(limits, good);

        let bad = EventLimits {
            max_event_bytes: 63,
        };
        let (_, found) = problems(|errors| bad.validate(errors));
        assert_eq!(
            found,
            ["events.max_event_bytes: must be between 64 and 16777216"]
        );
    }
}
