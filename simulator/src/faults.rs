//! Seeded, deterministic fault injection (`FaultPlan`, a YAML file).

use std::path::Path;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use regex::Regex;
use serde::{Deserialize, Serialize};

use crate::error::SimError;

/// The faults to inject. Rules are evaluated in order for every request; each matching rule
/// draws one number from the seeded generator, so a given request sequence always sees the
/// same faults.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FaultPlan {
    #[serde(default)]
    pub seed: u64,
    #[serde(default)]
    pub rules: Vec<FaultRule>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token_expiry: Option<TokenExpiry>,
    /// Replication lag (see [`crate::ReplicationLag`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub replication_lag: Option<crate::ReplicationLag>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum FaultKind {
    /// Answer with `status` (500, 503 or 504) and a Graph error body.
    Error,
    /// Close the connection without a response.
    Reset,
    /// Delay the request by `latencyMs`, then serve it normally.
    Latency,
    /// Answer 429 with `Retry-After: retryAfterSeconds`.
    Throttle,
    /// Serve the request (a write takes effect), then answer `status` (default 500) instead of
    /// its response: "500, but the state changed" (notes §2.4.5).
    ApplyThenError,
    /// Serve the request (its change is made), then close the connection without sending the
    /// response: a response lost on the way back. On a `$batch` inner request the whole
    /// envelope's response is lost.
    LoseResponse,
}

/// One rule: which requests, what fault, how often, when.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FaultRule {
    /// HTTP method (case-insensitive); absent or `*` = any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub method: Option<String>,
    /// Glob on the request path (`*` = any characters including `/`), e.g. `/v1.0/users*`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    /// Regex on the request path (instead of `path`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub regex: Option<String>,
    pub fault: FaultKind,
    /// Chance per matching request, 0..=1 (default 1).
    #[serde(default = "one")]
    pub probability: f64,
    /// Status for `error` (default 503).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<u16>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub latency_ms: Option<u64>,
    /// Rule active from this many seconds after start (default 0).
    #[serde(default)]
    pub from_seconds: f64,
    /// Rule active for this many seconds (default: forever).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub for_seconds: Option<f64>,
    /// `Retry-After` for `throttle` (default 1) and for `error` (none unless given).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry_after_seconds: Option<u64>,
    /// The rule fires at most this many times (default: no limit), e.g. a 404 for a new
    /// user's first two requests.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_hits: Option<u64>,
}

fn one() -> f64 {
    1.0
}

/// Forced expiry of access tokens.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TokenExpiry {
    /// Every token expires at each multiple of this many seconds after start.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub every_seconds: Option<f64>,
    /// Every token issued before one of these instants (seconds after start) expires then.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub at_seconds: Vec<f64>,
}

impl FaultPlan {
    pub fn from_yaml(text: &str) -> Result<FaultPlan, SimError> {
        serde_saphyr::from_str(text).map_err(|e| SimError::Faults(e.to_string()))
    }

    pub fn from_path(path: &Path) -> Result<FaultPlan, SimError> {
        let text = std::fs::read_to_string(path).map_err(|source| SimError::Io {
            path: path.display().to_string(),
            source,
        })?;
        Self::from_yaml(&text)
    }
}

/// What to do to one request.
#[derive(Debug, Clone, PartialEq)]
pub enum FaultAction {
    Error {
        status: u16,
        retry_after: Option<u64>,
    },
    Reset,
    Throttle {
        retry_after: u64,
    },
    /// Serve the request, then answer this status instead.
    ApplyThenError {
        status: u16,
        retry_after: Option<u64>,
    },
    LoseResponse,
}

impl FaultAction {
    /// True for the kinds that serve the request before failing it with a status.
    pub fn applies_first(&self) -> bool {
        matches!(self, FaultAction::ApplyThenError { .. })
    }
}

/// The decision for one request: total added latency and at most one terminal action.
#[derive(Debug, Clone, Default)]
pub struct Decision {
    pub latency: Duration,
    pub action: Option<FaultAction>,
}

pub struct FaultEngine {
    rules: Vec<(FaultRule, Regex)>,
    /// Times each rule fired (for `maxHits`).
    hits: Mutex<Vec<u64>>,
    token_expiry: Option<TokenExpiry>,
    rng: Mutex<ChaCha8Rng>,
    start: Instant,
}

fn glob_to_regex(glob: &str) -> String {
    let mut out = String::from("^");
    for c in glob.chars() {
        match c {
            '*' => out.push_str(".*"),
            '?' => out.push('.'),
            c => out.push_str(&regex::escape(&c.to_string())),
        }
    }
    out.push('$');
    out
}

impl FaultEngine {
    pub fn new(plan: &FaultPlan) -> Result<FaultEngine, SimError> {
        let mut rules = Vec::new();
        for rule in &plan.rules {
            let pattern = match (&rule.regex, &rule.path) {
                (Some(re), _) => re.clone(),
                (None, Some(glob)) => glob_to_regex(glob),
                (None, None) => ".*".to_string(),
            };
            let re = Regex::new(&pattern)
                .map_err(|e| SimError::Faults(format!("bad pattern '{pattern}': {e}")))?;
            if !(0.0..=1.0).contains(&rule.probability) {
                return Err(SimError::Faults(format!(
                    "probability {} is not in 0..=1",
                    rule.probability
                )));
            }
            rules.push((rule.clone(), re));
        }
        Ok(FaultEngine {
            hits: Mutex::new(vec![0; rules.len()]),
            rules,
            token_expiry: plan.token_expiry.clone(),
            rng: Mutex::new(ChaCha8Rng::seed_from_u64(plan.seed)),
            start: Instant::now(),
        })
    }

    pub fn decide(&self, method: &str, path: &str) -> Decision {
        let elapsed = self.start.elapsed().as_secs_f64();
        let mut decision = Decision::default();
        let mut rng = crate::lock(&self.rng);
        let mut hits = crate::lock(&self.hits);
        for (i, (rule, re)) in self.rules.iter().enumerate() {
            let method_ok = rule
                .method
                .as_deref()
                .is_none_or(|m| m == "*" || m.eq_ignore_ascii_case(method));
            let window_ok = elapsed >= rule.from_seconds
                && rule
                    .for_seconds
                    .is_none_or(|d| elapsed < rule.from_seconds + d);
            if !method_ok || !window_ok || !re.is_match(path) {
                continue;
            }
            let hit = rng.random::<f64>() < rule.probability;
            let spent = rule.max_hits.is_some_and(|max| hits[i] >= max);
            if !hit || spent {
                continue;
            }
            let fires = match rule.fault {
                FaultKind::Latency => true,
                _ => decision.action.is_none(),
            };
            if fires {
                hits[i] += 1;
            }
            match rule.fault {
                FaultKind::Latency => {
                    decision.latency += Duration::from_millis(rule.latency_ms.unwrap_or(0));
                }
                FaultKind::Error if decision.action.is_none() => {
                    decision.action = Some(FaultAction::Error {
                        status: rule.status.unwrap_or(503),
                        retry_after: rule.retry_after_seconds,
                    });
                }
                FaultKind::Reset if decision.action.is_none() => {
                    decision.action = Some(FaultAction::Reset);
                }
                FaultKind::Throttle if decision.action.is_none() => {
                    decision.action = Some(FaultAction::Throttle {
                        retry_after: rule.retry_after_seconds.unwrap_or(1),
                    });
                }
                FaultKind::ApplyThenError if decision.action.is_none() => {
                    decision.action = Some(FaultAction::ApplyThenError {
                        status: rule.status.unwrap_or(500),
                        retry_after: rule.retry_after_seconds,
                    });
                }
                FaultKind::LoseResponse if decision.action.is_none() => {
                    decision.action = Some(FaultAction::LoseResponse);
                }
                _ => {}
            }
        }
        decision
    }

    /// True when a token issued at `issued` has been force-expired by now.
    pub fn token_force_expired(&self, issued: Instant) -> bool {
        let Some(te) = &self.token_expiry else {
            return false;
        };
        let now = self.start.elapsed().as_secs_f64();
        let at = issued.saturating_duration_since(self.start).as_secs_f64();
        if let Some(p) = te.every_seconds.filter(|p| *p > 0.0)
            && (now / p).floor() > (at / p).floor()
        {
            return true;
        }
        te.at_seconds.iter().any(|t| at < *t && now >= *t)
    }
}
