//! Executes a plan through Microsoft Graph and reports what happened to every action.
//!
//! Phases run in order (restores → users → federation → licenses → deprovisioning); inside a
//! phase the actions go out as `$batch` requests with bounded concurrency through the
//! rate-limited client. Every action is idempotent against the tenant: a user that already
//! exists is reported as matched (no duplicate), a user already gone as done, a federation
//! create whose answer was lost is read back. A 404 on a user or group created or restored moments
//! before (by this pass, or by the earlier pass of the run: [`apply_after`]) is replication lag
//! and retried for up to two minutes. A crash loses nothing: the next run
//! re-plans from the observed state.

pub mod password;
mod requests;
mod runner;

use std::collections::BTreeSet;
use std::future::Future;
use std::time::Duration;

pub use requests::{Request, RequestError, request_for};
pub use runner::GraphRunner;

use crate::graph::GraphError;
use crate::model::{Action, FederationSettings, ObjectKey, Outcome, Phase, Plan, Report, Retry};

/// How one request ended, as `apply` needs to know it.
#[derive(Debug, Clone, PartialEq)]
pub enum Response {
    /// 2xx.
    Success,
    /// A final failure after the client's retries.
    Failure {
        /// HTTP status, if the server answered.
        status: Option<u16>,
        /// `details[]` as (code, target), e.g. (`ObjectConflict`, `userPrincipalName`).
        details: Vec<(String, String)>,
        /// Full description: operation, status, code, message and request id.
        description: String,
        /// Whether sending it again may succeed.
        retry: Retry,
        /// Graph's `Retry-After`, if it sent one.
        retry_after: Option<Duration>,
    },
}

impl Response {
    /// A failure that never reached Graph (e.g. a body that could not be built).
    fn unsent(description: String, retry: Retry) -> Response {
        Response::Failure {
            status: None,
            details: Vec::new(),
            description,
            retry,
            retry_after: None,
        }
    }
}

/// Sends requests to Graph. `GraphRunner` is the real one; tests use fakes.
pub trait Runner: Sync {
    /// Sends every request (batched, rate limited, retried) and returns one response per request,
    /// in order.
    fn run(&self, requests: Vec<Request>) -> impl Future<Output = Vec<Response>> + Send;

    /// The domain's federation configuration as Graph has it now (`None`: none), or why it
    /// could not be read. Used to learn what a federation create whose answer was lost did.
    fn federation(
        &self,
        domain: &str,
    ) -> impl Future<Output = Result<Option<FederationSettings>, GraphError>> + Send {
        let _ = domain;
        async {
            Err(GraphError::config(
                "this runner cannot read federation configurations",
            ))
        }
    }
}

/// How long a 404 on an object created (or restored) moments before in the same run is
/// retried: Entra replicates a new object to every directory replica within seconds, rarely
/// minutes, and a request served by a replica that has not seen it yet gets a 404.
#[derive(Debug, Clone, Copy)]
struct ReplicationLag {
    first: Duration,
    longest: Duration,
    total: Duration,
}

const REPLICATION_LAG: ReplicationLag = ReplicationLag {
    first: Duration::from_millis(500),
    longest: Duration::from_secs(15),
    total: Duration::from_secs(120),
};

/// How many actions go to the runner at once (it batches them by 20 and sends the batches
/// concurrently); also the granularity of progress reports.
const CHUNK: usize = 400;

/// Applies `plan` and returns the report. `progress` is called with the number of actions
/// finished so far.
pub async fn apply<R: Runner>(
    runner: &R,
    plan: &Plan,
    progress: &(dyn Fn(usize) + Sync),
) -> Report {
    apply_after(runner, plan, progress, BTreeSet::new()).await
}

/// [`apply`] right after an earlier pass of the same run that created or restored `young`
/// objects (ids and UPNs, any case): a 404 on one of them is replication lag, retried like a
/// 404 on an object this pass creates.
pub async fn apply_after<R: Runner>(
    runner: &R,
    plan: &Plan,
    progress: &(dyn Fn(usize) + Sync),
    young: BTreeSet<String>,
) -> Report {
    let mut results: Vec<(Action, Outcome)> = Vec::with_capacity(plan.actions.len());
    let mut owners: Vec<Vec<ObjectKey>> = Vec::with_capacity(plan.actions.len());
    let mut failed_users: BTreeSet<String> = BTreeSet::new();
    let mut failed_domains: BTreeSet<String> = BTreeSet::new();
    // Objects created or restored by this run (lower-case UPNs and ids): a 404 on them is
    // replication lag, not absence.
    let mut created: BTreeSet<String> = young.iter().map(|s| s.to_ascii_lowercase()).collect();
    for phase in [
        Phase::Restore,
        Phase::Users,
        Phase::Federation,
        Phase::Licenses,
        Phase::Groups,
        Phase::Deprovision,
    ] {
        let (indices, actions): (Vec<usize>, Vec<&Action>) = plan
            .actions
            .iter()
            .enumerate()
            .filter(|(_, a)| a.phase() == phase)
            .unzip();
        for (chunk, chunk_indices) in actions.chunks(CHUNK).zip(indices.chunks(CHUNK)) {
            let mut to_send = Vec::new();
            let mut sent = Vec::new();
            let mut responses: Vec<Result<Response, String>> = Vec::with_capacity(chunk.len());
            for (i, action) in chunk.iter().enumerate() {
                match skip_reason(action, &failed_users, &failed_domains) {
                    Some(reason) => responses.push(Err(reason)),
                    None => {
                        // The password lives only inside this request body and is dropped with it.
                        let password =
                            matches!(action, Action::CreateUser { .. }).then(password::generate);
                        match request_for(action, password.as_ref()) {
                            Ok(request) => {
                                to_send.push(request);
                                sent.push(i);
                                responses.push(Err(String::new()));
                            }
                            // Never send a request whose body could not be built.
                            Err(reason) => responses
                                .push(Ok(Response::unsent(reason.to_string(), Retry::Terminal))),
                        }
                    }
                }
            }
            let mut answers = runner.run(to_send).await.into_iter();
            for &i in &sent {
                responses[i] = Ok(answers.next().unwrap_or_else(|| {
                    Response::unsent(
                        "no response from Graph for this request".into(),
                        Retry::Transient,
                    )
                }));
            }
            retry_replication_lag(runner, chunk, &mut responses, &created, REPLICATION_LAG).await;
            for ((action, response), &i) in chunk.iter().zip(responses).zip(chunk_indices) {
                let outcome = match response {
                    Err(reason) => Outcome::Skipped { reason },
                    Ok(response) => outcome_of(runner, action, response).await,
                };
                match &outcome {
                    Outcome::Failed { .. } => {
                        note_failure(action, &mut failed_users, &mut failed_domains)
                    }
                    Outcome::Done | Outcome::AlreadyDone => note_created(action, &mut created),
                    Outcome::Skipped { .. } => {}
                }
                results.push(((*action).clone(), outcome));
                owners.push(plan.owners.get(i).cloned().unwrap_or_default());
            }
            progress(results.len());
        }
    }
    Report {
        plan_id: plan.id.clone(),
        results,
        owners,
    }
}

/// Records a user this run created or restored.
fn note_created(action: &Action, created: &mut BTreeSet<String>) {
    match action {
        Action::CreateUser { user } => {
            created.insert(user.user_principal_name.to_ascii_lowercase());
        }
        // Later actions may name the restored user by id or by UPN.
        Action::RestoreUser {
            id,
            user_principal_name,
        } => {
            created.insert(id.to_ascii_lowercase());
            created.insert(user_principal_name.to_ascii_lowercase());
        }
        _ => {}
    }
}

/// The objects an action addresses by id or UPN that can meet replication lag: the user it
/// updates or licenses, the manager it names, the group it fills or licenses and the members
/// it binds.
fn lag_targets(action: &Action) -> Vec<&str> {
    match action {
        Action::AssignLicenses { user, .. } => vec![user],
        Action::UpdateUser { id, .. } => vec![id],
        Action::SetManager { id, manager, .. } => vec![id, manager],
        Action::AddGroupMembers { group, members, .. } => std::iter::once(group.as_str())
            .chain(members.iter().map(String::as_str))
            .collect(),
        Action::AssignGroupLicenses { group, .. } => vec![group],
        _ => Vec::new(),
    }
}

/// Sends again, with growing delays for up to `lag.total`, the requests that got a 404 for a
/// user created or restored moments before; what still gets a 404 after that has failed.
async fn retry_replication_lag<R: Runner>(
    runner: &R,
    chunk: &[&Action],
    responses: &mut [Result<Response, String>],
    created: &BTreeSet<String>,
    lag: ReplicationLag,
) {
    let lagging = |responses: &[Result<Response, String>]| -> Vec<usize> {
        chunk
            .iter()
            .zip(responses)
            .enumerate()
            .filter(|(_, (action, response))| {
                matches!(
                    response,
                    Ok(Response::Failure {
                        status: Some(404),
                        ..
                    })
                ) && lag_targets(action)
                    .iter()
                    .any(|t| created.contains(&t.to_ascii_lowercase()))
            })
            .map(|(i, _)| i)
            .collect()
    };
    let mut waiting = lagging(responses);
    let mut delay = lag.first;
    let mut waited = Duration::ZERO;
    while !waiting.is_empty() && waited + delay <= lag.total {
        tracing::debug!(
            requests = waiting.len(),
            ?delay,
            "404 on users created moments ago (replication lag); retrying"
        );
        tokio::time::sleep(delay).await;
        waited += delay;
        delay = (delay * 2).min(lag.longest);
        let mut again = Vec::new();
        let mut resent = Vec::new();
        for &i in &waiting {
            match request_for(chunk[i], None) {
                Ok(request) => {
                    again.push(request);
                    resent.push(i);
                }
                Err(reason) => {
                    responses[i] = Ok(Response::unsent(reason.to_string(), Retry::Terminal))
                }
            }
        }
        let answers = runner.run(again).await;
        for (&i, answer) in resent.iter().zip(answers) {
            responses[i] = Ok(answer);
        }
        waiting = lagging(responses);
    }
}

fn domain_of(upn: &str) -> String {
    upn.rsplit_once('@')
        .map(|(_, d)| d.to_ascii_lowercase())
        .unwrap_or_default()
}

/// A failed user creation skips that user's licenses; a failed immutable-ID write skips the
/// federation of its domain (users without one could not sign in through the IdP).
fn note_failure(action: &Action, users: &mut BTreeSet<String>, domains: &mut BTreeSet<String>) {
    match action {
        Action::CreateUser { user } => {
            users.insert(user.user_principal_name.to_ascii_lowercase());
            if user.immutable_id.is_some() {
                domains.insert(domain_of(&user.user_principal_name));
            }
        }
        Action::UpdateUser {
            user_principal_name,
            changes,
            ..
        } if changes.immutable_id.is_some() => {
            domains.insert(domain_of(user_principal_name));
        }
        Action::RestoreUser { id, .. } => {
            users.insert(id.to_ascii_lowercase());
        }
        _ => {}
    }
}

fn skip_reason(
    action: &Action,
    users: &BTreeSet<String>,
    domains: &BTreeSet<String>,
) -> Option<String> {
    match action {
        Action::AssignLicenses {
            user,
            user_principal_name,
            ..
        } if users.contains(&user_principal_name.to_ascii_lowercase())
            || users.contains(&user.to_ascii_lowercase()) =>
        {
            Some("the user could not be created or restored, so no license was assigned".into())
        }
        Action::UpdateUser { id, .. } if users.contains(&id.to_ascii_lowercase()) => {
            Some("the user could not be restored, so it was not updated".into())
        }
        Action::SetManager { id, .. } if users.contains(&id.to_ascii_lowercase()) => {
            Some("the user could not be restored, so its manager was not set".into())
        }
        Action::CreateFederation { domain, .. } if domains.contains(domain) => Some(format!(
            "not federated: setting an immutable ID for a user of {domain} failed, and that user could not sign in through the identity provider; see the failures above"
        )),
        _ => None,
    }
}

async fn outcome_of<R: Runner>(runner: &R, action: &Action, response: Response) -> Outcome {
    match response {
        Response::Success => Outcome::Done,
        Response::Failure {
            status,
            details,
            description,
            retry,
            retry_after,
        } => {
            let failed = |reason: String| Outcome::Failed {
                reason,
                retry,
                retry_after_secs: retry_after.map(|d| d.as_secs().max(1)),
            };
            // Only a conflict on the UPN means "this user exists already"; a conflict on
            // another property (e.g. onPremisesImmutableId held by someone else) is a failure.
            let conflict = details
                .iter()
                .any(|(code, target)| code == "ObjectConflict" && target == "userPrincipalName");
            match action {
                // Created by an earlier, interrupted run (or a retry whose first answer was
                // lost): matched, never duplicated.
                Action::CreateUser { .. } if status == Some(400) && conflict => {
                    Outcome::AlreadyDone
                }
                Action::DeleteUser { .. }
                | Action::DisableUser { .. }
                | Action::RemoveGroupMember { .. }
                    if status == Some(404) =>
                {
                    Outcome::AlreadyDone
                }
                Action::RevertToManaged { .. } if status == Some(404) => Outcome::AlreadyDone,
                // A create whose answer was lost (and was sent again) finds the configuration
                // it made: read it back, and it is done when it is what was asked for.
                Action::CreateFederation { domain, settings } if status.is_some() => {
                    match runner.federation(domain).await {
                        Ok(Some(have)) if federation_matches(settings, &have) => {
                            Outcome::AlreadyDone
                        }
                        Ok(Some(_)) => failed(format!(
                            "{description}; {domain} already has a federation configuration \
                             with other settings: the next run updates it"
                        )),
                        Ok(None) => failed(description),
                        // Not silently: the failure says that the read-back failed too.
                        Err(e) => failed(format!(
                            "{description}; reading {domain}'s federation configuration back \
                             failed too ({e}): the next run reads it again"
                        )),
                    }
                }
                _ => failed(description),
            }
        }
    }
}

/// Whether the configuration Graph has sets every field the create asked for, as asked.
fn federation_matches(want: &FederationSettings, have: &FederationSettings) -> bool {
    let (Ok(serde_json::Value::Object(want)), Ok(serde_json::Value::Object(have))) =
        (serde_json::to_value(want), serde_json::to_value(have))
    else {
        return false;
    };
    want.iter()
        .filter(|(k, _)| k.as_str() != "id")
        .all(|(k, v)| have.get(k) == Some(v))
}

#[cfg(test)]
mod tests;
