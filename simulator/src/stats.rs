//! Request counters for tests and benchmarks.

use std::collections::BTreeMap;

/// One counter key: method, path template (e.g. `/users/{id}`) and response status.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct RequestKey {
    pub method: String,
    pub path: String,
    pub status: u16,
}

/// Counters since start or the last reset. `$batch` inner requests are counted individually
/// (and the envelope as `POST /$batch`).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Stats {
    pub requests: BTreeMap<RequestKey, u64>,
    /// Writes admitted by the throttle (POST/PATCH/PUT/DELETE on Graph; a PATCH/POST binding N
    /// group members counts N).
    pub writes: u64,
    /// Responses with status 429 (throttling and forced throttle faults).
    pub throttled: u64,
    /// Injected faults (errors, resets, forced 429s; not latency).
    pub faults: u64,
    /// Writes refused because they targeted a mastered property of a user synced from
    /// on-premises AD, or deleted one (400 "Unable to update the specified properties for
    /// on-premises mastered Directory Sync objects ...").
    pub refused_on_premises_writes: u64,
    /// Graph HTTP requests received: a `$batch` envelope counts once, however many requests
    /// it carries; token and metadata requests are not counted.
    pub http_requests: u64,
    /// Access tokens issued.
    pub tokens_issued: u64,
    /// Requests answered as a lagging replica would (404s, objects left out of lists), since
    /// start (not reset by `reset_stats`).
    pub replication_lag_misses: u64,
}

impl Stats {
    pub(crate) fn record(&mut self, method: &str, path: &str, status: u16) {
        let key = RequestKey {
            method: method.to_string(),
            path: path.to_string(),
            status,
        };
        *self.requests.entry(key).or_default() += 1;
        if status == 429 {
            self.throttled += 1;
        }
    }

    /// Requests with this method and path template, any status.
    pub fn count(&self, method: &str, path: &str) -> u64 {
        self.requests
            .iter()
            .filter(|(k, _)| k.method.eq_ignore_ascii_case(method) && k.path == path)
            .map(|(_, n)| n)
            .sum()
    }

    pub fn count_status(&self, method: &str, path: &str, status: u16) -> u64 {
        self.requests
            .iter()
            .filter(|(k, _)| {
                k.method.eq_ignore_ascii_case(method) && k.path == path && k.status == status
            })
            .map(|(_, n)| n)
            .sum()
    }

    /// All requests, every path and status.
    pub fn total(&self) -> u64 {
        self.requests.values().sum()
    }
}
