//! Executes a plan through Microsoft Graph and reports what happened to every action.
//!
//! Phases run in order (restores → users → federation → licenses → groups → deprovisioning),
//! after the license groups a plan creates; inside a phase the actions go out as `$batch`
//! requests with bounded concurrency through the rate-limited client. A group write naming a
//! group or users the plan creates goes out as soon as their creates have answered with the
//! ids, beside the actions still going out. Every action is idempotent against the tenant: a user that already
//! exists is reported as matched (no duplicate), a user already gone as done, a federation
//! create whose answer was lost is read back. A 404 on a user or group created or restored moments
//! before (by this pass, or by the earlier pass of the run: [`apply_after`]) is replication lag
//! and retried for up to two minutes. A crash loses nothing: the next run
//! re-plans from the observed state.

pub mod password;
mod requests;
mod runner;

use std::collections::{BTreeMap, BTreeSet, HashMap, VecDeque};
use std::future::Future;
use std::time::Duration;

pub use requests::{Request, RequestError, request_for};
pub use runner::GraphRunner;

use crate::graph::GraphError;
use crate::model::{Action, ActionOwners, FederationSettings, Outcome, Phase, Plan, Report, Retry};

/// How one request ended, as `apply` needs to know it.
#[derive(Debug, Clone, PartialEq)]
pub enum Response {
    /// 2xx, with the `id` the answer's body names (a create's new object), if any.
    Success {
        /// The `id` of the object in the answer.
        id: Option<String>,
    },
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

/// A step of the apply: the groups a later step names are created first, then the phases.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Step {
    /// `CreateGroup`: members and licenses of a new group go out as soon as it exists.
    NewGroups,
    Phase(Phase),
}

const STEPS: [Step; 7] = [
    Step::NewGroups,
    Step::Phase(Phase::Restore),
    Step::Phase(Phase::Users),
    Step::Phase(Phase::Federation),
    Step::Phase(Phase::Licenses),
    Step::Phase(Phase::Groups),
    Step::Phase(Phase::Deprovision),
];

impl Step {
    /// Whether `action` runs in this step (the actions waiting for new ids run when those ids
    /// are known: [`waits_for_ids`]).
    fn runs(self, action: &Action) -> bool {
        let create_group = matches!(action, Action::CreateGroup { .. });
        match self {
            Step::NewGroups => create_group,
            Step::Phase(p) => !create_group && !waits_for_ids(action) && action.phase() == p,
        }
    }
}

/// Whether a group write names an object this plan creates (an empty id): it is sent once the
/// create has answered with the id.
fn waits_for_ids(action: &Action) -> bool {
    match action {
        Action::AddGroupMembers { group, members, .. } => {
            group.is_empty() || members.iter().any(String::is_empty)
        }
        Action::AssignGroupLicenses { group, .. } => group.is_empty(),
        _ => false,
    }
}

/// The ids this run's creates answered with, by lower-case UPN (users) and display name
/// (groups), or why there is none; only for the objects a waiting group write names.
#[derive(Debug, Default)]
struct NewIds {
    users: HashMap<String, Result<String, String>>,
    groups: HashMap<String, Result<String, String>>,
    /// Lower-case UPNs a waiting write names.
    wanted_users: BTreeSet<String>,
}

impl NewIds {
    fn for_plan(plan: &Plan) -> NewIds {
        let mut ids = NewIds::default();
        for action in &plan.actions {
            if let Action::AddGroupMembers {
                members,
                user_principal_names,
                ..
            } = action
            {
                for (id, upn) in members.iter().zip(user_principal_names) {
                    if id.is_empty() {
                        ids.wanted_users.insert(upn.to_ascii_lowercase());
                    }
                }
            }
        }
        ids
    }

    /// Records what a create's answer says about the new object's id.
    fn note(&mut self, action: &Action, outcome: &Outcome, id: Option<String>) {
        let known = |what: &str| match outcome {
            Outcome::Done => {
                id.ok_or_else(|| format!("Graph's answer to the create of {what} named no id"))
            }
            Outcome::AlreadyDone => Err(format!(
                "{what} existed already and its id is read after this pass"
            )),
            Outcome::Failed { .. } | Outcome::Skipped { .. } => {
                Err(format!("{what} could not be created"))
            }
        };
        match action {
            Action::CreateUser { user } => {
                let upn = user.user_principal_name.to_ascii_lowercase();
                if self.wanted_users.contains(&upn) {
                    let id = known("the user");
                    self.users.insert(upn, id);
                }
            }
            Action::CreateGroup { group } => {
                let id = known("the group");
                self.groups
                    .insert(group.display_name.to_ascii_lowercase(), id);
            }
            _ => {}
        }
    }

    /// Whether every object `action` waits for has answered (or, once every create has
    /// answered, `all_answered`: what never will counts as failed).
    fn settled(&self, action: &Action, all_answered: bool) -> bool {
        if all_answered {
            return true;
        }
        let group_known = |group: &str, name: &str| {
            !group.is_empty() || self.groups.contains_key(&name.to_ascii_lowercase())
        };
        match action {
            Action::AddGroupMembers {
                group,
                group_name,
                members,
                user_principal_names,
            } => {
                group_known(group, group_name)
                    && members.iter().zip(user_principal_names).all(|(id, upn)| {
                        !id.is_empty() || self.users.contains_key(&upn.to_ascii_lowercase())
                    })
            }
            Action::AssignGroupLicenses {
                group, group_name, ..
            } => group_known(group, group_name),
            _ => true,
        }
    }

    /// Fills in the ids `action` waits for: the write to send (if any), and the parts that
    /// cannot be sent with the reason (the group or a user could not be created).
    fn resolve(&self, action: &Action) -> (Option<Action>, Vec<(Action, String)>) {
        let group_id = |group: &str, name: &str| -> Result<String, String> {
            if !group.is_empty() {
                return Ok(group.to_string());
            }
            match self.groups.get(&name.to_ascii_lowercase()) {
                Some(Ok(id)) => Ok(id.clone()),
                Some(Err(reason)) => Err(reason.clone()),
                None => Err("the group is not created by this run".into()),
            }
        };
        match action {
            Action::AddGroupMembers {
                group,
                group_name,
                members,
                user_principal_names,
            } => {
                let group = match group_id(group, group_name) {
                    Ok(id) => id,
                    Err(reason) => {
                        return (
                            None,
                            vec![(action.clone(), format!("{reason}, so no member joined it"))],
                        );
                    }
                };
                let mut send = (Vec::new(), Vec::new());
                let mut left: BTreeMap<String, (Vec<String>, Vec<String>)> = BTreeMap::new();
                for (id, upn) in members.iter().zip(user_principal_names) {
                    let id = if id.is_empty() {
                        match self.users.get(&upn.to_ascii_lowercase()) {
                            Some(Ok(id)) => Ok(id.clone()),
                            Some(Err(reason)) => Err(reason.clone()),
                            None => Err("the user is not created by this run".into()),
                        }
                    } else {
                        Ok(id.clone())
                    };
                    match id {
                        Ok(id) => {
                            send.0.push(id);
                            send.1.push(upn.clone());
                        }
                        Err(reason) => {
                            let entry = left.entry(reason).or_default();
                            entry.0.push(String::new());
                            entry.1.push(upn.clone());
                        }
                    }
                }
                let part = |(members, user_principal_names): (Vec<String>, Vec<String>)| {
                    Action::AddGroupMembers {
                        group: group.clone(),
                        group_name: group_name.clone(),
                        members,
                        user_principal_names,
                    }
                };
                let skipped = left
                    .into_iter()
                    .map(|(reason, members)| {
                        (
                            part(members),
                            format!("{reason}, so it did not join the group"),
                        )
                    })
                    .collect();
                ((!send.0.is_empty()).then(|| part(send)), skipped)
            }
            Action::AssignGroupLicenses {
                group,
                group_name,
                add,
                remove,
            } => match group_id(group, group_name) {
                Ok(group) => (
                    Some(Action::AssignGroupLicenses {
                        group,
                        group_name: group_name.clone(),
                        add: add.clone(),
                        remove: remove.clone(),
                    }),
                    Vec::new(),
                ),
                Err(reason) => (
                    None,
                    vec![(action.clone(), format!("{reason}, so it was not licensed"))],
                ),
            },
            _ => (Some(action.clone()), Vec::new()),
        }
    }
}

/// [`apply`] right after an earlier pass of the same run that created or restored `young`
/// objects (ids and UPNs, any case): a 404 on one of them is replication lag, retried like a
/// 404 on an object this pass creates.
///
/// The groups of group-based licensing are created first. A group write that names a group or
/// users this plan creates waits for their creates' answers (which carry the ids) and then goes
/// out with the next chunk of actions: new members join 20 per request while the remaining
/// users are still being created, under the same throttle budget.
pub async fn apply_after<R: Runner>(
    runner: &R,
    plan: &Plan,
    progress: &(dyn Fn(usize) + Sync),
    young: BTreeSet<String>,
) -> Report {
    let mut results: Vec<(Action, Outcome)> = Vec::with_capacity(plan.actions.len());
    let mut owners: Vec<ActionOwners> = Vec::with_capacity(plan.actions.len());
    let mut failed_users: BTreeSet<String> = BTreeSet::new();
    let mut failed_domains: BTreeSet<String> = BTreeSet::new();
    // Objects created or restored by this run (lower-case UPNs and ids): a 404 on them is
    // replication lag, not absence.
    let mut created: BTreeSet<String> = young.iter().map(|s| s.to_ascii_lowercase()).collect();
    let mut ids = NewIds::for_plan(plan);
    // Plan indices of the group writes waiting for new ids, in plan order.
    let mut waiting: VecDeque<usize> = plan
        .actions
        .iter()
        .enumerate()
        .filter(|(_, a)| waits_for_ids(a))
        .map(|(i, _)| i)
        .collect();
    for step in STEPS {
        let indices: Vec<usize> = plan
            .actions
            .iter()
            .enumerate()
            .filter(|(_, a)| step.runs(a))
            .map(|(i, _)| i)
            .collect();
        // From the groups phase on, every create has answered.
        let all_answered = step >= Step::Phase(Phase::Groups);
        let mut next = indices.chunks(CHUNK);
        loop {
            let planned = next.next().unwrap_or_default();
            // The waiting writes whose ids are known now go out with this chunk.
            let mut ready = Vec::new();
            let mut still = VecDeque::with_capacity(waiting.len());
            for i in waiting.drain(..) {
                if ready.len() < CHUNK && ids.settled(&plan.actions[i], all_answered) {
                    ready.push(i);
                } else {
                    still.push_back(i);
                }
            }
            waiting = still;
            if planned.is_empty() && ready.is_empty() {
                break;
            }
            let mut chunk: Vec<Action> = Vec::with_capacity(ready.len() + planned.len());
            let mut chunk_owners: Vec<ActionOwners> = Vec::with_capacity(chunk.capacity());
            let mut responses: Vec<Result<Response, String>> = Vec::with_capacity(chunk.capacity());
            let owners_of = |i: usize| plan.owners.get(i).cloned().unwrap_or_default();
            for &i in &ready {
                let (send, skipped) = ids.resolve(&plan.actions[i]);
                for (action, reason) in skipped {
                    chunk.push(action);
                    chunk_owners.push(owners_of(i));
                    responses.push(Err(reason));
                }
                if let Some(action) = send {
                    chunk.push(action);
                    chunk_owners.push(owners_of(i));
                    responses.push(Err(String::new()));
                }
            }
            let mut to_send = Vec::new();
            let mut sent = Vec::new();
            for &i in planned {
                chunk.push(plan.actions[i].clone());
                chunk_owners.push(owners_of(i));
                responses.push(Err(String::new()));
            }
            for (n, action) in chunk.iter().enumerate() {
                if !matches!(&responses[n], Err(reason) if reason.is_empty()) {
                    continue;
                }
                if let Some(reason) = skip_reason(action, &failed_users, &failed_domains) {
                    responses[n] = Err(reason);
                    continue;
                }
                // The password lives only inside this request body and is dropped with it.
                let password = matches!(action, Action::CreateUser { .. }).then(password::generate);
                match request_for(action, password.as_ref()) {
                    Ok(request) => {
                        to_send.push(request);
                        sent.push(n);
                    }
                    // Never send a request whose body could not be built.
                    Err(reason) => {
                        responses[n] = Ok(Response::unsent(reason.to_string(), Retry::Terminal))
                    }
                }
            }
            let answers = if to_send.is_empty() {
                Vec::new()
            } else {
                runner.run(to_send).await
            };
            let mut answers = answers.into_iter();
            for &n in &sent {
                responses[n] = Ok(answers.next().unwrap_or_else(|| {
                    Response::unsent(
                        "no response from Graph for this request".into(),
                        Retry::Transient,
                    )
                }));
            }
            let chunk_refs: Vec<&Action> = chunk.iter().collect();
            retry_replication_lag(
                runner,
                &chunk_refs,
                &mut responses,
                &created,
                REPLICATION_LAG,
            )
            .await;
            for ((action, response), action_owners) in
                chunk.into_iter().zip(responses).zip(chunk_owners)
            {
                let new_id = match &response {
                    Ok(Response::Success { id }) => id.clone(),
                    _ => None,
                };
                let outcome = match response {
                    Err(reason) => Outcome::Skipped { reason },
                    Ok(response) => outcome_of(runner, &action, response).await,
                };
                match &outcome {
                    Outcome::Failed { .. } => {
                        note_failure(&action, &mut failed_users, &mut failed_domains)
                    }
                    Outcome::Done | Outcome::AlreadyDone => {
                        note_created(&action, &mut created);
                        if let (Outcome::Done, Some(id)) = (&outcome, &new_id)
                            && matches!(
                                action,
                                Action::CreateUser { .. } | Action::CreateGroup { .. }
                            )
                        {
                            created.insert(id.to_ascii_lowercase());
                        }
                    }
                    Outcome::Skipped { .. } => {}
                }
                ids.note(&action, &outcome, new_id);
                results.push((action, outcome));
                owners.push(action_owners);
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
        Response::Success { .. } => Outcome::Done,
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
