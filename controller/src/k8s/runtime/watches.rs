//! Watches that recover on their own and say whether the controller's view is current.
//!
//! kube-runtime's `Controller` pauses *all* its trigger streams after an error from any one of
//! them (a shared backoff of 0.8 → 30 s, reset only after 120 s without errors), on top of the
//! per-watcher backoff: after an API server restart the controller stayed blind for minutes.
//! Here each watch handles its own errors and never passes one on, so the controller's shared
//! backoff never runs (it is also set to zero, see [`NoTriggerBackoff`]):
//!
//! - after an error the watch starts over with a fresh list, at once for `410 Gone` (the
//!   resourceVersion is too old: only a relist helps) and after a short per-watch backoff
//!   (0.25 s doubling to 5 s, with jitter) otherwise;
//! - [`WatchHealth`] keeps `/readyz` false from the first error of any watch until every watch
//!   has listed again, and logs one line when a watch goes down and one when it is back.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Debug;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::{Stream, StreamExt};
use kube::Api;
use kube::Resource;
use kube::runtime::utils::Backoff;
use kube::runtime::watcher::{self, Event, watcher};
use serde::de::DeserializeOwned;

use super::health::Readiness;

/// First delay after a watch error (other than `410 Gone`).
const FIRST_RETRY: Duration = Duration::from_millis(250);
/// Longest delay between two attempts of one watch.
const MAX_RETRY: Duration = Duration::from_secs(5);

/// The controller's own trigger backoff, switched off: the watches recover on their own and
/// never yield an error to the controller, and one watch's trouble must not pause the others.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoTriggerBackoff;

impl Iterator for NoTriggerBackoff {
    type Item = Duration;
    fn next(&mut self) -> Option<Duration> {
        Some(Duration::ZERO)
    }
}

impl Backoff for NoTriggerBackoff {
    fn reset(&mut self) {}
}

/// Exponential backoff of one watch with ±20 % jitter (so that the watches of one controller do
/// not hit a recovering API server in lockstep).
#[derive(Debug, Clone)]
struct WatchBackoff {
    next: Duration,
}

impl WatchBackoff {
    fn new() -> Self {
        WatchBackoff { next: FIRST_RETRY }
    }

    fn delay(&mut self) -> Duration {
        let base = self.next;
        self.next = (self.next * 2).min(MAX_RETRY);
        base.mul_f64(rand::random_range(0.8..1.2))
    }

    fn reset(&mut self) {
        self.next = FIRST_RETRY;
    }
}

/// Whether the API server said the watch's resourceVersion is too old (`410 Gone`).
pub fn is_gone(e: &watcher::Error) -> bool {
    match e {
        watcher::Error::WatchError(status) => status.code == 410,
        watcher::Error::InitialListFailed(kube::Error::Api(status))
        | watcher::Error::WatchStartFailed(kube::Error::Api(status))
        | watcher::Error::WatchFailed(kube::Error::Api(status)) => status.code == 410,
        _ => false,
    }
}

#[derive(Debug, Default)]
struct HealthState {
    /// Watches that have completed a list (since their last error).
    synced: BTreeSet<String>,
    /// Watches whose last attempt failed, with the error.
    down: BTreeMap<String, String>,
}

/// Which watches are current; readiness follows: ready once `expected` watches have listed and
/// none has failed since.
#[derive(Debug, Clone)]
pub struct WatchHealth {
    state: Arc<Mutex<HealthState>>,
    expected: usize,
    readiness: Readiness,
}

impl WatchHealth {
    /// `expected` watches feed this; `readiness` is what `/readyz` reports.
    pub fn new(expected: usize, readiness: Readiness) -> WatchHealth {
        WatchHealth {
            state: Arc::new(Mutex::new(HealthState::default())),
            expected,
            readiness,
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HealthState> {
        self.state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The watch `name` completed a list: its view is current.
    pub fn listed(&self, name: &str) {
        let mut st = self.lock();
        st.synced.insert(name.to_owned());
        if let Some(error) = st.down.remove(name) {
            tracing::info!(watch = name, last_error = %error, "watch recovered: listed again");
        }
        let ready = st.synced.len() >= self.expected && st.down.is_empty();
        if ready && !self.readiness.is_ready() {
            tracing::info!(watches = st.synced.len(), "every watch is current: ready");
        }
        self.readiness.set(ready);
    }

    /// The watch `name` failed with `error`; it retries after `retry`.
    pub fn failed(&self, name: &str, error: &watcher::Error, retry: Duration) {
        let mut st = self.lock();
        st.synced.remove(name);
        let text = error.to_string();
        if st.down.insert(name.to_owned(), text).is_none() {
            tracing::warn!(
                watch = name,
                error = %error,
                retry_in = ?retry,
                "watch failed: not ready until it has listed again"
            );
        } else {
            tracing::debug!(watch = name, error = %error, retry_in = ?retry, "watch still failing");
        }
        self.readiness.set(false);
    }
}

/// The annotation `kubectl apply` (client side) keeps a whole copy of the object in.
const LAST_APPLIED: &str = "kubectl.kubernetes.io/last-applied-configuration";

/// Drops what the controller never reads before an object reaches a cache: `managedFields`
/// (server-side apply records one entry per field, per user of an AppAssignment: more than
/// the users themselves) and `kubectl apply`'s last-applied copy of the object.
pub fn trim<K: Resource>(obj: &mut K) {
    let meta = obj.meta_mut();
    meta.managed_fields = None;
    if let Some(annotations) = meta.annotations.as_mut() {
        annotations.remove(LAST_APPLIED);
    }
}

/// Events of a watch of `api` that never fails ([`trim`]med): after an error it lists again (at once after
/// `410 Gone`, else after its backoff), reporting to `health` as `name`.
pub fn recovering_watch<K>(
    api: Api<K>,
    config: watcher::Config,
    name: String,
    health: WatchHealth,
) -> impl Stream<Item = Event<K>> + Send + 'static
where
    K: Resource + Clone + DeserializeOwned + Debug + Send + 'static,
{
    let start = watcher(api.clone(), config.clone()).boxed();
    futures::stream::unfold(
        (start, WatchBackoff::new()),
        move |(mut stream, mut backoff)| {
            let (api, config, name, health) =
                (api.clone(), config.clone(), name.clone(), health.clone());
            async move {
                loop {
                    match stream.next().await? {
                        Ok(event) => {
                            let event = event.modify(trim);
                            match &event {
                                Event::InitDone => {
                                    backoff.reset();
                                    health.listed(&name);
                                }
                                Event::Apply(_) | Event::Delete(_) => backoff.reset(),
                                Event::Init | Event::InitApply(_) => {}
                            }
                            return Some((event, (stream, backoff)));
                        }
                        Err(e) => {
                            let retry = if is_gone(&e) {
                                Duration::ZERO
                            } else {
                                backoff.delay()
                            };
                            health.failed(&name, &e, retry);
                            if !retry.is_zero() {
                                tokio::time::sleep(retry).await;
                            }
                            // A fresh list: the only way to know the view is current again.
                            stream = watcher(api.clone(), config.clone()).boxed();
                        }
                    }
                }
            }
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn status(code: u16) -> Box<kube::core::Status> {
        let mut s = kube::core::Status::failure("expired", "Expired");
        s.code = code;
        Box::new(s)
    }

    #[test]
    fn gone_is_recognised_in_watch_events_and_responses() {
        assert!(is_gone(&watcher::Error::WatchError(status(410))));
        assert!(is_gone(&watcher::Error::WatchStartFailed(
            kube::Error::Api(status(410))
        )));
        assert!(!is_gone(&watcher::Error::WatchError(status(500))));
        assert!(!is_gone(&watcher::Error::InitialListFailed(
            kube::Error::Api(status(503))
        )));
    }

    #[test]
    fn the_backoff_grows_to_its_cap_and_resets() {
        let mut b = WatchBackoff::new();
        let first = b.delay();
        assert!(first >= FIRST_RETRY.mul_f64(0.8) && first <= FIRST_RETRY.mul_f64(1.2));
        for _ in 0..10 {
            assert!(b.delay() <= MAX_RETRY.mul_f64(1.2));
        }
        assert!(b.delay() >= MAX_RETRY.mul_f64(0.8), "capped at MAX_RETRY");
        b.reset();
        assert!(b.delay() <= FIRST_RETRY.mul_f64(1.2));
    }

    #[test]
    fn cached_objects_carry_no_managed_fields_or_last_applied_copy() {
        use k8s_openapi::api::core::v1::ConfigMap;
        use k8s_openapi::apimachinery::pkg::apis::meta::v1::ManagedFieldsEntry;
        let mut cm = ConfigMap::default();
        cm.metadata.managed_fields = Some(vec![ManagedFieldsEntry::default()]);
        cm.metadata.annotations = Some(
            [
                (LAST_APPLIED.to_owned(), "{}".to_owned()),
                ("keep".to_owned(), "me".to_owned()),
            ]
            .into(),
        );
        trim(&mut cm);
        assert_eq!(cm.metadata.managed_fields, None);
        assert_eq!(
            cm.metadata.annotations,
            Some([("keep".to_owned(), "me".to_owned())].into())
        );
    }

    #[test]
    fn the_controller_trigger_backoff_never_pauses() {
        let mut b = NoTriggerBackoff;
        assert_eq!(b.next(), Some(Duration::ZERO));
        assert_eq!(b.nth(100), Some(Duration::ZERO));
    }

    #[test]
    fn readiness_is_false_from_an_error_until_every_watch_listed_again() {
        let readiness = Readiness::default();
        let health = WatchHealth::new(2, readiness.clone());
        health.listed("a");
        assert!(!readiness.is_ready(), "one of two watches listed");
        health.listed("b");
        assert!(readiness.is_ready());
        let err = watcher::Error::WatchError(status(500));
        health.failed("a", &err, Duration::ZERO);
        assert!(!readiness.is_ready(), "a watch is down");
        health.failed("a", &err, Duration::ZERO);
        health.listed("b");
        assert!(!readiness.is_ready(), "a is still down");
        health.listed("a");
        assert!(readiness.is_ready(), "both current again");
    }
}
