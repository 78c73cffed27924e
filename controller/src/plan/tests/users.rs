//! Rules 1–5, 15 and 17: domain match, match-not-duplicate, immutable IDs, create/update,
//! manual export, conflicting assignments and counts.

use crate::api::{Authentication, Provisioning};
use crate::model::{
    Action, AuthenticationType, Drift, NewUser, PlannedCounts, Severity, UserChanges,
};
use crate::plan::derive_immutable_id;
use crate::plan::testing::*;

fn created(plan: &crate::model::Plan) -> Vec<&NewUser> {
    plan.actions
        .iter()
        .filter_map(|a| match a {
            Action::CreateUser { user } => Some(&**user),
            _ => None,
        })
        .collect()
}

fn counts(plan: &crate::model::Plan, name: &str) -> PlannedCounts {
    object(plan, &assignment_key(name)).counts.clone().unwrap()
}

#[test]
fn users_outside_the_domain_are_skipped_with_a_reason() {
    let plan = World::new()
        .listing(&[
            "ann@corp.example.com",
            "bob@other.example.com",
            "cy@sub.corp.example.com",
        ])
        .plan();
    let upns: Vec<_> = created(&plan)
        .iter()
        .map(|u| u.user_principal_name.as_str())
        .collect();
    assert_eq!(upns, ["ann@corp.example.com"]);
    let skipped = findings(&plan, Reason::UpnOutsideDomain);
    assert_eq!(skipped.len(), 2);
    assert!(
        skipped
            .iter()
            .all(|f| f.severity >= Severity::Info && f.message.contains(DOMAIN))
    );
    assert_eq!(skipped[0].user.as_deref(), Some("bob@other.example.com"));
    assert_eq!(counts(&plan, "team-a").skipped, 2);
}

#[test]
fn domain_match_is_case_insensitive() {
    let plan = World::new().listing(&["Ann@CORP.Example.com"]).plan();
    assert_eq!(created(&plan).len(), 1);
    assert!(findings(&plan, Reason::UpnOutsideDomain).is_empty());
}

#[test]
fn assignment_with_unknown_domain_ref_gets_domain_not_found() {
    let mut w = World::new().listing(&["ann@corp.example.com"]);
    w.assignment().spec.domain_ref.name = "nope".into();
    let plan = w.plan();
    let f = finding(&plan, Reason::DomainNotFound);
    assert_eq!(f.severity, Severity::Error);
    assert_eq!(f.object, assignment_key("team-a"));
    assert!(plan.actions.is_empty());
    // A dangling reference is a refusal, not a failed read: Blocked, never Unknown.
    assert_eq!(
        object(&plan, &assignment_key("team-a")).state,
        crate::model::State::Blocked
    );
}

#[test]
fn domain_ref_does_not_cross_namespaces() {
    let mut w = World::new().listing(&["ann@corp.example.com"]);
    w.domain().key.namespace = "elsewhere".into();
    let plan = w.plan();
    assert!(has_finding(
        &plan,
        Reason::DomainNotFound,
        Severity::Error,
        &assignment_key("team-a")
    ));
    assert!(created(&plan).is_empty());
}

#[test]
fn existing_user_is_matched_not_duplicated() {
    let plan = World::new()
        .listing(&["Ann@corp.example.com"])
        .with_users([tenant_user("ann@CORP.example.com")])
        .plan();
    assert!(created(&plan).is_empty());
    let c = counts(&plan, "team-a");
    assert_eq!((c.matched, c.create), (1, 0));
}

#[test]
fn adopted_user_gets_an_immutable_id_when_it_has_none() {
    let mut cloud = tenant_user("ann@corp.example.com");
    cloud.immutable_id = None;
    let mut w = World::new()
        .listing(&["ann@corp.example.com"])
        .with_users([cloud]);
    w.desired.domains[0] = federated(w.desired.domains[0].clone());
    let plan = w.plan();
    let want = UserChanges {
        immutable_id: Some(derive_immutable_id("ann@corp.example.com")),
        ..UserChanges::default()
    };
    assert_eq!(
        actions_for(&plan, "ann@corp.example.com"),
        [&Action::UpdateUser {
            id: "id-ann@corp.example.com".into(),
            user_principal_name: "ann@corp.example.com".into(),
            changes: Box::new(want),
        }]
    );
    assert_eq!(counts(&plan, "team-a").matched, 1);
}

#[test]
fn existing_user_without_adopt_existing_is_a_conflict_and_left_alone() {
    let mut w = World::new()
        .listing(&["ann@corp.example.com"])
        .with_users([tenant_user("ann@corp.example.com")]);
    w.users_mut()[1].display_name = Some("Other".into());
    w.assignment().spec.adopt_existing = false;
    let plan = w.plan();
    assert!(actions_for(&plan, "ann@corp.example.com").is_empty());
    assert_eq!(finding(&plan, Reason::UserExists).severity, Severity::Error);
    let c = counts(&plan, "team-a");
    assert_eq!((c.matched, c.skipped, c.create), (0, 1, 0));
}

#[test]
fn derived_immutable_id_is_set_on_create_in_a_federated_domain() {
    let mut w = World::new().listing(&["Ann@corp.example.com"]);
    w.desired.domains[0] = federated(w.desired.domains[0].clone());
    let plan = w.plan();
    assert_eq!(
        created(&plan)[0].immutable_id.as_deref(),
        Some("YW5uQGNvcnAuZXhhbXBsZS5jb20=")
    );
}

#[test]
fn users_of_a_domain_federated_in_the_tenant_get_an_immutable_id_even_when_reverting() {
    let mut w = World::new().listing(&["ann@corp.example.com"]);
    w.observed_corp().authentication = AuthenticationType::Federated;
    assert_eq!(
        w.desired.domains[0].spec.authentication,
        Authentication::Managed
    );
    let plan = w.plan();
    assert!(created(&plan)[0].immutable_id.is_some());
}

#[test]
fn explicit_immutable_id_wins_over_the_derived_one() {
    let mut w = World::new();
    w.desired.domains[0] = federated(w.desired.domains[0].clone());
    let mut ann = user("ann@corp.example.com");
    ann.immutable_id = Some("AQIDBA==".into());
    w.assignment().spec.users.push(ann);
    let plan = w.plan();
    assert_eq!(created(&plan)[0].immutable_id.as_deref(), Some("AQIDBA=="));
}

#[test]
fn two_listed_users_never_get_the_same_immutable_id() {
    let mut w = World::new();
    w.desired.domains[0] = federated(w.desired.domains[0].clone());
    for upn in ["ann@corp.example.com", "bob@corp.example.com"] {
        let mut u = user(upn);
        u.immutable_id = Some("AQIDBA==".into());
        w.assignment().spec.users.push(u);
    }
    let plan = w.plan();
    let created = created(&plan);
    assert_eq!(created.len(), 1, "{created:?}");
    assert_eq!(created[0].user_principal_name, "ann@corp.example.com");
    let f = finding(&plan, Reason::DuplicateImmutableId);
    assert_eq!(f.severity, Severity::Error);
    assert_eq!(f.user.as_deref(), Some("bob@corp.example.com"));
    assert!(f.message.contains("ann@corp.example.com"));
}

#[test]
fn users_of_a_managed_domain_get_no_immutable_id() {
    let plan = World::new().listing(&["ann@corp.example.com"]).plan();
    assert_eq!(created(&plan)[0].immutable_id, None);
}

#[test]
fn new_user_is_created_with_defaults() {
    let mut w = World::new();
    let mut ann = user("ann.lee@corp.example.com");
    ann.account_enabled = Some(false);
    ann.given_name = Some("Ann".into());
    w.assignment().spec.users.push(ann);
    let mut first = policy("a-first", &["corp"], vec![license("ENTERPRISEPACK", &[])]);
    first.spec.usage_location = Some("GB".into());
    w.desired.policies = vec![
        policy("b-second", &["corp"], vec![license("ENTERPRISEPACK", &[])]),
        first,
    ];
    let plan = w.plan();
    assert_eq!(
        created(&plan),
        [&NewUser {
            user_principal_name: "ann.lee@corp.example.com".into(),
            display_name: "User ann.lee@corp.example.com".into(),
            given_name: Some("Ann".into()),
            surname: None,
            mail_nickname: "ann.lee".into(),
            immutable_id: None,
            usage_location: Some("GB".into()),
            account_enabled: false,
            attributes: Default::default(),
        }]
    );
}

#[test]
fn changed_attributes_give_one_update_with_only_those_fields_and_drift() {
    let mut w = World::new().with_users([tenant_user("ann@corp.example.com")]);
    let mut ann = user("ann@corp.example.com");
    ann.display_name = "Ann Lee".into();
    ann.surname = Some("Lee".into());
    ann.account_enabled = Some(false);
    w.assignment().spec.users.push(ann);
    let plan = w.plan();
    let want = UserChanges {
        display_name: Some("Ann Lee".into()),
        surname: Some("Lee".into()),
        account_enabled: Some(false),
        ..UserChanges::default()
    };
    assert_eq!(
        plan.actions,
        [Action::UpdateUser {
            id: "id-ann@corp.example.com".into(),
            user_principal_name: "ann@corp.example.com".into(),
            changes: Box::new(want),
        }]
    );
    let o = object(&plan, &assignment_key("team-a"));
    assert_eq!(o.drift, Drift::Drifted);
    let fields: Vec<_> = o.drift_entries.iter().map(|d| d.field.as_str()).collect();
    assert_eq!(
        fields,
        [
            "users[ann@corp.example.com].displayName",
            "users[ann@corp.example.com].surname",
            "users[ann@corp.example.com].accountEnabled"
        ]
    );
    assert_eq!(o.drift_entries[0].desired, "Ann Lee");
    assert_eq!(o.drift_entries[0].observed, "User ann@corp.example.com");
    assert_eq!(counts(&plan, "team-a").update, 1);
}

#[test]
fn unset_optional_attributes_are_not_managed() {
    let mut existing = tenant_user("ann@corp.example.com");
    existing.given_name = Some("Ann".into());
    existing.usage_location = Some("DE".into());
    let plan = World::new()
        .listing(&["ann@corp.example.com"])
        .with_users([existing])
        .plan();
    assert!(plan.actions.is_empty(), "{:#?}", plan.actions);
    assert_eq!(
        object(&plan, &assignment_key("team-a")).drift,
        Drift::InSync
    );
}

#[test]
fn missing_user_is_drift_present_absent() {
    let plan = World::new().listing(&["ann@corp.example.com"]).plan();
    let o = object(&plan, &assignment_key("team-a"));
    assert_eq!(o.drift, Drift::Drifted);
    assert_eq!(o.drift_entries[0].field, "users[ann@corp.example.com]");
    assert_eq!(
        (&*o.drift_entries[0].desired, &*o.drift_entries[0].observed),
        ("present", "absent")
    );
}

#[test]
fn manual_provisioning_without_export_request_creates_nothing() {
    let mut w = World::new().listing(&["ann@corp.example.com", "bob@corp.example.com"]);
    w.assignment().spec.provisioning = Provisioning::Manual;
    let plan = w.plan();
    assert!(created(&plan).is_empty());
    assert_eq!(counts(&plan, "team-a").pending, 2);
    let f = finding(&plan, Reason::ExportNotRequested);
    assert_eq!(f.severity, Severity::Info);
    assert!(
        f.message
            .contains("o365-controller.io/export-requested-at="),
        "{}",
        f.message
    );
    assert!(f.message.contains("-n it"));
    // The CLI's own flag comes first: the hint names it, not only kubectl.
    assert!(
        f.message.contains("o365-controller apply --export"),
        "{}",
        f.message
    );
}

#[test]
fn manual_provisioning_with_export_request_creates() {
    let mut w = World::new().listing(&["ann@corp.example.com"]);
    w.assignment().spec.provisioning = Provisioning::Manual;
    w.assignment().export_requested = true;
    let plan = w.plan();
    assert_eq!(created(&plan).len(), 1);
    assert!(findings(&plan, Reason::ExportNotRequested).is_empty());
}

#[test]
fn auto_provisioning_creates_at_once() {
    let plan = World::new().listing(&["ann@corp.example.com"]).plan();
    assert_eq!(created(&plan).len(), 1);
    assert_eq!(counts(&plan, "team-a").create, 1);
}

#[test]
fn conflicting_assignments_leave_the_user_alone_and_report_on_both() {
    let mut w = World::new().listing(&["ann@corp.example.com"]);
    let mut other = user("ANN@corp.example.com");
    other.display_name = "Somebody else".into();
    w.desired
        .assignments
        .push(assignment("team-b", "corp", vec![other]));
    let plan = w.plan();
    assert!(plan.actions.is_empty(), "{:#?}", plan.actions);
    let found = findings(&plan, Reason::ConflictingAssignments);
    assert_eq!(found.len(), 2);
    assert_eq!(found[0].object, assignment_key("team-a"));
    assert!(found[0].message.contains("AppAssignment/it/team-b"));
    assert_eq!(found[1].object, assignment_key("team-b"));
    assert!(found[1].message.contains("AppAssignment/it/team-a"));
    assert!(found.iter().all(|f| f.severity == Severity::Error));
}

#[test]
fn identical_entries_in_two_assignments_are_one_user() {
    let mut w = World::new().listing(&["ann@corp.example.com"]);
    w.desired.assignments.push(assignment(
        "team-b",
        "corp",
        vec![user("ann@corp.example.com")],
    ));
    let plan = w.plan();
    assert_eq!(created(&plan).len(), 1);
    assert!(findings(&plan, Reason::ConflictingAssignments).is_empty());
}

#[test]
fn counts_and_action_numbers_per_assignment() {
    let mut stale = tenant_user("bob@corp.example.com");
    stale.display_name = None;
    let mut w = World::new()
        .listing(&[
            "ann@corp.example.com",
            "bob@corp.example.com",
            "cy@corp.example.com",
            "dan@elsewhere.io",
        ])
        .with_users([stale, tenant_user("cy@corp.example.com")]);
    w.desired.assignments.push(assignment(
        "team-b",
        "corp",
        vec![user("eve@corp.example.com")],
    ));
    w.desired.assignments[1].spec.provisioning = Provisioning::Manual;
    let plan = w.plan();
    assert_eq!(
        counts(&plan, "team-a"),
        PlannedCounts {
            desired: 4,
            create: 1,
            matched: 2,
            update: 1,
            skipped: 1,
            pending: 0
        }
    );
    assert_eq!(object(&plan, &assignment_key("team-a")).actions, 2);
    assert_eq!(
        counts(&plan, "team-b"),
        PlannedCounts {
            desired: 1,
            pending: 1,
            ..PlannedCounts::default()
        }
    );
    assert_eq!(object(&plan, &assignment_key("team-b")).actions, 0);
}
