//! A panic while reconciling one tenant stays with that tenant. kube-runtime spawns each
//! reconcile as a task and unwraps its `JoinError`, so an escaping panic would take the whole
//! controller (every tenant) down and crash-loop it. [`contain`] turns the panic into
//! [`ReconcileError::Internal`]: the Tenant is marked `Ready=False`, reason `InternalError`,
//! the error policy retries it with backoff, and the other tenants go on.

use std::any::Any;
use std::future::Future;
use std::panic::AssertUnwindSafe;

use futures::FutureExt;

use crate::k8s::reconcile::error::ReconcileError;

/// The longest panic message carried into status and logs.
const MAX_MESSAGE_CHARS: usize = 200;

/// Runs one tenant's reconcile; a panic inside it becomes [`ReconcileError::Internal`].
///
/// `AssertUnwindSafe` is sound here: what a reconcile shares across the panic is the
/// [`crate::k8s::reconcile::context::Context`], whose mutexes recover from poisoning and whose per-tenant
/// session is taken out for the reconcile (a panic drops it; the next run rebuilds it).
pub async fn contain<T, F>(tenant: &str, run: F) -> Result<T, ReconcileError>
where
    F: Future<Output = Result<T, ReconcileError>>,
{
    match AssertUnwindSafe(run).catch_unwind().await {
        Ok(result) => result,
        Err(payload) => {
            let message = panic_message(payload.as_ref());
            tracing::error!(%tenant, panic = %message, "the reconcile panicked; this tenant is marked InternalError and retried with backoff");
            Err(ReconcileError::Internal {
                name: tenant.to_owned(),
                message,
            })
        }
    }
}

/// The panic's message: its first line, without control characters, at most
/// [`MAX_MESSAGE_CHARS`] characters.
pub fn panic_message(payload: &(dyn Any + Send)) -> String {
    let text = payload
        .downcast_ref::<&str>()
        .copied()
        .or_else(|| payload.downcast_ref::<String>().map(String::as_str))
        .unwrap_or("a panic without a message");
    let line = text.lines().next().unwrap_or_default();
    let mut out: String = line
        .chars()
        .filter(|c| !c.is_control())
        .take(MAX_MESSAGE_CHARS)
        .collect();
    if line.chars().count() > MAX_MESSAGE_CHARS {
        out.push('…');
    }
    out
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;
    use std::convert::Infallible;
    use std::sync::{Arc, Mutex};
    use std::time::Duration;

    use futures::StreamExt;
    use k8s_openapi::api::core::v1::ConfigMap;
    use kube::api::ObjectMeta;
    use kube::runtime::controller::{Action, Config};
    use kube::runtime::reflector::{self, ObjectRef};
    use kube::runtime::{applier, watcher};

    use super::*;

    /// What the test's runtime saw: reconciles per tenant, and errors handed to the policy.
    #[derive(Default)]
    struct Seen {
        runs: HashMap<String, usize>,
        errors: Vec<(String, String, String)>,
    }

    fn object(name: &str) -> ConfigMap {
        ConfigMap {
            metadata: ObjectMeta {
                name: Some(name.to_owned()),
                namespace: Some("ns".to_owned()),
                ..ObjectMeta::default()
            },
            ..ConfigMap::default()
        }
    }

    /// A reconcile with a bug for one tenant only (a test double: production has no way for
    /// a manifest to ask for a panic).
    async fn buggy_reconcile(
        name: String,
        seen: Arc<Mutex<Seen>>,
    ) -> Result<Action, ReconcileError> {
        *seen.lock().unwrap().runs.entry(name.clone()).or_default() += 1;
        if name == "broken" {
            let users: Vec<&str> = Vec::new();
            panic!(
                "index out of bounds: the len is {} but the index is 3",
                users.len()
            );
        }
        Ok(Action::requeue(Duration::from_secs(3600)))
    }

    #[tokio::test]
    async fn a_panicking_tenant_is_reported_internal_error_and_retried_while_the_others_go_on() {
        let seen = Arc::new(Mutex::new(Seen::default()));
        let (store, mut writer) = reflector::store::<ConfigMap>();
        writer.apply_watcher_event(&watcher::Event::Init);
        for name in ["broken", "healthy"] {
            writer.apply_watcher_event(&watcher::Event::InitApply(object(name)));
        }
        writer.apply_watcher_event(&watcher::Event::InitDone);
        // The broken tenant is queued first, so the healthy one is reconciled after the panic.
        let queue = futures::stream::iter(
            ["broken", "healthy"].map(|n| Ok::<_, Infallible>(ObjectRef::new(n).within("ns"))),
        )
        .chain(futures::stream::pending());
        let backoff = Duration::from_millis(10);
        let policy_seen = seen.clone();
        let reconcile_seen = seen.clone();
        let results = applier(
            move |obj: Arc<ConfigMap>, _ctx: Arc<()>| {
                let name = obj.metadata.name.clone().unwrap_or_default();
                let seen = reconcile_seen.clone();
                // As kube-runtime's Controller::run does: a task per reconcile, whose
                // JoinError is unwrapped (a panic that escaped would panic the runtime here).
                let task = tokio::spawn(async move {
                    let tenant = format!("ns/{name}");
                    contain(&tenant, buggy_reconcile(name, seen)).await
                });
                task.map(|joined| joined.unwrap())
            },
            move |obj: Arc<ConfigMap>, error: &ReconcileError, _ctx: Arc<()>| {
                let name = obj.metadata.name.clone().unwrap_or_default();
                policy_seen.lock().unwrap().errors.push((
                    name,
                    error.reason().to_string(),
                    error.to_string(),
                ));
                // The production policy's choice for this error: backoff, not the resync.
                assert!(!error.is_terminal() && error.retry_after().is_none());
                Action::requeue(backoff)
            },
            Arc::new(()),
            store,
            queue,
            Config::default(),
        );
        let retried = |s: &Seen| s.runs.get("broken").copied().unwrap_or(0) >= 3;
        let watched = seen.clone();
        let outcome = tokio::time::timeout(
            Duration::from_secs(20),
            results
                .take_while(move |_| {
                    let s = watched.lock().unwrap();
                    futures::future::ready(!(retried(&s) && s.runs.contains_key("healthy")))
                })
                .for_each(|_| async {}),
        )
        .await;
        assert!(outcome.is_ok(), "the runtime stopped making progress");
        let s = seen.lock().unwrap();
        assert_eq!(
            s.runs.get("healthy"),
            Some(&1),
            "the healthy tenant was reconciled once"
        );
        assert!(retried(&s), "the broken tenant was retried: {:?}", s.runs);
        assert!(
            s.errors.iter().all(|(name, _, _)| name == "broken"),
            "{:?}",
            s.errors
        );
        let (_, reason, message) = &s.errors[0];
        assert_eq!(reason, "InternalError");
        assert!(message.contains("please report"), "{message}");
        assert!(message.contains("index out of bounds"), "{message}");
    }

    #[test]
    fn the_panic_message_is_one_short_line() {
        let long = format!("first line {}\nsecond line", "x".repeat(500));
        let payload: Box<dyn Any + Send> = Box::new(long);
        let m = panic_message(payload.as_ref());
        assert!(m.starts_with("first line"), "{m}");
        assert!(!m.contains("second line"), "{m}");
        assert!(m.chars().count() <= MAX_MESSAGE_CHARS + 1, "{m}");
        let opaque: Box<dyn Any + Send> = Box::new(42u8);
        assert_eq!(panic_message(opaque.as_ref()), "a panic without a message");
    }
}
