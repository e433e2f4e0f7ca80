//! [`AdaptiveLimit`]: how many cases may be in flight, adjusted AIMD-style. A case
//! that met throttling halves the limit (multiplicative decrease); a case that did not
//! raises it by 1/limit (about one more slot per limit's worth of clean cases, the
//! additive increase), up to the configured maximum. Pure: the scheduler consults it.

#[derive(Debug, Clone, PartialEq)]
pub(crate) struct AdaptiveLimit {
    limit: f64,
    max: f64,
}

impl AdaptiveLimit {
    /// Starts at `max`: most suites never meet throttling and should not pay for a
    /// slow start.
    pub(crate) fn new(max: usize) -> AdaptiveLimit {
        let max = max.max(1) as f64;
        AdaptiveLimit { limit: max, max }
    }

    /// Cases that may run at once now.
    pub(crate) fn current(&self) -> usize {
        self.limit.floor().max(1.0) as usize
    }

    pub(crate) fn throttled(&mut self) {
        self.limit = (self.limit / 2.0).max(1.0);
    }

    pub(crate) fn succeeded(&mut self) {
        self.limit = (self.limit + 1.0 / self.limit).min(self.max);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn throttling_halves_and_success_climbs_back_slowly() {
        let mut l = AdaptiveLimit::new(8);
        assert_eq!(l.current(), 8);
        l.throttled();
        assert_eq!(l.current(), 4);
        l.throttled();
        l.throttled();
        l.throttled();
        assert_eq!(l.current(), 1, "never below one");
        let mut clean = 0;
        while l.current() < 2 {
            l.succeeded();
            clean += 1;
        }
        assert_eq!(clean, 1);
        while l.current() < 4 {
            l.succeeded();
            clean += 1;
        }
        assert!(clean >= 4, "additive increase: about one slot per limit's worth of cases ({clean})");
        for _ in 0..1000 {
            l.succeeded();
        }
        assert_eq!(l.current(), 8, "never above the maximum");
    }
}
