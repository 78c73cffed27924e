//! Leader election on a `coordination.k8s.io/v1` Lease, so that two replicas are safe: only the
//! holder reconciles. The lease is taken or renewed with a resourceVersion-guarded replace
//! (two replicas cannot both win one round), renewed every 5 s and valid for 15 s. Losing it
//! flips the [`Leadership`] signal at once: every write checks it, and the controller stream
//! is cancelled.

use std::time::Duration;

use k8s_openapi::api::coordination::v1::{Lease, LeaseSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::MicroTime;
use k8s_openapi::jiff::{SignedDuration, Timestamp};
use kube::api::{ObjectMeta, PostParams};
use kube::{Api, Client};
use tokio::sync::watch;

/// The lease's name (of an unsharded controller; see [`lease_name`]).
pub const LEASE_NAME: &str = "o365-controller";

/// The lease of the controller that reconciles the Tenants matching `selector`: each shard
/// elects its own leader (two shards sharing one lease would leave one of them idle). Without
/// a selector, [`LEASE_NAME`]; with one, `o365-controller-shard-` and a hash of the selector
/// (the same selector always gives the same lease, whatever replica computes it).
pub fn lease_name(selector: Option<&str>) -> String {
    match selector.map(str::trim).filter(|s| !s.is_empty()) {
        None => LEASE_NAME.to_owned(),
        Some(selector) => {
            // FNV-1a: stable across builds and platforms, unlike the std hasher.
            let hash = selector.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
                (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3)
            });
            format!("{LEASE_NAME}-shard-{:08x}", hash & 0xffff_ffff)
        }
    }
}
/// How long a lease is valid without renewal.
pub const LEASE_DURATION: Duration = Duration::from_secs(15);
/// How often the holder renews it.
pub const RENEW_EVERY: Duration = Duration::from_secs(5);
/// How often a standby checks whether the lease expired.
const RETRY_EVERY: Duration = Duration::from_secs(2);
/// A holder that could not renew for this long stops writing (before the lease expires and
/// another replica may take over).
const RENEW_DEADLINE: Duration = Duration::from_secs(10);

/// Whether this replica currently holds the lease. Cheap to clone and check.
#[derive(Debug, Clone)]
pub struct Leadership(watch::Receiver<bool>);

impl Leadership {
    /// A signal that is always true (leader election disabled).
    pub fn always() -> Leadership {
        let (tx, rx) = watch::channel(true);
        // Keep the sender alive for the life of the process so the value stays readable.
        std::mem::forget(tx);
        Leadership(rx)
    }

    /// A signal driven by `rx`.
    pub fn from_receiver(rx: watch::Receiver<bool>) -> Leadership {
        Leadership(rx)
    }

    /// Whether this replica may write now.
    pub fn is_leader(&self) -> bool {
        *self.0.borrow()
    }

    /// Resolves when this replica becomes leader (at once if it is).
    pub async fn acquired(&mut self) {
        let _ = self.0.wait_for(|v| *v).await;
    }

    /// Resolves when this replica stops being leader (or the election ends).
    pub async fn lost(&mut self) {
        let _ = self.0.wait_for(|v| !*v).await;
    }
}

/// One contender for the lease.
pub struct LeaderElector {
    api: Api<Lease>,
    identity: String,
    lease: String,
}

fn now() -> Timestamp {
    Timestamp::now()
}

fn lease_seconds() -> i32 {
    i32::try_from(LEASE_DURATION.as_secs()).unwrap_or(15)
}

/// Whether a lease with this spec is held by someone at `at`.
fn held_at(spec: &LeaseSpec, at: Timestamp) -> bool {
    let Some(holder) = spec.holder_identity.as_deref() else {
        return false;
    };
    if holder.is_empty() {
        return false;
    }
    let Some(MicroTime(renewed)) = spec.renew_time else {
        return false;
    };
    let duration = SignedDuration::from_secs(i64::from(spec.lease_duration_seconds.unwrap_or(15)));
    renewed
        .checked_add(duration)
        .map(|end| end > at)
        .unwrap_or(false)
}

impl LeaderElector {
    /// A contender named `identity` for the lease `lease` in `namespace`.
    pub fn new(client: Client, namespace: &str, lease: String, identity: String) -> LeaderElector {
        LeaderElector {
            api: Api::namespaced(client, namespace),
            identity,
            lease,
        }
    }

    /// One round: take, renew or observe the lease. `Ok(true)` when this replica holds it.
    async fn try_acquire_or_renew(&self) -> Result<bool, kube::Error> {
        let at = now();
        let Some(mut lease) = self.api.get_opt(&self.lease).await? else {
            let lease = Lease {
                metadata: ObjectMeta {
                    name: Some(self.lease.clone()),
                    ..ObjectMeta::default()
                },
                spec: Some(LeaseSpec {
                    holder_identity: Some(self.identity.clone()),
                    lease_duration_seconds: Some(lease_seconds()),
                    acquire_time: Some(MicroTime(at)),
                    renew_time: Some(MicroTime(at)),
                    lease_transitions: Some(0),
                    ..LeaseSpec::default()
                }),
            };
            return match self.api.create(&PostParams::default(), &lease).await {
                Ok(_) => Ok(true),
                Err(kube::Error::Api(e)) if e.code == 409 => Ok(false),
                Err(e) => Err(e),
            };
        };
        let spec = lease.spec.get_or_insert_with(LeaseSpec::default);
        let mine = spec.holder_identity.as_deref() == Some(self.identity.as_str());
        if !mine && held_at(spec, at) {
            return Ok(false);
        }
        if !mine {
            spec.holder_identity = Some(self.identity.clone());
            spec.acquire_time = Some(MicroTime(at));
            spec.lease_transitions = Some(spec.lease_transitions.unwrap_or(0) + 1);
        }
        spec.renew_time = Some(MicroTime(at));
        spec.lease_duration_seconds = Some(lease_seconds());
        // `replace` sends metadata.resourceVersion: a concurrent writer makes this a 409.
        match self
            .api
            .replace(&self.lease, &PostParams::default(), &lease)
            .await
        {
            Ok(_) => Ok(true),
            Err(kube::Error::Api(e)) if e.code == 409 => Ok(false),
            Err(e) => Err(e),
        }
    }

    /// Gives the lease up so that a standby takes over without waiting for it to expire.
    async fn release(&self) {
        if let Ok(Some(mut lease)) = self.api.get_opt(&self.lease).await
            && let Some(spec) = lease.spec.as_mut()
            && spec.holder_identity.as_deref() == Some(self.identity.as_str())
        {
            spec.holder_identity = None;
            spec.renew_time = None;
            spec.lease_duration_seconds = Some(1);
            let _ = self
                .api
                .replace(&self.lease, &PostParams::default(), &lease)
                .await;
        }
    }

    /// Contends for the lease until `shutdown` resolves, publishing leadership on `tx`; then
    /// releases the lease if held.
    pub async fn run(
        self,
        tx: watch::Sender<bool>,
        shutdown: impl std::future::Future<Output = ()>,
    ) {
        tokio::pin!(shutdown);
        let mut last_renewal: Option<tokio::time::Instant> = None;
        loop {
            let leader = match self.try_acquire_or_renew().await {
                Ok(true) => {
                    last_renewal = Some(tokio::time::Instant::now());
                    true
                }
                Ok(false) => {
                    last_renewal = None;
                    false
                }
                Err(e) => {
                    tracing::warn!(error = %e, "cannot reach the leader lease");
                    // Keep leading only while the last renewal is recent enough.
                    last_renewal.is_some_and(|t| t.elapsed() < RENEW_DEADLINE)
                }
            };
            if leader != *tx.borrow() {
                if leader {
                    tracing::info!(identity = %self.identity, "acquired the leader lease");
                } else {
                    tracing::warn!(identity = %self.identity, "lost the leader lease; stopping writes");
                }
                let _ = tx.send(leader);
            }
            let wait = if leader { RENEW_EVERY } else { RETRY_EVERY };
            tokio::select! {
                () = &mut shutdown => break,
                () = tokio::time::sleep(wait) => {}
            }
        }
        let _ = tx.send(false);
        self.release().await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_shard_has_its_own_lease_and_no_selector_keeps_the_old_one() {
        assert_eq!(lease_name(None), "o365-controller");
        assert_eq!(lease_name(Some(" ")), "o365-controller");
        let one = lease_name(Some("sharding.fluxcd.io/key=shard1"));
        let two = lease_name(Some("sharding.fluxcd.io/key=shard2"));
        assert_ne!(one, two);
        assert_eq!(one, lease_name(Some("sharding.fluxcd.io/key=shard1")));
        assert!(
            one.starts_with("o365-controller-shard-") && one.len() == 30,
            "{one}"
        );
    }

    fn spec(holder: Option<&str>, renewed_ago: i64) -> LeaseSpec {
        LeaseSpec {
            holder_identity: holder.map(str::to_owned),
            renew_time: Some(MicroTime(
                now()
                    .checked_sub(SignedDuration::from_secs(renewed_ago))
                    .unwrap(),
            )),
            lease_duration_seconds: Some(15),
            ..LeaseSpec::default()
        }
    }

    #[test]
    fn a_lease_renewed_recently_is_held() {
        assert!(held_at(&spec(Some("a"), 3), now()));
    }

    #[test]
    fn an_expired_or_released_lease_is_free() {
        assert!(!held_at(&spec(Some("a"), 16), now()));
        assert!(!held_at(&spec(None, 1), now()));
        assert!(!held_at(&spec(Some(""), 1), now()));
    }
}
