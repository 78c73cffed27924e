use std::sync::Mutex;

use super::*;
use crate::model::{LicenseGrant, NewUser, UserChanges};

/// Answers from a script: requests whose URL contains a key get that response.
struct FakeRunner {
    failures: Vec<(&'static str, Response)>,
    seen: Mutex<Vec<Request>>,
}

impl FakeRunner {
    fn new(failures: Vec<(&'static str, Response)>) -> Self {
        Self {
            failures,
            seen: Mutex::new(Vec::new()),
        }
    }
    fn seen(&self) -> Vec<String> {
        self.seen
            .lock()
            .unwrap()
            .iter()
            .map(|r| format!("{} {}", r.method, r.url))
            .collect()
    }
}

impl Runner for FakeRunner {
    async fn run(&self, requests: Vec<Request>) -> Vec<Response> {
        let mut out = Vec::new();
        for r in requests {
            let body = r.body.as_ref().map(ToString::to_string).unwrap_or_default();
            let response = self
                .failures
                .iter()
                .find(|(key, _)| r.url.contains(key) || body.contains(key))
                .map(|(_, resp)| resp.clone())
                .unwrap_or(Response::Success { id: None });
            self.seen.lock().unwrap().push(r);
            out.push(response);
        }
        out
    }
}

fn failure(status: u16, detail: &str) -> Response {
    failure_on(status, detail, "userPrincipalName")
}

fn failure_on(status: u16, detail: &str, target: &str) -> Response {
    Response::Failure {
        status: Some(status),
        details: if detail.is_empty() {
            vec![]
        } else {
            vec![(detail.into(), target.into())]
        },
        description: format!("failed: {status} Request_BadRequest (request-id r1)"),
        retry: if status >= 500 || status == 429 {
            Retry::Transient
        } else {
            Retry::Terminal
        },
        retry_after: None,
    }
}

fn create(upn: &str, immutable: bool) -> Action {
    Action::CreateUser {
        user: Box::new(NewUser {
            user_principal_name: upn.into(),
            display_name: upn.into(),
            given_name: None,
            surname: None,
            mail_nickname: upn.split('@').next().unwrap().into(),
            immutable_id: immutable.then(|| "aWQ=".into()),
            usage_location: Some("US".into()),
            account_enabled: true,
            attributes: Default::default(),
        }),
    }
}

fn license(upn: &str) -> Action {
    Action::AssignLicenses {
        user: upn.into(),
        user_principal_name: upn.into(),
        add: vec![LicenseGrant {
            sku_id: "sku".into(),
            disabled_plans: vec![],
        }],
        remove: vec![],
    }
}

fn plan(actions: Vec<Action>) -> Plan {
    Plan {
        id: "p1".into(),
        actions,
        ..Plan::default()
    }
}

#[tokio::test]
async fn phases_run_in_order_users_federation_licenses_deprovisioning() {
    let runner = FakeRunner::new(vec![]);
    let p = plan(vec![
        Action::DeleteUser {
            id: "old".into(),
            user_principal_name: "old@corp.example".into(),
        },
        license("ann@corp.example"),
        Action::RevertToManaged {
            domain: "corp.example".into(),
        },
        create("ann@corp.example", true),
    ]);
    let report = apply(&runner, &p, &|_| {}).await;
    assert_eq!(
        runner.seen(),
        vec![
            "POST /users",
            "PATCH /domains/corp.example",
            "POST /users/ann@corp.example/assignLicense",
            "DELETE /users/old",
        ]
    );
    assert_eq!(report.totals().created, 1);
    assert_eq!(report.totals().failed, 0);
}

#[tokio::test]
async fn an_existing_user_is_matched_not_duplicated_or_failed() {
    let runner = FakeRunner::new(vec![("ann@corp", failure(400, "ObjectConflict"))]);
    let report = apply(
        &runner,
        &plan(vec![create("ann@corp.example", false)]),
        &|_| {},
    )
    .await;
    assert_eq!(report.results[0].1, Outcome::AlreadyDone);
}

#[tokio::test]
async fn a_conflict_on_another_property_is_a_failure_not_a_match() {
    let runner = FakeRunner::new(vec![(
        "ann@corp",
        failure_on(400, "ObjectConflict", "onPremisesImmutableId"),
    )]);
    let p = plan(vec![
        create("ann@corp.example", true),
        license("ann@corp.example"),
    ]);
    let report = apply(&runner, &p, &|_| {}).await;
    assert!(matches!(report.results[0].1, Outcome::Failed { .. }));
    assert!(matches!(report.results[1].1, Outcome::Skipped { .. }));
}

#[tokio::test]
async fn a_failed_creation_skips_that_users_licenses_with_a_reason() {
    let runner = FakeRunner::new(vec![("\"bob@corp", failure(400, ""))]);
    let p = plan(vec![
        create("bob@corp.example", false),
        license("bob@corp.example"),
        create("cy@corp.example", false),
        license("cy@corp.example"),
    ]);
    let report = apply(&runner, &p, &|_| {}).await;
    let outcomes: Vec<&Outcome> = report.results.iter().map(|(_, o)| o).collect();
    assert!(matches!(outcomes[0], Outcome::Failed { reason, .. } if reason.contains("request-id")));
    assert!(
        matches!(outcomes[2], Outcome::Skipped { reason } if reason.contains("could not be created"))
    );
    assert_eq!(
        runner
            .seen()
            .iter()
            .filter(|r| r.contains("assignLicense"))
            .count(),
        1
    );
}

#[tokio::test]
async fn a_failed_immutable_id_write_holds_back_the_federation_of_its_domain() {
    let runner = FakeRunner::new(vec![("/users/u1", failure(400, ""))]);
    let p = plan(vec![
        Action::UpdateUser {
            id: "u1".into(),
            user_principal_name: "lee@corp.example".into(),
            changes: Box::new(UserChanges {
                immutable_id: Some("bGVl".into()),
                ..UserChanges::default()
            }),
        },
        Action::CreateFederation {
            domain: "corp.example".into(),
            settings: Default::default(),
        },
    ]);
    let report = apply(&runner, &p, &|_| {}).await;
    assert!(
        matches!(&report.results[1].1, Outcome::Skipped { reason } if reason.contains("not federated"))
    );
    assert!(
        !runner
            .seen()
            .iter()
            .any(|r| r.contains("federationConfiguration"))
    );
}

#[tokio::test]
async fn deleting_a_user_that_is_already_gone_counts_as_done() {
    let runner = FakeRunner::new(vec![("/users/gone", failure(404, ""))]);
    let p = plan(vec![Action::DeleteUser {
        id: "gone".into(),
        user_principal_name: "gone@corp.example".into(),
    }]);
    let report = apply(&runner, &p, &|_| {}).await;
    assert_eq!(report.results[0].1, Outcome::AlreadyDone);
}

#[tokio::test]
async fn progress_reaches_the_number_of_actions() {
    let runner = FakeRunner::new(vec![]);
    let actions: Vec<Action> = (0..1000)
        .map(|i| create(&format!("u{i}@corp.example"), false))
        .collect();
    let last = Mutex::new(0);
    apply(&runner, &plan(actions), &|n| *last.lock().unwrap() = n).await;
    assert_eq!(*last.lock().unwrap(), 1000);
}

#[tokio::test]
async fn a_failed_restore_skips_that_users_update_and_licenses() {
    let runner = FakeRunner::new(vec![("deletedItems/u1/restore", failure(400, ""))]);
    let p = plan(vec![
        Action::RestoreUser {
            id: "u1".into(),
            user_principal_name: "ann@corp.example".into(),
        },
        Action::UpdateUser {
            id: "u1".into(),
            user_principal_name: "ann@corp.example".into(),
            changes: Box::new(UserChanges {
                display_name: Some("Ann".into()),
                ..UserChanges::default()
            }),
        },
        Action::AssignLicenses {
            user: "u1".into(),
            user_principal_name: "ann@corp.example".into(),
            add: vec![LicenseGrant {
                sku_id: "sku".into(),
                disabled_plans: vec![],
            }],
            remove: vec![],
        },
    ]);
    let report = apply(&runner, &p, &|_| {}).await;
    assert!(matches!(report.results[0].1, Outcome::Failed { .. }));
    assert!(matches!(report.results[1].1, Outcome::Skipped { .. }));
    assert!(matches!(report.results[2].1, Outcome::Skipped { .. }));
    assert_eq!(runner.seen(), ["POST /directory/deletedItems/u1/restore"]);
}

/// Always 404 for assignLicense; counts the attempts.
struct Lagging(Mutex<usize>);

impl Runner for Lagging {
    async fn run(&self, requests: Vec<Request>) -> Vec<Response> {
        requests
            .iter()
            .map(|r| {
                if r.url.contains("assignLicense") {
                    *self.0.lock().unwrap() += 1;
                    failure(404, "")
                } else {
                    Response::Success { id: None }
                }
            })
            .collect()
    }
}

#[tokio::test]
async fn a_404_that_outlasts_the_replication_window_fails() {
    let runner = Lagging(Mutex::new(0));
    let lag = ReplicationLag {
        first: std::time::Duration::from_millis(5),
        longest: std::time::Duration::from_millis(20),
        total: std::time::Duration::from_millis(60),
    };
    let created: BTreeSet<String> = ["ann@corp.example".to_string()].into();
    let action = license("ann@corp.example");
    let chunk = [&action];
    let mut responses = vec![Ok(failure(404, ""))];
    retry_replication_lag(&runner, &chunk, &mut responses, &created, lag).await;
    // 5 + 10 + 20 + 20 ms fit in 60 ms; the next 20 would not.
    assert_eq!(*runner.0.lock().unwrap(), 4);
    assert!(matches!(
        responses[0],
        Ok(Response::Failure {
            status: Some(404),
            ..
        })
    ));
    // A user this run did not create: a 404 is not retried.
    let other = license("bob@corp.example");
    let mut responses = vec![Ok(failure(404, ""))];
    retry_replication_lag(&runner, &[&other], &mut responses, &created, lag).await;
    assert_eq!(*runner.0.lock().unwrap(), 4);
}

#[tokio::test]
async fn a_federation_read_back_with_other_settings_is_a_failure() {
    struct Federated(FederationSettings);
    impl Runner for Federated {
        async fn run(&self, requests: Vec<Request>) -> Vec<Response> {
            requests.iter().map(|_| failure(400, "")).collect()
        }
        async fn federation(
            &self,
            _domain: &str,
        ) -> Result<Option<FederationSettings>, crate::graph::GraphError> {
            Ok(Some(self.0.clone()))
        }
    }
    let want = FederationSettings {
        issuer_uri: Some("https://idp/a".into()),
        ..FederationSettings::default()
    };
    let create = Action::CreateFederation {
        domain: "corp.example".into(),
        settings: Box::new(want.clone()),
    };
    let same = Federated(FederationSettings {
        id: "f1".into(),
        display_name: Some("extra fields Graph fills in".into()),
        ..want.clone()
    });
    let report = apply(&same, &plan(vec![create.clone()]), &|_| {}).await;
    assert_eq!(report.results[0].1, Outcome::AlreadyDone);
    let other = Federated(FederationSettings {
        issuer_uri: Some("https://idp/b".into()),
        ..FederationSettings::default()
    });
    let report = apply(&other, &plan(vec![create]), &|_| {}).await;
    assert!(
        matches!(&report.results[0].1, Outcome::Failed { reason, .. } if reason.contains("other settings"))
    );
}

#[test]
fn a_restored_user_counts_as_created_by_id_and_by_upn() {
    // Its update names it by id, its licences may name it by UPN: a 404 on either is lag.
    let mut created = BTreeSet::new();
    note_created(
        &Action::RestoreUser {
            id: "U1".into(),
            user_principal_name: "Ann@Corp.example".into(),
        },
        &mut created,
    );
    assert!(created.contains("u1"));
    assert!(created.contains("ann@corp.example"));
    assert_eq!(
        lag_targets(&license("ann@corp.example")),
        ["ann@corp.example"]
    );
}

#[test]
fn group_writes_can_meet_replication_lag_on_the_group_and_on_its_new_members() {
    let add = Action::AddGroupMembers {
        group: "g1".into(),
        group_name: "e3".into(),
        members: vec!["u1".into(), "u2".into()],
        user_principal_names: vec!["a@x".into(), "b@x".into()],
    };
    assert_eq!(lag_targets(&add), ["g1", "u1", "u2"]);
    let license = Action::AssignGroupLicenses {
        group: "g1".into(),
        group_name: "e3".into(),
        add: vec![],
        remove: vec![],
    };
    assert_eq!(lag_targets(&license), ["g1"]);
}

/// Always 404 for group writes; counts the attempts.
struct LaggingGroup(Mutex<usize>);

impl Runner for LaggingGroup {
    async fn run(&self, requests: Vec<Request>) -> Vec<Response> {
        let mut n = self.0.lock().unwrap();
        requests
            .iter()
            .map(|_| {
                *n += 1;
                // The first two attempts land on a replica that has not seen the group.
                if *n <= 2 {
                    failure(404, "")
                } else {
                    Response::Success { id: None }
                }
            })
            .collect()
    }
}

#[tokio::test]
async fn a_404_on_a_group_created_by_the_earlier_pass_is_retried() {
    let license = Action::AssignGroupLicenses {
        group: "G1".into(),
        group_name: "e3".into(),
        add: vec![LicenseGrant {
            sku_id: "sku".into(),
            disabled_plans: vec![],
        }],
        remove: vec![],
    };
    // Created by the earlier pass: retried until the replicas have it.
    let runner = LaggingGroup(Mutex::new(0));
    let young = BTreeSet::from(["g1".to_string()]);
    let report = apply_after(&runner, &plan(vec![license.clone()]), &|_| {}, young).await;
    assert_eq!(report.results[0].1, Outcome::Done);
    assert_eq!(*runner.0.lock().unwrap(), 3);
    // Not created by this run: a 404 is a failure at once.
    let runner = LaggingGroup(Mutex::new(0));
    let report = apply(&runner, &plan(vec![license]), &|_| {}).await;
    assert!(matches!(report.results[0].1, Outcome::Failed { .. }));
    assert_eq!(*runner.0.lock().unwrap(), 1);
}

/// Creates answer with an id (`id-` + the UPN, or `g1` for the group); a create whose body
/// names `fail` fails. Records the requests of every `run` call.
struct Creating {
    fail: &'static str,
    calls: Mutex<Vec<Vec<String>>>,
    bodies: Mutex<Vec<serde_json::Value>>,
}

impl Runner for Creating {
    async fn run(&self, requests: Vec<Request>) -> Vec<Response> {
        let mut call = Vec::new();
        let out = requests
            .iter()
            .map(|r| {
                call.push(format!("{} {}", r.method, r.url));
                let body = r.body.clone().unwrap_or_default();
                if r.method == "PATCH" {
                    self.bodies.lock().unwrap().push(body.clone());
                }
                let upn = body["userPrincipalName"].as_str().unwrap_or_default();
                if !self.fail.is_empty() && upn.contains(self.fail) {
                    return failure(400, "");
                }
                let id = match r.url.as_str() {
                    "/users" => Some(format!("id-{upn}")),
                    "/groups" => Some("g1".to_string()),
                    _ => None,
                };
                Response::Success { id }
            })
            .collect();
        self.calls.lock().unwrap().push(call);
        out
    }
}

/// A plan of group-based licensing for `n` new users and a new group, as the planner makes it.
fn new_group_plan(n: usize) -> (Plan, Vec<String>) {
    let upns: Vec<String> = (0..n).map(|i| format!("u{i:04}@corp.example")).collect();
    let mut actions = vec![
        Action::CreateGroup {
            group: crate::model::NewGroup {
                display_name: "e3".into(),
                mail_nickname: "e3".into(),
                description: "e3".into(),
            },
        },
        Action::AssignGroupLicenses {
            group: String::new(),
            group_name: "E3".into(),
            add: vec![LicenseGrant {
                sku_id: "sku".into(),
                disabled_plans: vec![],
            }],
            remove: vec![],
        },
    ];
    actions.extend(upns.iter().map(|u| create(u, false)));
    for chunk in upns.chunks(20) {
        actions.push(Action::AddGroupMembers {
            group: String::new(),
            group_name: "e3".into(),
            members: vec![String::new(); chunk.len()],
            user_principal_names: chunk.to_vec(),
        });
    }
    (plan(actions), upns)
}

#[tokio::test]
async fn new_users_join_a_new_group_while_the_next_users_are_still_being_created() {
    let (p, upns) = new_group_plan(450);
    let runner = Creating {
        fail: "",
        calls: Mutex::new(Vec::new()),
        bodies: Mutex::new(Vec::new()),
    };
    let report = apply(&runner, &p, &|_| {}).await;
    let calls = runner.calls.lock().unwrap().clone();
    let count = |call: &[String], what: &str| call.iter().filter(|r| *r == what).count();
    // The group first, then its licenses, then the users; the members of each chunk of
    // creates go out with the next chunk.
    assert_eq!(calls[0], ["POST /groups"]);
    assert_eq!(calls[1], ["POST /groups/g1/assignLicense"]);
    assert_eq!(count(&calls[2], "POST /users"), 400);
    assert_eq!(calls[2].len(), 400, "no member before its create answered");
    assert_eq!(count(&calls[3], "PATCH /groups/g1"), 20);
    assert_eq!(count(&calls[3], "POST /users"), 50);
    assert_eq!(count(&calls[4], "PATCH /groups/g1"), 3);
    assert_eq!(calls.len(), 5);
    // Each member is bound by the id its create answered with.
    let bound: Vec<String> = runner
        .bodies
        .lock()
        .unwrap()
        .iter()
        .flat_map(|b| {
            b["members@odata.bind"]
                .as_array()
                .cloned()
                .unwrap_or_default()
        })
        .filter_map(|v| v.as_str().map(str::to_string))
        .collect();
    assert_eq!(bound.len(), 450);
    assert!(
        bound[0].ends_with(&format!("/directoryObjects/id-{}", upns[0])),
        "{}",
        bound[0]
    );
    // The report names the ids it wrote, and nothing failed or was skipped.
    assert!(report.results.iter().all(|(_, o)| *o == Outcome::Done));
    assert!(report.results.iter().any(|(a, _)| matches!(
        a,
        Action::AddGroupMembers { group, members, .. }
            if group == "g1" && members[0] == format!("id-{}", upns[0])
    )));
    assert_eq!(report.results.len(), p.actions.len());
}

#[tokio::test]
async fn a_user_whose_create_failed_is_left_out_of_its_group_and_reported() {
    let (p, upns) = new_group_plan(30);
    let runner = Creating {
        fail: "u0003@",
        calls: Mutex::new(Vec::new()),
        bodies: Mutex::new(Vec::new()),
    };
    let report = apply(&runner, &p, &|_| {}).await;
    let joins: Vec<(&Vec<String>, &Outcome)> = report
        .results
        .iter()
        .filter_map(|(a, o)| match a {
            Action::AddGroupMembers {
                user_principal_names,
                ..
            } => Some((user_principal_names, o)),
            _ => None,
        })
        .collect();
    let skipped: Vec<_> = joins
        .iter()
        .filter(|(_, o)| matches!(o, Outcome::Skipped { .. }))
        .collect();
    assert_eq!(skipped.len(), 1, "{joins:#?}");
    assert_eq!(skipped[0].0, &vec![upns[3].clone()]);
    let Outcome::Skipped { reason } = skipped[0].1 else {
        unreachable!()
    };
    assert!(reason.contains("could not be created"), "{reason}");
    let done: usize = joins
        .iter()
        .filter(|(_, o)| **o == Outcome::Done)
        .map(|(u, _)| u.len())
        .sum();
    assert_eq!(done, 29);
}

#[tokio::test]
async fn when_the_new_group_cannot_be_created_its_licenses_and_members_are_skipped() {
    let (mut p, _) = new_group_plan(3);
    p.actions
        .retain(|a| !matches!(a, Action::CreateUser { .. }));
    let runner = FakeRunner::new(vec![("/groups", failure(400, ""))]);
    let report = apply(&runner, &p, &|_| {}).await;
    assert_eq!(
        runner.seen(),
        ["POST /groups"],
        "nothing names a group without an id"
    );
    let skipped = report
        .results
        .iter()
        .filter(|(_, o)| matches!(o, Outcome::Skipped { reason } if reason.contains("could not be created")))
        .count();
    assert_eq!(skipped, 2, "{:#?}", report.results);
}
