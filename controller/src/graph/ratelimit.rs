//! Keeps the client inside the tenant's Graph budget instead of running into 429s (notes §6.2).
//!
//! The directory service budgets each app+tenant pair with token buckets: resource units
//! (3,500 / 5,000 / 8,000 per 10 s by tenant size) and writes (3,000 per 150 s per app+tenant,
//! 18,000 per 5 min per tenant). The client mirrors those buckets locally:
//!
//! - every request *reserves* its cost before it is sent; a bucket may go negative, and the
//!   request then sleeps until the refill has paid the debt (virtual scheduling). So a full
//!   bucket is spent at once (the burst the window allows), after which requests leave exactly
//!   at the refill rate, in order, however many tasks are waiting;
//! - a small `headroom` of each bucket is never spent, which absorbs the jitter between the
//!   moment a request is scheduled and the moment the service counts it;
//! - the service corrects the model: `x-ms-resource-unit` replaces the estimated read cost, and a
//!   429 with `x-ms-throttle-information: WriteLimitExceeded` (or `ResourceUnitLimitExceeded`)
//!   empties the local bucket and pauses it for `Retry-After` (another client of the same app
//!   may be spending the budget too).
//!
//! All windows are divided by `time_scale`, for simulators that compress time.

use std::sync::Mutex;
use std::time::{Duration, Instant};

use reqwest::Method;

/// The budget the limiter keeps to.
#[derive(Debug, Clone, PartialEq)]
pub struct RateLimits {
    /// Off: requests are never delayed by the limiter (429s are still honoured).
    pub enabled: bool,
    /// Writes per app+tenant per `write_window` (3,000).
    pub writes: f64,
    /// 150 s.
    pub write_window: Duration,
    /// Writes per tenant (all apps) per `tenant_write_window` (18,000).
    pub tenant_writes: f64,
    /// 300 s.
    pub tenant_write_window: Duration,
    /// Resource units per `resource_unit_window`; `None` picks by tenant size (3,500 below 50
    /// users, 5,000 up to 500, 8,000 above), starting at the smallest until the size is known.
    pub resource_units: Option<f64>,
    /// 10 s.
    pub resource_unit_window: Duration,
    /// Time compression of the service (1.0 for Microsoft; 10.0 makes 150 s last 15 s).
    pub time_scale: f64,
    /// Fraction of each bucket's capacity never spent (jitter margin), e.g. 0.02.
    pub headroom: f64,
}

impl Default for RateLimits {
    fn default() -> Self {
        RateLimits {
            enabled: true,
            writes: 3_000.0,
            write_window: Duration::from_secs(150),
            tenant_writes: 18_000.0,
            tenant_write_window: Duration::from_secs(300),
            resource_units: None,
            resource_unit_window: Duration::from_secs(10),
            time_scale: 1.0,
            headroom: 0.02,
        }
    }
}

/// Resource units per 10 s for a tenant of `users` users (notes §6.2).
pub fn resource_units_for(users: usize) -> f64 {
    if users < 50 {
        3_500.0
    } else if users <= 500 {
        5_000.0
    } else {
        8_000.0
    }
}

/// What one request costs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Cost {
    /// Resource units.
    pub ru: u32,
    /// Write units.
    pub writes: u32,
}

impl Cost {
    /// The documented cost of a request (notes §6.2): writes 1 RU + 1 write; `GET users` 2,
    /// `GET subscribedSkus` 3, `GET users/{id}/licenseDetails` 2, other reads 1; `$select` −1,
    /// `$expand` +1, `$top` < 20 −1, never below 1. `path` is relative to `/v1.0`.
    pub fn estimate(method: &Method, path_and_query: &str) -> Cost {
        if method != Method::GET && method != Method::HEAD {
            return Cost { ru: 1, writes: 1 };
        }
        let (path, query) = path_and_query
            .split_once('?')
            .unwrap_or((path_and_query, ""));
        let segments: Vec<&str> = path.trim_matches('/').split('/').collect();
        let mut ru: i64 = match segments.as_slice() {
            ["users"] | ["users", _] => 2,
            ["users", _, "licenseDetails"] => 2,
            ["subscribedSkus"] | ["subscribedSkus", _] => 3,
            ["groups", _, "members"] => 3,
            _ => 1,
        };
        for pair in query.split('&') {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            let k = k.replace("%24", "$");
            match k.as_str() {
                "$select" => ru -= 1,
                "$expand" => ru += 1,
                "$top" if v.parse::<u32>().is_ok_and(|t| t < 20) => ru -= 1,
                _ => {}
            }
        }
        Cost {
            ru: u32::try_from(ru.max(1)).unwrap_or(1),
            writes: 0,
        }
    }

    /// The sum of two costs.
    pub fn plus(self, other: Cost) -> Cost {
        Cost {
            ru: self.ru + other.ru,
            writes: self.writes + other.writes,
        }
    }
}

#[derive(Debug)]
struct Bucket {
    capacity: f64,
    rate: f64,
    level: f64,
    /// Refill time; in the future while paused.
    last: Instant,
}

impl Bucket {
    fn new(capacity: f64, window: Duration, scale: f64, headroom: f64, now: Instant) -> Bucket {
        let usable = (capacity * (1.0 - headroom)).max(1.0);
        Bucket {
            capacity: usable,
            rate: capacity / window.as_secs_f64().max(1e-9) * scale,
            level: usable,
            last: now,
        }
    }

    fn refill(&mut self, now: Instant) {
        if now > self.last {
            let dt = now.duration_since(self.last).as_secs_f64();
            self.level = (self.level + dt * self.rate).min(self.capacity);
            self.last = now;
        }
    }

    /// Takes `cost` and returns how long the caller must wait before sending.
    fn reserve(&mut self, cost: f64, now: Instant) -> Duration {
        self.refill(now);
        self.level -= cost;
        let paused = self.last.saturating_duration_since(now);
        if self.level >= 0.0 {
            paused
        } else {
            paused + Duration::from_secs_f64(-self.level / self.rate)
        }
    }

    fn refund(&mut self, amount: f64, now: Instant) {
        self.refill(now);
        self.level = (self.level + amount).min(self.capacity);
    }

    /// The service says the bucket is empty: nothing is left, and nothing refills for `wait`.
    fn pause(&mut self, wait: Duration, now: Instant) {
        self.refill(now);
        self.level = self.level.min(0.0);
        self.last = self.last.max(now + wait);
    }

    fn resize(&mut self, capacity: f64, window: Duration, scale: f64, headroom: f64) {
        let usable = (capacity * (1.0 - headroom)).max(1.0);
        let spent = self.capacity - self.level;
        self.capacity = usable;
        self.rate = capacity / window.as_secs_f64().max(1e-9) * scale;
        self.level = usable - spent;
    }
}

struct Buckets {
    writes: Bucket,
    tenant_writes: Bucket,
    ru: Bucket,
    waited: Duration,
}

/// The app+tenant budget of one `GraphClient`.
pub(crate) struct RateLimiter {
    limits: RateLimits,
    buckets: Mutex<Buckets>,
}

impl RateLimiter {
    pub(crate) fn new(limits: RateLimits) -> RateLimiter {
        let now = Instant::now();
        let s = if limits.time_scale > 0.0 {
            limits.time_scale
        } else {
            1.0
        };
        let h = limits.headroom.clamp(0.0, 0.5);
        let ru = limits.resource_units.unwrap_or(resource_units_for(0));
        let buckets = Buckets {
            writes: Bucket::new(limits.writes, limits.write_window, s, h, now),
            tenant_writes: Bucket::new(limits.tenant_writes, limits.tenant_write_window, s, h, now),
            ru: Bucket::new(ru, limits.resource_unit_window, s, h, now),
            waited: Duration::ZERO,
        };
        RateLimiter {
            limits: RateLimits {
                time_scale: s,
                headroom: h,
                ..limits
            },
            buckets: Mutex::new(buckets),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Buckets> {
        self.buckets
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Reserves `cost` and returns the time to wait before sending (zero when disabled).
    pub(crate) fn reserve(&self, cost: Cost) -> Duration {
        if !self.limits.enabled {
            return Duration::ZERO;
        }
        let now = Instant::now();
        let mut b = self.lock();
        let mut wait = b.ru.reserve(f64::from(cost.ru), now);
        if cost.writes > 0 {
            let w = f64::from(cost.writes);
            wait = wait
                .max(b.writes.reserve(w, now))
                .max(b.tenant_writes.reserve(w, now));
        }
        b.waited += wait;
        wait
    }

    /// Reserves `cost` and sleeps until it may be sent.
    pub(crate) async fn acquire(&self, cost: Cost) {
        let wait = self.reserve(cost);
        if !wait.is_zero() {
            tokio::time::sleep(wait).await;
        }
    }

    /// The service did not count a request (it was refused for a reason other than the
    /// budget): give its cost back.
    pub(crate) fn refund(&self, cost: Cost) {
        if !self.limits.enabled {
            return;
        }
        let now = Instant::now();
        let mut b = self.lock();
        b.ru.refund(f64::from(cost.ru), now);
        if cost.writes > 0 {
            b.writes.refund(f64::from(cost.writes), now);
            b.tenant_writes.refund(f64::from(cost.writes), now);
        }
    }

    /// `x-ms-resource-unit` said what a read really cost.
    pub(crate) fn observe_ru(&self, estimated: u32, actual: u32) {
        if !self.limits.enabled || estimated == actual {
            return;
        }
        let now = Instant::now();
        let mut b = self.lock();
        if actual > estimated {
            b.ru.reserve(f64::from(actual - estimated), now);
        } else {
            b.ru.refund(f64::from(estimated - actual), now);
        }
    }

    /// A 429 arrived. `WriteLimitExceeded` pauses writes, `ResourceUnitLimitExceeded` pauses
    /// everything, for `Retry-After`; other 429s only delay the request that got them.
    pub(crate) fn on_throttled(&self, information: Option<&str>, retry_after: Duration) {
        if !self.limits.enabled {
            return;
        }
        let info = information.unwrap_or_default();
        let now = Instant::now();
        let mut b = self.lock();
        if info.contains("WriteLimitExceeded") {
            b.writes.pause(retry_after, now);
        }
        if info.contains("ResourceUnitLimitExceeded") {
            b.ru.pause(retry_after, now);
        }
    }

    /// The tenant's user count, which picks the resource-unit budget.
    pub(crate) fn set_tenant_users(&self, users: usize) {
        if self.limits.resource_units.is_some() {
            return;
        }
        let l = &self.limits;
        let cap = resource_units_for(users);
        let mut b = self.lock();
        b.ru.resize(cap, l.resource_unit_window, l.time_scale, l.headroom);
    }

    /// Total time requests were held back so far.
    pub(crate) fn waited(&self) -> Duration {
        self.lock().waited
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits(scale: f64) -> RateLimits {
        RateLimits {
            time_scale: scale,
            headroom: 0.0,
            ..RateLimits::default()
        }
    }

    #[test]
    fn the_burst_is_free_then_writes_are_paced_at_the_budget() {
        let l = RateLimiter::new(limits(1.0));
        let write = Cost { ru: 1, writes: 1 };
        for _ in 0..3_000 {
            assert!(l.reserve(write) < Duration::from_millis(5));
        }
        // 3,000 per 150 s = one write per 50 ms.
        let next = l.reserve(write);
        assert!(next >= Duration::from_millis(45) && next <= Duration::from_millis(55));
        let after = l.reserve(Cost { ru: 20, writes: 20 });
        assert!(after >= Duration::from_millis(1_000) && after <= Duration::from_millis(1_060));
    }

    #[test]
    fn time_scale_compresses_the_window() {
        let l = RateLimiter::new(limits(10.0));
        l.reserve(Cost {
            ru: 3_000,
            writes: 3_000,
        });
        let next = l.reserve(Cost { ru: 1, writes: 1 });
        assert!(next <= Duration::from_millis(6), "{next:?}");
    }

    #[test]
    fn write_limit_exceeded_pauses_writes_but_not_reads() {
        let l = RateLimiter::new(limits(1.0));
        l.on_throttled(Some("WriteLimitExceeded"), Duration::from_secs(2));
        assert!(l.reserve(Cost { ru: 1, writes: 1 }) >= Duration::from_secs(2));
        assert_eq!(l.reserve(Cost { ru: 1, writes: 0 }), Duration::ZERO);
    }

    #[test]
    fn documented_costs_are_estimated() {
        let get = Method::GET;
        assert_eq!(Cost::estimate(&get, "/users").ru, 2);
        assert_eq!(Cost::estimate(&get, "/users?$select=id").ru, 1);
        assert_eq!(Cost::estimate(&get, "/subscribedSkus").ru, 3);
        assert_eq!(Cost::estimate(&get, "/users?$select=id&$top=5").ru, 1);
        assert_eq!(Cost::estimate(&get, "/domains").ru, 1);
        assert_eq!(
            Cost::estimate(&Method::POST, "/users"),
            Cost { ru: 1, writes: 1 }
        );
    }

    #[test]
    fn tenant_size_picks_the_resource_unit_budget() {
        assert_eq!(resource_units_for(10), 3_500.0);
        assert_eq!(resource_units_for(100), 5_000.0);
        assert_eq!(resource_units_for(10_000), 8_000.0);
    }
}
