//! Group-based licensing (`assignment: Group`): the group, its members (20 per request), its
//! licenses, what Entra computed per user, switching Direct ↔ Group without a gap, and
//! membership removals under the change budget.

use crate::api::Assignment;
use crate::model::{
    Action, GroupLicenseState, ObservedGroup, ObservedGroupLicense, ObservedLicense, Plan,
    PolicyCounts, Reason, State,
};
use crate::plan::testing::*;

const GROUP: &str = "0f6e3c1a-5b2d-4c8e-9a7f-1d2e3f4a5b6c";

fn upns(n: usize) -> Vec<String> {
    (0..n).map(|i| format!("u{i:03}@{DOMAIN}")).collect()
}

/// A world listing `n` existing users and one E3 policy with `assignment: Group`.
fn group_world(n: usize) -> World {
    let names = upns(n);
    let refs: Vec<&str> = names.iter().map(String::as_str).collect();
    let mut w = World::new()
        .listing(&refs)
        .with_users(refs.iter().map(|u| tenant_user(u)));
    let mut p = policy("e3", &["corp"], vec![license("ENTERPRISEPACK", &[])]);
    p.spec.assignment = Assignment::Group;
    w.desired.policies = vec![p];
    w
}

/// The controller's group of policy `e3`, with these members and E3 assigned.
fn owned_group(members: &[&str]) -> ObservedGroup {
    ObservedGroup {
        id: GROUP.into(),
        display_name: format!("o365-controller license {NS}/e3"),
        description: None,
        members: members.iter().map(|u| format!("id-{u}")).collect(),
        licenses: vec![ObservedGroupLicense {
            sku_id: E3.into(),
            disabled_plans: Vec::new(),
        }],
    }
}

/// E3 inherited from the group, in `state` with `error`.
fn from_group(state: &str, error: Option<&str>) -> ObservedLicense {
    let mut l = inherited(E3, GROUP);
    l.set_group_states(vec![GroupLicenseState {
        group: GROUP.into(),
        state: state.into(),
        error: error.map(str::to_string),
    }]);
    l
}

fn set_groups(w: &mut World, groups: Vec<ObservedGroup>) {
    w.observed.groups = crate::model::Read::Known(groups);
}

fn counts(plan: &Plan) -> PolicyCounts {
    object(plan, &policy_key("e3"))
        .licenses
        .clone()
        .unwrap_or_default()
}

fn named(plan: &Plan, f: impl Fn(&Action) -> bool) -> Vec<&Action> {
    plan.actions.iter().filter(|a| f(a)).collect()
}

#[test]
fn a_group_policy_without_its_group_creates_one_named_after_the_policy_and_assigns_nothing_directly()
 {
    let w = group_world(3);
    let plan = w.plan();
    let creates = named(&plan, |a| matches!(a, Action::CreateGroup { .. }));
    let [Action::CreateGroup { group }] = creates.as_slice() else {
        panic!("one CreateGroup: {:#?}", plan.actions)
    };
    assert_eq!(
        group.display_name,
        format!("o365-controller license {NS}/e3")
    );
    assert!(
        group
            .description
            .contains(&format!("LicensePolicy {NS}/e3"))
    );
    assert!(group.mail_nickname.starts_with("o365-license-"));
    assert!(
        named(&plan, |a| matches!(a, Action::AssignLicenses { .. })).is_empty(),
        "no direct assignment under assignment: Group"
    );
    let c = counts(&plan);
    assert_eq!((c.covered, c.licensed, c.pending), (3, 0, 3));
    assert_eq!(object(&plan, &policy_key("e3")).state, State::Drifted);
}

#[test]
fn covered_users_join_the_group_twenty_per_request_and_the_group_gets_the_policys_licenses() {
    let mut w = group_world(45);
    let mut g = owned_group(&[]);
    g.licenses.clear();
    set_groups(&mut w, vec![g]);
    let plan = w.plan();
    let batches: Vec<usize> = plan
        .actions
        .iter()
        .filter_map(|a| match a {
            Action::AddGroupMembers { members, group, .. } => {
                assert_eq!(group, GROUP);
                Some(members.len())
            }
            _ => None,
        })
        .collect();
    assert_eq!(batches, vec![20, 20, 5]);
    let assigns = named(&plan, |a| matches!(a, Action::AssignGroupLicenses { .. }));
    let [Action::AssignGroupLicenses { add, remove, .. }] = assigns.as_slice() else {
        panic!("one AssignGroupLicenses: {:#?}", plan.actions)
    };
    assert_eq!(add.len(), 1);
    assert_eq!(add[0].sku_id, E3);
    assert!(remove.is_empty());
}

#[test]
fn a_new_group_is_licensed_and_filled_with_the_users_this_plan_creates_in_the_same_plan() {
    // 3 users exist, 25 are created; the group does not exist yet.
    let names = upns(28);
    let refs: Vec<&str> = names.iter().map(String::as_str).collect();
    let mut w = World::new()
        .listing(&refs)
        .with_users(refs[..3].iter().map(|u| tenant_user(u)));
    let mut p = policy("e3", &["corp"], vec![license("ENTERPRISEPACK", &[])]);
    p.spec.assignment = Assignment::Group;
    w.desired.policies = vec![p];
    let plan = w.plan();
    let name = format!("o365-controller license {NS}/e3");
    assert_eq!(
        named(&plan, |a| matches!(a, Action::CreateGroup { .. })).len(),
        1
    );
    // The new group (no id yet: the apply takes it from the create's answer) gets E3.
    let assigns = named(&plan, |a| matches!(a, Action::AssignGroupLicenses { .. }));
    let [
        Action::AssignGroupLicenses {
            group,
            group_name,
            add,
            ..
        },
    ] = assigns.as_slice()
    else {
        panic!("one AssignGroupLicenses: {:#?}", plan.actions)
    };
    assert_eq!((group.as_str(), group_name), ("", &name));
    assert_eq!(add.len(), 1);
    assert_eq!(add[0].sku_id, E3);
    // Existing users by id; created users with an empty id, 20 per request, in the order of
    // their creates.
    let joins: Vec<(Vec<String>, Vec<String>)> = plan
        .actions
        .iter()
        .filter_map(|a| match a {
            Action::AddGroupMembers {
                group,
                members,
                user_principal_names,
                ..
            } => {
                assert_eq!(group, "", "the new group");
                Some((members.clone(), user_principal_names.clone()))
            }
            _ => None,
        })
        .collect();
    let sizes: Vec<usize> = joins.iter().map(|(m, _)| m.len()).collect();
    assert_eq!(sizes, vec![3, 20, 5], "{joins:#?}");
    assert!(
        joins[0].0.iter().all(|id| id.starts_with("id-")),
        "{joins:#?}"
    );
    assert!(
        joins[1..]
            .iter()
            .all(|(m, _)| m.iter().all(String::is_empty))
    );
    let created: Vec<String> = plan
        .actions
        .iter()
        .filter_map(|a| match a {
            Action::CreateUser { user } => Some(user.user_principal_name.clone()),
            _ => None,
        })
        .collect();
    let joining: Vec<String> = joins[1..].iter().flat_map(|(_, u)| u.clone()).collect();
    assert_eq!(joining, created);
    let c = counts(&plan);
    assert_eq!((c.covered, c.licensed, c.pending), (28, 0, 28));
}

#[test]
fn a_user_whose_create_was_dropped_does_not_join_the_group() {
    use crate::plan::groups::drop_orphan_members;
    use crate::plan::output::{Out, Owner};
    let w = World::new();
    let mut out = Out::new(&w.desired);
    let create = |upn: &str| Action::CreateUser {
        user: Box::new(crate::model::NewUser {
            user_principal_name: upn.into(),
            display_name: upn.into(),
            given_name: None,
            surname: None,
            mail_nickname: "x".into(),
            immutable_id: None,
            usage_location: None,
            account_enabled: true,
            attributes: Default::default(),
        }),
    };
    let join = |members: &[&str], upns: &[&str]| Action::AddGroupMembers {
        group: String::new(),
        group_name: "e3".into(),
        members: members.iter().map(|m| m.to_string()).collect(),
        user_principal_names: upns.iter().map(|u| u.to_string()).collect(),
    };
    out.push(create("A@x"), vec![Owner::Policy(0)], None);
    out.push(
        join(&["", "", "id-c"], &["a@x", "b@x", "c@x"]),
        vec![],
        None,
    );
    out.push(join(&["", ""], &["d@x", "e@x"]), vec![], None);
    drop_orphan_members(&mut out);
    let left: Vec<&Action> = out.actions.iter().map(|p| &p.action).collect();
    assert_eq!(
        left,
        vec![&create("A@x"), &join(&["", "id-c"], &["a@x", "c@x"])],
        "b and d, e are created by no action: they join no group"
    );
}

#[test]
fn status_counts_licensed_processing_and_errors_and_errors_block_the_policy() {
    let names = upns(4);
    let mut w = group_world(4);
    let refs: Vec<&str> = names.iter().map(String::as_str).collect();
    set_groups(&mut w, vec![owned_group(&refs)]);
    let users = w.users_mut();
    // u000 licensed, u001 processing (no state yet), u002 CountViolation, u003 licensed.
    for u in users.iter_mut() {
        match u.user_principal_name.as_str() {
            n if n == names[0] || n == names[3] => u.licenses = vec![from_group("Active", None)],
            n if n == names[2] => {
                u.licenses = vec![from_group("Error", Some("CountViolation"))];
            }
            _ => {}
        }
    }
    let plan = w.plan();
    assert!(plan.actions.is_empty(), "{:#?}", plan.actions);
    let c = counts(&plan);
    assert_eq!(
        (c.covered, c.licensed, c.pending, c.processing, c.failed),
        (4, 2, 1, 1, 1)
    );
    assert_eq!(c.errors.len(), 1);
    assert_eq!(c.errors[0].reason, "CountViolation");
    assert_eq!(c.errors[0].examples, vec![names[2].clone()]);
    let f = finding(&plan, Reason::GroupLicenseError);
    assert!(f.message.contains("CountViolation"), "{}", f.message);
    assert_eq!(object(&plan, &policy_key("e3")).state, State::Blocked);
}

#[test]
fn a_group_policy_is_in_sync_only_when_every_member_is_licensed_through_the_group() {
    let names = upns(2);
    let refs: Vec<&str> = names.iter().map(String::as_str).collect();
    let mut w = group_world(2);
    set_groups(&mut w, vec![owned_group(&refs)]);
    for u in w.users_mut().iter_mut().filter(|u| u.id != ADMIN_ID) {
        u.licenses = vec![from_group("Active", None)];
    }
    let plan = w.plan();
    assert!(plan.is_in_sync(), "{:#?}", plan.objects);
    let processing = {
        let mut w = w.clone();
        w.users_mut()[1].licenses.clear();
        w.plan()
    };
    assert_eq!(
        object(&processing, &policy_key("e3")).state,
        State::Drifted,
        "a member Entra has not processed yet keeps the policy Drifted"
    );
    assert!(!findings(&processing, Reason::GroupLicenseProcessing).is_empty());
}

#[test]
fn direct_to_group_removes_a_direct_license_only_once_the_group_license_is_active() {
    let names = upns(2);
    let refs: Vec<&str> = names.iter().map(String::as_str).collect();
    let mut w = group_world(2);
    w.domain().spec.change_budget.max_deprovision_percent = 100;
    set_groups(&mut w, vec![owned_group(&refs)]);
    // u000: direct and active through the group; u001: direct, group still processing.
    for u in w.users_mut().iter_mut() {
        if u.user_principal_name == names[0] {
            let mut l = from_group("Active", None);
            l.direct = true;
            u.licenses = vec![l];
        } else if u.user_principal_name == names[1] {
            u.licenses = vec![direct(E3, &[])];
        }
    }
    let plan = w.plan();
    let removals: Vec<(&str, &[String])> = plan
        .actions
        .iter()
        .filter_map(|a| match a {
            Action::AssignLicenses {
                user_principal_name,
                remove,
                add,
                ..
            } => {
                assert!(add.is_empty(), "nothing is assigned directly");
                Some((user_principal_name.as_str(), remove.as_slice()))
            }
            _ => None,
        })
        .collect();
    assert_eq!(removals, vec![(names[0].as_str(), &[E3.to_string()][..])]);
}

#[test]
fn group_to_direct_assigns_directly_first_and_leaves_the_group_only_once_licensed_directly() {
    let names = upns(2);
    let refs: Vec<&str> = names.iter().map(String::as_str).collect();
    let mut w = group_world(2);
    w.domain().spec.change_budget.max_deprovision_percent = 100;
    w.desired.policies[0].spec.assignment = Assignment::Direct;
    set_groups(&mut w, vec![owned_group(&refs)]);
    // u000 holds E3 only through the group; u001 through the group and directly.
    for u in w.users_mut().iter_mut() {
        if u.user_principal_name == names[0] {
            u.licenses = vec![from_group("Active", None)];
        } else if u.user_principal_name == names[1] {
            let mut l = from_group("Active", None);
            l.direct = true;
            u.licenses = vec![l];
        }
    }
    let plan = w.plan();
    let u0 = actions_for(&plan, &names[0]);
    assert!(
        matches!(u0.as_slice(), [Action::AssignLicenses { add, .. }] if add.len() == 1),
        "u000 is licensed directly before it leaves the group: {u0:#?}"
    );
    let u1 = actions_for(&plan, &names[1]);
    assert!(
        matches!(u1.as_slice(), [Action::RemoveGroupMember { member, .. }] if *member == format!("id-{}", names[1])),
        "u001 holds E3 directly: it leaves the group: {u1:#?}"
    );
    assert!(named(&plan, |a| matches!(a, Action::CreateGroup { .. })).is_empty());
}

#[test]
fn membership_removals_are_drift_and_held_by_the_change_budget() {
    let names = upns(10);
    let refs: Vec<&str> = names.iter().map(String::as_str).collect();
    let mut w = group_world(10);
    w.domain().spec.change_budget.max_deprovisions = 2;
    w.domain().spec.change_budget.max_deprovision_percent = 100;
    // Five members are listed no more: they stay in the tenant but leave the group.
    w.assignment().spec.users.truncate(5);
    set_groups(&mut w, vec![owned_group(&refs)]);
    for u in w.users_mut().iter_mut().filter(|u| u.id != ADMIN_ID) {
        u.licenses = vec![from_group("Active", None)];
    }
    let plan = w.plan();
    let held: Vec<&Action> = plan
        .held
        .iter()
        .filter(|a| matches!(a, Action::RemoveGroupMember { .. }))
        .collect();
    assert_eq!(held.len(), 5, "actions: {:#?}", plan.actions);
    assert!(
        named(&plan, |a| matches!(a, Action::RemoveGroupMember { .. })).is_empty(),
        "nothing removed over the budget"
    );
    let policy = object(&plan, &policy_key("e3"));
    assert!(
        policy
            .drift_entries
            .iter()
            .any(|d| d.field.starts_with("group.members[") && d.observed == "member"),
        "{:#?}",
        policy.drift_entries
    );
    assert!(!findings(&plan, Reason::ChangeBudgetExceeded).is_empty());
}

#[test]
fn a_group_id_naming_no_group_blocks_the_policy_and_two_policies_cannot_share_a_group() {
    let mut w = group_world(1);
    w.desired.policies[0].spec.group_id = Some(GROUP.into());
    let plan = w.plan();
    assert!(!findings(&plan, Reason::LicenseGroupNotFound).is_empty());
    assert_eq!(object(&plan, &policy_key("e3")).state, State::Blocked);
    assert!(plan.actions.iter().all(|a| !matches!(
        a,
        Action::CreateGroup { .. } | Action::AddGroupMembers { .. }
    )));

    let mut shared = group_world(1);
    shared.desired.policies[0].spec.group_id = Some(GROUP.into());
    let mut other = shared.desired.policies[0].clone();
    other.key = policy_key("e3-again");
    shared.desired.policies.push(other);
    set_groups(&mut shared, vec![owned_group(&[])]);
    let plan = shared.plan();
    assert_eq!(findings(&plan, Reason::LicenseGroupShared).len(), 2);
    assert!(
        plan.actions
            .iter()
            .all(|a| !matches!(a, Action::AddGroupMembers { .. }))
    );
}

#[test]
fn an_audit_group_policy_reports_drift_and_writes_nothing() {
    let mut w = group_world(3);
    w.desired.policies[0].mode = crate::api::Mode::Audit;
    let plan = w.plan();
    assert!(plan.actions.is_empty(), "{:#?}", plan.actions);
    assert_eq!(
        object(&plan, &policy_key("e3")).drift,
        crate::model::Drift::Drifted
    );
}

#[test]
fn an_unreadable_group_list_makes_group_policies_unknown() {
    let mut w = group_world(2);
    w.observed.groups = crate::model::Read::Unknown("boom".into());
    let plan = w.plan();
    assert_eq!(object(&plan, &policy_key("e3")).state, State::Unknown);
    assert!(
        plan.actions
            .iter()
            .all(|a| a.phase() != crate::model::Phase::Groups)
    );
}
