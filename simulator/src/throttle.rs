//! The Entra directory throttling model (notes §6.2, BENCHMARKS.md).
//!
//! Token buckets with continuous refill, starting full:
//! - resource units per app+tenant: capacity 3,500 / 5,000 / 8,000 (tenant < 50 / 50–500 /
//!   > 500 users), refilled at capacity per 10 s;
//! - writes per app+tenant: capacity 3,000, refilled at 3,000 per 150 s;
//! - writes per tenant: capacity 18,000, refilled at 18,000 per 300 s.
//!
//! The time scale multiplies every refill rate (windows shrink by the same factor).

use std::collections::HashMap;
use std::time::{Duration, Instant};

use crate::odata::Query;

/// Cost of one request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cost {
    pub ru: u32,
    pub writes: u32,
}

pub fn is_write(method: &str) -> bool {
    matches!(method, "POST" | "PATCH" | "PUT" | "DELETE")
}

/// Request cost from the path template and query (notes §6.2).
pub fn cost(method: &str, template: &str, query: &Query) -> Cost {
    if is_write(method) {
        return Cost { ru: 1, writes: 1 };
    }
    let base: i64 = match template {
        "/users" | "/users/{id}" | "/users/delta" => 2,
        "/subscribedSkus" | "/subscribedSkus/{id}" => 3,
        "/users/{id}/licenseDetails" => 2,
        "/groups/{id}/members" => 3,
        _ => 1,
    };
    let mut c = base;
    if query.get("$select").is_some() {
        c -= 1;
    }
    if query.get("$expand").is_some() {
        c += 1;
    }
    if query
        .get("$top")
        .and_then(|t| t.trim().parse::<i64>().ok())
        .is_some_and(|t| t < 20)
    {
        c -= 1;
    }
    Cost {
        ru: u32::try_from(c.max(1)).unwrap_or(1),
        writes: 0,
    }
}

pub const WRITE_APP_CAPACITY: f64 = 3_000.0;
pub const WRITE_APP_WINDOW: f64 = 150.0;
pub const WRITE_TENANT_CAPACITY: f64 = 18_000.0;
pub const WRITE_TENANT_WINDOW: f64 = 300.0;
pub const RU_WINDOW: f64 = 10.0;

/// Resource-unit capacity per 10 s for a tenant with `users` users.
pub fn ru_capacity(users: usize) -> f64 {
    if users < 50 {
        3_500.0
    } else if users <= 500 {
        5_000.0
    } else {
        8_000.0
    }
}

#[derive(Debug, Clone)]
struct Bucket {
    level: f64,
    last: Instant,
}

impl Bucket {
    fn full(capacity: f64, now: Instant) -> Bucket {
        Bucket {
            level: capacity,
            last: now,
        }
    }

    fn refill(&mut self, capacity: f64, rate: f64, now: Instant) {
        let dt = now.saturating_duration_since(self.last).as_secs_f64();
        self.level = (self.level + dt * rate).min(capacity);
        self.last = now;
    }

    /// Time until `cost` units are available, or None when they are now.
    fn wait_for(&self, cost: f64, rate: f64) -> Option<Duration> {
        if self.level >= cost {
            None
        } else {
            Some(Duration::from_secs_f64((cost - self.level) / rate))
        }
    }
}

/// A refused request.
#[derive(Debug, Clone)]
pub struct Throttled {
    pub retry_after: Duration,
    /// `x-ms-throttle-scope`.
    pub scope: String,
    /// `x-ms-throttle-information`.
    pub information: &'static str,
}

pub struct Throttle {
    time_scale: f64,
    ru: HashMap<String, Bucket>,
    app_writes: HashMap<String, Bucket>,
    tenant_writes: Option<Bucket>,
}

impl Throttle {
    pub fn new(time_scale: f64) -> Throttle {
        Throttle {
            time_scale: if time_scale > 0.0 { time_scale } else { 1.0 },
            ru: HashMap::new(),
            app_writes: HashMap::new(),
            tenant_writes: None,
        }
    }

    /// Admits the request (taking its cost from every bucket) or refuses it (taking nothing).
    pub fn admit(
        &mut self,
        app_id: &str,
        tenant_id: &str,
        users: usize,
        cost: Cost,
        now: Instant,
    ) -> Result<(), Throttled> {
        let s = self.time_scale;
        let ru_cap = ru_capacity(users);
        let ru_rate = ru_cap / RU_WINDOW * s;
        let wa_rate = WRITE_APP_CAPACITY / WRITE_APP_WINDOW * s;
        let wt_rate = WRITE_TENANT_CAPACITY / WRITE_TENANT_WINDOW * s;
        let ru = self
            .ru
            .entry(app_id.to_string())
            .or_insert_with(|| Bucket::full(ru_cap, now));
        ru.refill(ru_cap, ru_rate, now);
        if let Some(wait) = ru.wait_for(f64::from(cost.ru), ru_rate) {
            return Err(Throttled {
                retry_after: wait,
                scope: format!("Tenant_Application/ReadWrite/{app_id}/{tenant_id}"),
                information: "ResourceUnitLimitExceeded",
            });
        }
        if cost.writes > 0 {
            let w = f64::from(cost.writes);
            let wa = self
                .app_writes
                .entry(app_id.to_string())
                .or_insert_with(|| Bucket::full(WRITE_APP_CAPACITY, now));
            wa.refill(WRITE_APP_CAPACITY, wa_rate, now);
            if let Some(wait) = wa.wait_for(w, wa_rate) {
                return Err(Throttled {
                    retry_after: wait,
                    scope: format!("Tenant_Application/Write/{app_id}/{tenant_id}"),
                    information: "WriteLimitExceeded",
                });
            }
            let wt = self
                .tenant_writes
                .get_or_insert_with(|| Bucket::full(WRITE_TENANT_CAPACITY, now));
            wt.refill(WRITE_TENANT_CAPACITY, wt_rate, now);
            if let Some(wait) = wt.wait_for(w, wt_rate) {
                return Err(Throttled {
                    retry_after: wait,
                    scope: format!("Tenant/Write/{app_id}/{tenant_id}"),
                    information: "WriteLimitExceeded",
                });
            }
            wt.level -= w;
            if let Some(wa) = self.app_writes.get_mut(app_id) {
                wa.level -= w;
            }
        }
        if let Some(ru) = self.ru.get_mut(app_id) {
            ru.level -= f64::from(cost.ru);
        }
        Ok(())
    }
}

/// The `Retry-After` value: whole seconds rounded up, at least 1, at every time scale (the
/// directory sends integers; clients parse integers). `wait` is already in scaled time.
pub fn retry_after_header(wait: Duration) -> String {
    let secs = wait.as_secs_f64().ceil().max(1.0);
    format!("{secs:.0}")
}

/// The least time to perform `writes` writes and `reads_ru` read units (see module docs).
pub fn floor(writes: u64, reads_ru: u64, users: usize, time_scale: f64) -> Duration {
    let s = if time_scale > 0.0 { time_scale } else { 1.0 };
    let ru_cap = ru_capacity(users);
    let (w, r) = (writes as f64, (writes + reads_ru) as f64);
    let over = |total: f64, cap: f64, window: f64| ((total - cap).max(0.0)) * window / cap;
    let secs = over(r, ru_cap, RU_WINDOW)
        .max(over(w, WRITE_APP_CAPACITY, WRITE_APP_WINDOW))
        .max(over(w, WRITE_TENANT_CAPACITY, WRITE_TENANT_WINDOW));
    Duration::from_secs_f64(secs / s)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_after_is_whole_seconds_rounded_up_and_at_least_one_at_scale_one() {
        assert_eq!(retry_after_header(Duration::from_millis(10)), "1");
        assert_eq!(retry_after_header(Duration::from_millis(2100)), "3");
    }

    #[test]
    fn retry_after_is_whole_seconds_rounded_up_also_when_time_scaled() {
        assert_eq!(retry_after_header(Duration::from_micros(2_128_000)), "3");
        assert_eq!(retry_after_header(Duration::from_micros(10)), "1");
        assert_eq!(retry_after_header(Duration::from_millis(200)), "1");
    }

    #[test]
    fn a_refused_request_takes_nothing_from_the_buckets() {
        let mut t = Throttle::new(1e-9);
        let now = Instant::now();
        let big = Cost {
            ru: 3_500,
            writes: 0,
        };
        assert!(t.admit("app", "tenant", 10, big, now).is_ok());
        let err = t.admit("app", "tenant", 10, Cost { ru: 1, writes: 0 }, now);
        assert_eq!(
            err.map_err(|e| e.information),
            Err("ResourceUnitLimitExceeded")
        );
    }

    #[test]
    fn writes_are_limited_to_3000_per_app_and_tenant() {
        let mut t = Throttle::new(1e-9);
        let now = Instant::now();
        let write = Cost { ru: 1, writes: 1 };
        for _ in 0..3_000 {
            assert!(t.admit("app", "tenant", 1_000, write, now).is_ok());
        }
        let err = t.admit("app", "tenant", 1_000, write, now).err();
        assert_eq!(err.map(|e| e.information), Some("WriteLimitExceeded"));
    }

    #[test]
    fn tenant_size_picks_the_resource_unit_budget() {
        assert_eq!(ru_capacity(49), 3_500.0);
        assert_eq!(ru_capacity(50), 5_000.0);
        assert_eq!(ru_capacity(500), 5_000.0);
        assert_eq!(ru_capacity(501), 8_000.0);
    }
}
