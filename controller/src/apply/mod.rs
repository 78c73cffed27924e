//! Executes a plan through Microsoft Graph and reports what happened to every action.
//!
//! Phases run in order (users → federation → licenses → deprovisioning); inside a phase the
//! actions go out as `$batch` requests with bounded concurrency through the rate-limited client.
//! Every action is idempotent against the tenant: a user that already exists is reported as
//! matched (no duplicate), a user already gone as done. A crash loses nothing: the next run
//! re-plans from the observed state.

pub mod password;
mod requests;
mod runner;

use std::collections::BTreeSet;
use std::future::Future;
use std::time::Duration;

pub use requests::{Request, request_for};
pub use runner::GraphRunner;

use crate::model::{Action, ObjectKey, Outcome, Phase, Plan, Report, Retry};

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

/// Sends requests to Graph. `GraphRunner` is the real one; tests use fakes.
pub trait Runner: Sync {
    /// Sends every request (batched, rate limited, retried) and returns one response per request,
    /// in order.
    fn run(&self, requests: Vec<Request>) -> impl Future<Output = Vec<Response>> + Send;
}

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
    let mut results: Vec<(Action, Outcome)> = Vec::with_capacity(plan.actions.len());
    let mut owners: Vec<Vec<ObjectKey>> = Vec::with_capacity(plan.actions.len());
    let mut failed_users: BTreeSet<String> = BTreeSet::new();
    let mut failed_domains: BTreeSet<String> = BTreeSet::new();
    for phase in [
        Phase::Users,
        Phase::Federation,
        Phase::Licenses,
        Phase::Deprovision,
    ] {
        let actions: Vec<(usize, &Action)> = plan
            .actions
            .iter()
            .enumerate()
            .filter(|(_, a)| a.phase() == phase)
            .collect();
        for chunk in actions.chunks(CHUNK) {
            let mut to_send = Vec::new();
            let mut outcomes: Vec<Option<Outcome>> = Vec::with_capacity(chunk.len());
            for (_, action) in chunk {
                match skip_reason(action, &failed_users, &failed_domains) {
                    Some(reason) => outcomes.push(Some(Outcome::Skipped { reason })),
                    None => {
                        // The password lives only inside this request body and is dropped with it.
                        let password =
                            matches!(action, Action::CreateUser { .. }).then(password::generate);
                        match request_for(action, password.as_ref()) {
                            Ok(request) => {
                                to_send.push(request);
                                outcomes.push(None);
                            }
                            // Never send a request whose body could not be built.
                            Err(reason) => outcomes.push(Some(Outcome::Failed {
                                reason,
                                retry: Retry::Terminal,
                                retry_after_secs: None,
                            })),
                        }
                    }
                }
            }
            let mut responses = runner.run(to_send).await.into_iter();
            for ((i, action), outcome) in chunk.iter().zip(outcomes) {
                let outcome = outcome.unwrap_or_else(|| match responses.next() {
                    Some(response) => outcome_of(action, response),
                    None => Outcome::Failed {
                        reason: "no response from Graph for this request".into(),
                        retry: Retry::Transient,
                        retry_after_secs: None,
                    },
                });
                if matches!(outcome, Outcome::Failed { .. }) {
                    note_failure(action, &mut failed_users, &mut failed_domains);
                }
                results.push(((*action).clone(), outcome));
                owners.push(plan.owners.get(*i).cloned().unwrap_or_default());
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
            user_principal_name,
            ..
        } if users.contains(&user_principal_name.to_ascii_lowercase()) => {
            Some("the user could not be created, so no license was assigned".into())
        }
        Action::CreateFederation { domain, .. } if domains.contains(domain) => Some(format!(
            "not federated: setting an immutable ID for a user of {domain} failed, and that user could not sign in through the identity provider; see the failures above"
        )),
        _ => None,
    }
}

fn outcome_of(action: &Action, response: Response) -> Outcome {
    match response {
        Response::Success => Outcome::Done,
        Response::Failure {
            status,
            details,
            description,
            retry,
            retry_after,
        } => {
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
                Action::DeleteUser { .. } | Action::DisableUser { .. } if status == Some(404) => {
                    Outcome::AlreadyDone
                }
                Action::RevertToManaged { .. } if status == Some(404) => Outcome::AlreadyDone,
                _ => Outcome::Failed {
                    reason: description,
                    retry,
                    retry_after_secs: retry_after.map(|d| d.as_secs().max(1)),
                },
            }
        }
    }
}

#[cfg(test)]
mod tests;
