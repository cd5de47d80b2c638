//! Sliding-window rate limiting per (caller, module), as in the pipeline seed: at most N calls
//! in any window of W seconds.

use std::collections::{HashMap, VecDeque};

#[derive(Debug)]
pub struct RateLimiter {
    max: usize,
    window_ms: u64,
    hits: HashMap<(String, String), VecDeque<u64>>,
}

impl RateLimiter {
    pub fn new(max: u32, window_seconds: u64) -> RateLimiter {
        RateLimiter {
            max: max as usize,
            window_ms: window_seconds * 1000,
            hits: HashMap::new(),
        }
    }

    /// Record a call at `now_ms` if the window has room; `false` (nothing recorded) if not.
    pub fn try_acquire(&mut self, caller: &str, module: &str, now_ms: u64) -> bool {
        let window = self
            .hits
            .entry((caller.to_string(), module.to_string()))
            .or_default();
        while window
            .front()
            .is_some_and(|&t| now_ms.saturating_sub(t) >= self.window_ms)
        {
            window.pop_front();
        }
        if window.len() >= self.max {
            return false;
        }
        window.push_back(now_ms);
        true
    }

    /// Forget callers with no calls left in their window (keeps memory flat under churn).
    pub fn prune(&mut self, now_ms: u64) {
        let window_ms = self.window_ms;
        self.hits.retain(|_, w| {
            w.back()
                .is_some_and(|&t| now_ms.saturating_sub(t) < window_ms)
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sixty_a_minute_per_caller_and_module() {
        let mut limiter = RateLimiter::new(60, 60);
        for i in 0..60 {
            assert!(limiter.try_acquire("@a", "notes", i * 10));
        }
        assert!(
            !limiter.try_acquire("@a", "notes", 700),
            "the 61st call in a minute"
        );
        assert!(
            limiter.try_acquire("@b", "notes", 700),
            "another caller has its own window"
        );
        assert!(
            limiter.try_acquire("@a", "dice", 700),
            "another module has its own window"
        );
        assert!(
            limiter.try_acquire("@a", "notes", 60_000),
            "the first call left the window"
        );
        assert!(!limiter.try_acquire("@a", "notes", 60_001));
    }

    #[test]
    fn refused_calls_do_not_count() {
        let mut limiter = RateLimiter::new(1, 10);
        assert!(limiter.try_acquire("@a", "m", 0));
        for t in 1..100 {
            assert!(!limiter.try_acquire("@a", "m", t));
        }
        assert!(limiter.try_acquire("@a", "m", 10_000));
    }

    #[test]
    fn pruning_forgets_idle_callers() {
        let mut limiter = RateLimiter::new(5, 1);
        for i in 0..1000 {
            limiter.try_acquire(&format!("@u{i}"), "m", 0);
        }
        limiter.prune(5_000);
        assert!(limiter.hits.is_empty());
    }
}
