//! When to send a failed request again, and after how long (notes §6.3).
//!
//! - 429 and throttled `$batch` items: exactly `Retry-After` (integer or fractional seconds,
//!   or an HTTP date), never earlier.
//! - 5xx, timeouts and resets: exponential backoff with jitter, bounded in attempts and delay;
//!   a `Retry-After` on a 503 is honoured as the lower bound.
//! - 400/401 (after one token refresh)/403/404/409: terminal at once.

use std::time::{Duration, SystemTime};

use rand::Rng;

/// Retry limits.
#[derive(Debug, Clone, PartialEq)]
pub struct RetryPolicy {
    /// Attempts for transient failures (5xx, timeouts, resets), the first included.
    pub max_attempts: u32,
    /// First backoff delay.
    pub base_delay: Duration,
    /// Largest backoff delay.
    pub max_delay: Duration,
    /// Throttled requests are retried after their `Retry-After` until they have waited this
    /// long in total (429 storms end; a request does not give up during one).
    pub max_throttle_wait: Duration,
    /// Used when a 429 carries no `Retry-After`.
    pub default_retry_after: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            max_attempts: 6,
            base_delay: Duration::from_millis(250),
            max_delay: Duration::from_secs(30),
            max_throttle_wait: Duration::from_secs(15 * 60),
            default_retry_after: Duration::from_secs(1),
        }
    }
}

impl RetryPolicy {
    /// Backoff before retry number `attempt` (1 = first retry): `base * 2^(attempt-1)` capped
    /// at `max_delay`, with "equal jitter" (a random point in the upper half) so that many
    /// clients hit by the same outage do not retry in lockstep.
    pub fn backoff(&self, attempt: u32) -> Duration {
        let exp = attempt.saturating_sub(1).min(20);
        let ceiling = self
            .base_delay
            .saturating_mul(1u32 << exp)
            .min(self.max_delay);
        let half = ceiling / 2;
        let jitter = rand::rng().random_range(0.0..=1.0);
        half + half.mul_f64(jitter)
    }

    /// The wait before retrying a transient failure: the backoff, or the server's
    /// `Retry-After` when that is longer.
    pub fn transient_delay(&self, attempt: u32, retry_after: Option<Duration>) -> Duration {
        let backoff = self.backoff(attempt);
        retry_after.map_or(backoff, |ra| ra.max(backoff))
    }
}

/// The longest `Retry-After` honoured: a server asking for more (or for `1e30` seconds) gets
/// this, so that no response can park a tenant for good or overflow a timer.
pub const MAX_RETRY_AFTER: Duration = Duration::from_secs(3600);

/// Parses `Retry-After`: delay seconds (`"2"`, `"2.128"`) or an HTTP date; at most
/// [`MAX_RETRY_AFTER`].
pub fn parse_retry_after(value: &str) -> Option<Duration> {
    let v = value.trim();
    if let Ok(secs) = v.parse::<f64>() {
        if !(secs.is_finite() && secs >= 0.0) {
            return None;
        }
        return Some(
            Duration::try_from_secs_f64(secs).map_or(MAX_RETRY_AFTER, |d| d.min(MAX_RETRY_AFTER)),
        );
    }
    let at = httpdate::parse_http_date(v).ok()?;
    Some(
        at.duration_since(SystemTime::now())
            .unwrap_or(Duration::ZERO)
            .min(MAX_RETRY_AFTER),
    )
}

/// `Request_ThrottledTemporarily` messages say "Please try after N seconds." (notes §6.3).
pub fn retry_after_from_message(message: &str) -> Option<Duration> {
    let rest = message.split("try after ").nth(1)?;
    let number: String = rest
        .chars()
        .take_while(|c| c.is_ascii_digit() || *c == '.')
        .collect();
    parse_retry_after(&number)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_after_accepts_integer_fractional_and_date() {
        assert_eq!(parse_retry_after("2"), Some(Duration::from_secs(2)));
        assert_eq!(
            parse_retry_after("2.128"),
            Some(Duration::from_millis(2128))
        );
        assert_eq!(
            parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT"),
            Some(Duration::ZERO)
        );
        assert_eq!(parse_retry_after("soon"), None);
        assert_eq!(parse_retry_after("-1"), None);
    }

    #[test]
    fn a_huge_retry_after_is_capped_instead_of_panicking() {
        assert_eq!(parse_retry_after("1e30"), Some(MAX_RETRY_AFTER));
        assert_eq!(
            parse_retry_after("18446744073709551616"),
            Some(MAX_RETRY_AFTER)
        );
        assert_eq!(parse_retry_after("86400"), Some(MAX_RETRY_AFTER));
        assert_eq!(parse_retry_after("NaN"), None);
        assert_eq!(parse_retry_after("inf"), None);
        assert_eq!(
            retry_after_from_message("Please try after 99999999999999999999999999 seconds."),
            Some(MAX_RETRY_AFTER)
        );
    }

    #[test]
    fn backoff_grows_exponentially_and_is_capped() {
        let p = RetryPolicy::default();
        for attempt in 1..10 {
            let d = p.backoff(attempt);
            let ceiling = (p.base_delay * (1 << (attempt - 1))).min(p.max_delay);
            assert!(d >= ceiling / 2 && d <= ceiling, "{attempt}: {d:?}");
        }
        assert!(p.backoff(64) <= p.max_delay);
    }

    #[test]
    fn throttled_temporarily_message_gives_the_delay() {
        assert_eq!(
            retry_after_from_message(
                "Your request is throttled temporarily. Please try after 3 seconds."
            ),
            Some(Duration::from_secs(3))
        );
    }
}
