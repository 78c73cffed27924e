//! Rules 9 and 10: which licenses users get, usage location first, group licenses, removals
//! and seat shortfalls.

use std::collections::BTreeMap;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;

use crate::model::{Action, LicenseGrant, Plan, SeatDemand, Severity, UserChanges};
use crate::plan::testing::*;

fn grant(sku: &str, disabled: &[&str]) -> LicenseGrant {
    LicenseGrant {
        sku_id: sku.into(),
        disabled_plans: disabled.iter().map(|s| s.to_string()).collect(),
    }
}

/// (user, add, remove) of every AssignLicenses action.
fn assignments(plan: &Plan) -> Vec<(&str, &[LicenseGrant], &[String])> {
    plan.actions
        .iter()
        .filter_map(|a| match a {
            Action::AssignLicenses {
                user, add, remove, ..
            } => Some((user.as_str(), add.as_slice(), remove.as_slice())),
            _ => None,
        })
        .collect()
}

fn e3_for_corp() -> World {
    let mut w = World::new();
    w.desired.policies = vec![policy(
        "e3",
        &["corp"],
        vec![license("ENTERPRISEPACK", &[])],
    )];
    w
}

#[test]
fn policy_covers_users_by_domain_ref_and_by_assignment_selector() {
    let mut w = World::new()
        .listing(&["ann@corp.example.com"])
        .with_users([tenant_user("ann@corp.example.com")]);
    w.desired.assignments.push(assignment(
        "team-b",
        "corp",
        vec![user("bob@corp.example.com")],
    ));
    w.desired.assignments[1].labels = BTreeMap::from([("tier".to_string(), "gold".to_string())]);
    w = w.with_users([tenant_user("bob@corp.example.com")]);
    let mut by_label = policy("gold", &[], vec![license("ENTERPRISEPREMIUM", &[])]);
    by_label.spec.applies_to.assignment_selector = Some(LabelSelector {
        match_labels: Some(BTreeMap::from([("tier".to_string(), "gold".to_string())])),
        match_expressions: None,
    });
    w.desired.policies = vec![
        policy("e3", &["corp"], vec![license("ENTERPRISEPACK", &[])]),
        by_label,
    ];
    let plan = w.plan();
    assert_eq!(
        assignments(&plan),
        [
            ("id-ann@corp.example.com", &[grant(E3, &[])][..], &[][..]),
            (
                "id-bob@corp.example.com",
                &[grant(E3, &[]), grant(E5, &[])][..],
                &[][..]
            ),
        ]
    );
}

#[test]
fn policy_in_another_namespace_covers_nothing() {
    let mut w = e3_for_corp()
        .listing(&["ann@corp.example.com"])
        .with_users([tenant_user("ann@corp.example.com")]);
    w.desired.policies[0].key.namespace = "other".into();
    assert!(assignments(&w.plan()).is_empty());
}

#[test]
fn overlapping_policies_give_the_union_of_skus() {
    let mut w = e3_for_corp()
        .listing(&["ann@corp.example.com"])
        .with_users([tenant_user("ann@corp.example.com")]);
    w.desired.policies.push(policy(
        "e5",
        &["corp"],
        vec![license("ENTERPRISEPREMIUM", &[])],
    ));
    let plan = w.plan();
    assert_eq!(assignments(&plan)[0].1, [grant(E3, &[]), grant(E5, &[])]);
    assert_eq!(plan.actions.len(), 1);
}

#[test]
fn service_plan_stays_disabled_only_if_every_policy_disables_it() {
    let mut w = World::new()
        .listing(&["ann@corp.example.com"])
        .with_users([tenant_user("ann@corp.example.com")]);
    w.desired.policies = vec![
        policy(
            "a",
            &["corp"],
            vec![license(
                "ENTERPRISEPACK",
                &["YAMMER_ENTERPRISE", "EXCHANGE_S_ENTERPRISE"],
            )],
        ),
        policy(
            "b",
            &["corp"],
            vec![license("ENTERPRISEPACK", &["YAMMER_ENTERPRISE"])],
        ),
    ];
    let plan = w.plan();
    assert_eq!(assignments(&plan)[0].1, [grant(E3, &[YAMMER])]);
}

#[test]
fn unknown_service_plan_is_a_warning() {
    let mut w = World::new()
        .listing(&["ann@corp.example.com"])
        .with_users([tenant_user("ann@corp.example.com")]);
    w.desired.policies = vec![policy(
        "e3",
        &["corp"],
        vec![license(
            "ENTERPRISEPACK",
            &["NO_SUCH_PLAN", "YAMMER_ENTERPRISE"],
        )],
    )];
    let plan = w.plan();
    let f = finding(&plan, Reason::UnknownServicePlan);
    assert_eq!(
        (f.severity, &f.object),
        (Severity::Warning, &policy_key("e3"))
    );
    assert!(f.message.contains("NO_SUCH_PLAN"));
    assert_eq!(assignments(&plan)[0].1, [grant(E3, &[YAMMER])]);
}

#[test]
fn unknown_sku_is_an_error_on_the_policy() {
    let mut w = World::new()
        .listing(&["ann@corp.example.com"])
        .with_users([tenant_user("ann@corp.example.com")]);
    w.desired.policies = vec![policy(
        "e3",
        &["corp"],
        vec![license("NOPE", &[]), license("ENTERPRISEPACK", &[])],
    )];
    let plan = w.plan();
    let f = finding(&plan, Reason::UnknownSku);
    assert_eq!(
        (f.severity, &f.object),
        (Severity::Error, &policy_key("e3"))
    );
    assert_eq!(assignments(&plan)[0].1, [grant(E3, &[])]);
}

#[test]
fn license_named_by_sku_id_resolves() {
    let mut w = World::new()
        .listing(&["ann@corp.example.com"])
        .with_users([tenant_user("ann@corp.example.com")]);
    let mut by_id = license("x", &[]);
    by_id.sku_part_number = None;
    by_id.sku_id = Some(E5.to_uppercase());
    w.desired.policies = vec![policy("e5", &["corp"], vec![by_id])];
    assert_eq!(assignments(&w.plan())[0].1, [grant(E5, &[])]);
}

#[test]
fn usage_location_comes_from_the_policy_before_licenses() {
    let mut ann = tenant_user("ann@corp.example.com");
    ann.usage_location = None;
    let plan = e3_for_corp()
        .listing(&["ann@corp.example.com"])
        .with_users([ann])
        .plan();
    assert_eq!(
        plan.actions[0],
        Action::UpdateUser {
            id: "id-ann@corp.example.com".into(),
            user_principal_name: "ann@corp.example.com".into(),
            changes: Box::new(UserChanges {
                usage_location: Some("US".into()),
                ..UserChanges::default()
            }),
        }
    );
    assert!(matches!(plan.actions[1], Action::AssignLicenses { .. }));
    let drift = &object(&plan, &policy_key("e3")).drift_entries;
    assert!(
        drift
            .iter()
            .any(|d| d.field == "users[ann@corp.example.com].usageLocation")
    );
}

#[test]
fn user_without_any_usage_location_gets_no_license() {
    let mut ann = tenant_user("ann@corp.example.com");
    ann.usage_location = None;
    let mut w = e3_for_corp()
        .listing(&["ann@corp.example.com"])
        .with_users([ann]);
    w.desired.policies[0].spec.usage_location = None;
    let plan = w.plan();
    assert!(plan.actions.is_empty(), "{:#?}", plan.actions);
    let f = finding(&plan, Reason::MissingUsageLocation);
    assert_eq!(f.severity, Severity::Warning);
    assert_eq!(f.user.as_deref(), Some("ann@corp.example.com"));
}

#[test]
fn group_inherited_license_counts_as_held_and_is_never_touched() {
    let mut ann = tenant_user("ann@corp.example.com");
    ann.licenses = vec![inherited(E3, "group-1"), inherited(E5, "group-2")];
    let mut w = World::new()
        .listing(&["ann@corp.example.com"])
        .with_users([ann]);
    let mut p = policy(
        "e3",
        &["corp"],
        vec![license("ENTERPRISEPACK", &["YAMMER_ENTERPRISE"])],
    );
    p.spec.remove_unlisted = true;
    w.desired.policies = vec![p];
    let plan = w.plan();
    assert!(plan.actions.is_empty(), "{:#?}", plan.actions);
}

#[test]
fn direct_license_with_wrong_disabled_plans_is_fixed() {
    let mut ann = tenant_user("ann@corp.example.com");
    ann.licenses = vec![direct(E3, &[EXCHANGE])];
    let mut w = World::new()
        .listing(&["ann@corp.example.com"])
        .with_users([ann]);
    w.desired.policies = vec![policy(
        "e3",
        &["corp"],
        vec![license("ENTERPRISEPACK", &["YAMMER_ENTERPRISE"])],
    )];
    let plan = w.plan();
    assert_eq!(assignments(&plan)[0].1, [grant(E3, &[YAMMER])]);
    let entry = &object(&plan, &policy_key("e3")).drift_entries[0];
    assert_eq!(
        entry.field,
        "users[ann@corp.example.com].licenses[ENTERPRISEPACK].disabledPlans"
    );
    assert_eq!(
        (&*entry.desired, &*entry.observed),
        ("YAMMER_ENTERPRISE", "EXCHANGE_S_ENTERPRISE")
    );
    // Fixing plans takes no seat.
    assert_eq!(object(&plan, &policy_key("e3")).seats[0].needed, 0);
}

#[test]
fn held_licenses_with_the_right_plans_are_in_sync() {
    let mut ann = tenant_user("ann@corp.example.com");
    ann.licenses = vec![direct(E3, &[])];
    let plan = e3_for_corp()
        .listing(&["ann@corp.example.com"])
        .with_users([ann])
        .plan();
    assert!(plan.actions.is_empty());
    assert_eq!(
        object(&plan, &policy_key("e3")).drift,
        crate::model::Drift::InSync
    );
}

#[test]
fn remove_unlisted_removes_direct_licenses_only() {
    let mut ann = tenant_user("ann@corp.example.com");
    ann.licenses = vec![
        direct(E3, &[]),
        direct(E5, &[]),
        inherited("group-sku", "g"),
    ];
    let mut w = e3_for_corp()
        .listing(&["ann@corp.example.com"])
        .with_users([ann.clone()]);
    let plan = w.plan();
    assert!(
        plan.actions.is_empty(),
        "removeUnlisted is off: {:#?}",
        plan.actions
    );
    w.desired.policies[0].spec.remove_unlisted = true;
    // Enough users in the domain that one removal stays inside the change budget.
    w = w.with_users((0..20).map(|i| tenant_user(&format!("u{i}@corp.example.com"))));
    let plan = w.plan();
    assert_eq!(
        assignments(&plan),
        [("id-ann@corp.example.com", &[][..], &[E5.to_string()][..])]
    );
    assert!(plan.actions[0].is_destructive());
}

#[test]
fn new_users_are_licensed_in_the_same_plan_by_upn() {
    let plan = e3_for_corp().listing(&["ann@corp.example.com"]).plan();
    assert!(
        matches!(&plan.actions[0], Action::CreateUser { user } if user.usage_location.as_deref() == Some("US"))
    );
    assert_eq!(
        assignments(&plan),
        [("ann@corp.example.com", &[grant(E3, &[])][..], &[][..])]
    );
}

#[test]
fn seat_shortfall_licenses_the_first_users_by_upn_and_warns() {
    let upns = [
        "dan@corp.example.com",
        "Bob@corp.example.com",
        "cy@corp.example.com",
        "ann@corp.example.com",
    ];
    let mut w = e3_for_corp().listing(&upns);
    w.observed.skus = crate::model::Read::Known(vec![sku("ENTERPRISEPACK", E3, 10, 8)]);
    let plan = w.plan();
    let licensed: Vec<_> = assignments(&plan).iter().map(|a| a.0).collect();
    assert_eq!(licensed, ["Bob@corp.example.com", "ann@corp.example.com"]);
    let f = finding(&plan, Reason::InsufficientSeats);
    assert_eq!(
        (f.severity, &f.object),
        (Severity::Warning, &policy_key("e3"))
    );
    assert!(
        f.message.starts_with(
            "ENTERPRISEPACK: 4 needed, 2 available, 2 short; buy seats or remove users"
        ),
        "{}",
        f.message
    );
    assert_eq!(
        object(&plan, &policy_key("e3")).seats,
        [SeatDemand {
            sku_part_number: "ENTERPRISEPACK".into(),
            sku_id: E3.into(),
            enabled: 10,
            consumed: 8,
            needed: 4,
            shortfall: 2
        }]
    );
}

#[test]
fn seats_are_reported_for_every_sku_of_the_policy() {
    let mut w = World::new();
    w.desired.policies = vec![policy(
        "both",
        &["corp"],
        vec![
            license("ENTERPRISEPACK", &[]),
            license("ENTERPRISEPREMIUM", &[]),
        ],
    )];
    let plan = w.plan();
    let seats: Vec<_> = object(&plan, &policy_key("both"))
        .seats
        .iter()
        .map(|s| (s.sku_part_number.as_str(), s.needed, s.shortfall))
        .collect();
    assert_eq!(
        seats,
        [("ENTERPRISEPACK", 0, 0), ("ENTERPRISEPREMIUM", 0, 0)]
    );
    assert!(findings(&plan, Reason::InsufficientSeats).is_empty());
}
