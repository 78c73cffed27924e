//! Replication lag: Entra is eventually consistent. For a while after an object is created, a
//! request that lands on a replica that has not seen it yet answers 404
//! `Request_ResourceNotFound` (reads, patches, assignLicense), and a list may miss it; delta
//! is served from the up-to-date change log, so it can show an object before it can be
//! written. Off by default; seeded and reproducible for a given request order.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

use crate::error::SimError;

/// How lagging replicas behave (fixture field `replicationLag`, fault plan field
/// `replicationLag`, `sim --replication-lag-*`, or [`crate::SimConfig::replication_lag`]).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ReplicationLag {
    /// Seconds after a create during which requests may miss the object. Divided by the
    /// time scale, like every simulated duration.
    #[serde(default = "default_window")]
    pub window_seconds: f64,
    /// Chance that one request touching the object within the window misses it (0..=1).
    #[serde(default = "default_probability")]
    pub probability: f64,
    /// Seed of the generator (ChaCha8): one draw per request that touches a young object.
    #[serde(default)]
    pub seed: u64,
}

fn default_window() -> f64 {
    10.0
}

fn default_probability() -> f64 {
    0.5
}

impl Default for ReplicationLag {
    fn default() -> Self {
        ReplicationLag {
            window_seconds: default_window(),
            probability: default_probability(),
            seed: 0,
        }
    }
}

impl ReplicationLag {
    pub fn validate(&self) -> Result<(), SimError> {
        if !(0.0..=1.0).contains(&self.probability) {
            return Err(SimError::Faults(format!(
                "replicationLag.probability {} is not in 0..=1",
                self.probability
            )));
        }
        if !self.window_seconds.is_finite() || self.window_seconds < 0.0 {
            return Err(SimError::Faults(format!(
                "replicationLag.windowSeconds {} is not a duration",
                self.window_seconds
            )));
        }
        Ok(())
    }
}

/// Creation times of young objects and the seeded generator.
pub struct LagEngine {
    probability: f64,
    window: Duration,
    inner: Mutex<Inner>,
}

struct Inner {
    rng: ChaCha8Rng,
    created: HashMap<String, Instant>,
    /// Requests answered as a lagging replica would (404s and list omissions).
    misses: u64,
}

impl LagEngine {
    pub fn new(cfg: &ReplicationLag, time_scale: f64) -> Result<LagEngine, SimError> {
        cfg.validate()?;
        let scale = if time_scale > 0.0 { time_scale } else { 1.0 };
        Ok(LagEngine {
            probability: cfg.probability,
            window: Duration::from_secs_f64(cfg.window_seconds / scale),
            inner: Mutex::new(Inner {
                rng: ChaCha8Rng::seed_from_u64(cfg.seed),
                created: HashMap::new(),
                misses: 0,
            }),
        })
    }

    /// An object (by id, lower case) was just created.
    pub fn created(&self, id: &str) {
        let mut inner = crate::lock(&self.inner);
        let now = Instant::now();
        if inner.created.len() > 1_000 {
            let window = self.window;
            inner
                .created
                .retain(|_, t| now.saturating_duration_since(*t) < window);
        }
        inner.created.insert(id.to_ascii_lowercase(), now);
    }

    /// True when this request touching `id` lands on a replica that has not seen it yet.
    pub fn misses(&self, id: &str) -> bool {
        let mut inner = crate::lock(&self.inner);
        let Some(at) = inner.created.get(&id.to_ascii_lowercase()).copied() else {
            return false;
        };
        if at.elapsed() >= self.window {
            inner.created.remove(&id.to_ascii_lowercase());
            return false;
        }
        let miss = inner.rng.random::<f64>() < self.probability;
        if miss {
            inner.misses += 1;
        }
        miss
    }

    pub fn miss_count(&self) -> u64 {
        crate::lock(&self.inner).misses
    }
}
