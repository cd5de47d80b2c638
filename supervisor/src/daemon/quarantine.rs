//! Module health, as in the pipeline seed: the score starts at `initial_score`, a success
//! multiplies it by `success_factor` (capped at 100), a failure by `failure_factor`; after
//! `consecutive_failures` failures in a row the module is quarantined until an owner releases
//! it. Sandbox violations, timeouts and crashes are failures.

use pyward_policy::config::QuarantineConfig;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Health {
    pub score: f64,
    pub consecutive_failures: u32,
    pub quarantined: bool,
    pub last_violation: Option<String>,
}

impl Health {
    pub fn new(config: &QuarantineConfig) -> Health {
        Health {
            score: config.initial_score,
            consecutive_failures: 0,
            quarantined: false,
            last_violation: None,
        }
    }

    pub fn record_success(&mut self, config: &QuarantineConfig) {
        self.score = (self.score * config.success_factor).min(100.0);
        self.consecutive_failures = 0;
    }

    /// Returns true when this failure is the one that quarantines the module.
    pub fn record_failure(&mut self, config: &QuarantineConfig, what: &str) -> bool {
        self.score *= config.failure_factor;
        self.consecutive_failures += 1;
        self.last_violation = Some(what.to_string());
        if !self.quarantined && self.consecutive_failures >= config.consecutive_failures {
            self.quarantined = true;
            return true;
        }
        false
    }

    pub fn release(&mut self) {
        self.quarantined = false;
        self.consecutive_failures = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config() -> QuarantineConfig {
        pyward_policy::Policy::default().quarantine
    }

    #[test]
    fn scores_follow_the_seed() {
        let c = config();
        let mut h = Health::new(&c);
        h.record_success(&c);
        assert_eq!(h.score, 100.0, "capped at 100");
        h.record_failure(&c, "timeout");
        assert!((h.score - 85.0).abs() < 1e-9);
        h.record_success(&c);
        assert!((h.score - 86.7).abs() < 1e-9);
        assert_eq!(h.consecutive_failures, 0);
    }

    #[test]
    fn three_failures_in_a_row_quarantine_until_released() {
        let c = config();
        let mut h = Health::new(&c);
        assert!(!h.record_failure(&c, "a"));
        assert!(!h.record_failure(&c, "b"));
        assert!(h.record_failure(&c, "seccomp: execve"));
        assert!(h.quarantined);
        assert!(!h.record_failure(&c, "d"), "only the first quarantines");
        assert_eq!(h.last_violation.as_deref(), Some("d"));
        h.release();
        assert!(!h.quarantined);
        assert_eq!(h.consecutive_failures, 0);
    }
}
