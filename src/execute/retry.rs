//! [`RetryPolicy`]: exponential backoff with full jitter, honouring `Retry-After`,
//! bounded by an attempt count and by the case's deadline.

use std::time::Duration;

use super::CallError;

#[derive(Debug, Clone, PartialEq)]
pub struct RetryPolicy {
    /// Attempts in all, the first included. 1 disables retries.
    pub(crate) max_attempts: u32,
    /// The ceiling of the first backoff; it doubles with each attempt.
    pub(crate) base: Duration,
    /// No single wait is longer than this.
    pub(crate) max_delay: Duration,
}

impl Default for RetryPolicy {
    /// Like the AWS SDKs' standard mode: 3 attempts, 1 s base, 20 s cap.
    fn default() -> Self {
        RetryPolicy { max_attempts: 3, base: Duration::from_secs(1), max_delay: Duration::from_secs(20) }
    }
}

impl RetryPolicy {
    pub fn none() -> Self {
        RetryPolicy { max_attempts: 1, ..RetryPolicy::default() }
    }

    /// How long to wait before attempt `attempt + 1`, or `None` to give up: the error
    /// is final, the attempts are spent, or the wait would outlast the deadline.
    pub(crate) fn next_delay(&self, attempt: u32, error: &CallError, remaining: Duration) -> Option<Duration> {
        self.delay_with(attempt, error, remaining, fastrand::f64())
    }

    /// [`next_delay`](Self::next_delay) with the jitter given, for tests.
    pub(crate) fn delay_with(
        &self,
        attempt: u32,
        error: &CallError,
        remaining: Duration,
        jitter: f64,
    ) -> Option<Duration> {
        if !error.retryable || attempt >= self.max_attempts {
            return None;
        }
        let ceiling = self.base.saturating_mul(1u32 << (attempt - 1).min(16)).min(self.max_delay);
        let backoff = ceiling.mul_f64(jitter.clamp(0.0, 1.0));
        // The server knows its own load better than our guess: its wait is honoured in
        // full, and one that outlasts the deadline ends the case now, throttle reported.
        let delay = error.retry_after.map_or(backoff, |asked| asked.max(backoff));
        (delay < remaining).then_some(delay)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::response::ErrorKind;

    fn throttled() -> CallError {
        CallError::new(ErrorKind::Throttled, Some(429), "slow down")
    }

    #[test]
    fn backoff_doubles_and_is_capped() {
        let p =
            RetryPolicy { max_attempts: 10, base: Duration::from_millis(100), max_delay: Duration::from_millis(500) };
        let far = Duration::from_secs(60);
        let delays: Vec<_> = (1..6).map(|a| p.delay_with(a, &throttled(), far, 1.0).unwrap().as_millis()).collect();
        assert_eq!(delays, [100, 200, 400, 500, 500]);
        assert_eq!(p.delay_with(1, &throttled(), far, 0.5), Some(Duration::from_millis(50)));
    }

    #[test]
    fn retry_after_is_honoured() {
        let p = RetryPolicy::default();
        let mut e = throttled();
        e.retry_after = Some(Duration::from_secs(3));
        assert_eq!(p.delay_with(1, &e, Duration::from_secs(60), 0.1), Some(Duration::from_secs(3)));
        e.retry_after = Some(Duration::from_secs(45));
        assert_eq!(
            p.delay_with(1, &e, Duration::from_secs(60), 0.1),
            Some(Duration::from_secs(45)),
            "beyond max_delay"
        );
    }

    /// Issue 13: a `Retry-After` that outlasts the case's deadline gives up at once.
    #[test]
    fn retry_after_past_the_deadline_gives_up_at_once() {
        let mut e = throttled();
        e.retry_after = crate::response::retry_after("1e20", std::time::SystemTime::now());
        assert_eq!(e.retry_after, None, "unrepresentable: not honoured, and no panic");
        e.retry_after = Some(Duration::from_secs(3600));
        assert_eq!(RetryPolicy::default().delay_with(1, &e, Duration::from_secs(120), 0.5), None);
    }

    #[test]
    fn gives_up_on_final_errors_spent_attempts_and_the_deadline() {
        let p = RetryPolicy::default();
        let invalid = CallError::new(ErrorKind::InvalidRequest, Some(400), "bad");
        assert_eq!(p.delay_with(1, &invalid, Duration::from_secs(60), 1.0), None);
        assert_eq!(p.delay_with(3, &throttled(), Duration::from_secs(60), 1.0), None);
        assert_eq!(p.delay_with(1, &throttled(), Duration::from_millis(10), 1.0), None);
        assert_eq!(RetryPolicy::none().delay_with(1, &throttled(), Duration::from_secs(60), 1.0), None);
    }
}
