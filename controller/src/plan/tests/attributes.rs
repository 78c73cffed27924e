//! Managed attributes: only attributes written in git are enforced; drift on them is reported
//! like names; an AppAssignment's `defaults` apply to every user whose entry sets none.

use crate::api::{UserAttributes, UserDefaults};
use crate::model::Action;
use crate::plan::testing::*;

const ANN: &str = "ann@corp.example.com";

fn world() -> World {
    World::new().listing(&[ANN]).with_users([tenant_user(ANN)])
}

#[test]
fn an_attribute_written_in_git_is_enforced_and_its_drift_reported() {
    let mut w = world();
    w.assignment().spec.users[0].attributes.department = Some("Finance".into());
    w.users_mut()[1]
        .attributes
        .set("department", Some("Sales".into()));
    let plan = w.plan();
    let Action::UpdateUser { changes, .. } = actions_for(&plan, ANN)[0] else {
        panic!("{:#?}", plan.actions)
    };
    assert_eq!(changes.attributes.department.as_deref(), Some("Finance"));
    assert_eq!(changes.display_name, None);
    let drift = &object(&plan, &assignment_key("team-a")).drift_entries;
    assert!(
        drift
            .iter()
            .any(|d| d.field == format!("users[{ANN}].department")
                && d.desired == "Finance"
                && d.observed == "Sales"),
        "{drift:#?}"
    );
}

#[test]
fn attributes_not_written_in_git_are_left_alone() {
    let mut w = world();
    w.users_mut()[1].attributes = UserAttributes {
        job_title: Some("Boss".into()),
        city: Some("Oslo".into()),
        ..UserAttributes::default()
    }
    .into();
    let plan = w.plan();
    assert!(plan.is_in_sync(), "{:#?}", plan.actions);
}

#[test]
fn defaults_apply_to_users_whose_entry_sets_none_and_an_entry_wins() {
    let mut w = World::new().listing(&[ANN, "bob@corp.example.com"]);
    w.assignment().spec.defaults = Some(UserDefaults {
        usage_location: Some("DE".into()),
        attributes: UserAttributes {
            company_name: Some("Contoso".into()),
            ..UserAttributes::default()
        }
        .into(),
    });
    w.assignment().spec.users[1].attributes.company_name = Some("Fabrikam".into());
    let plan = w.plan();
    let created: Vec<_> = plan
        .actions
        .iter()
        .filter_map(|a| match a {
            Action::CreateUser { user } => Some(user),
            _ => None,
        })
        .collect();
    assert_eq!(created.len(), 2);
    assert_eq!(
        created[0].attributes.company_name.as_deref(),
        Some("Contoso")
    );
    assert_eq!(created[0].usage_location.as_deref(), Some("DE"));
    assert_eq!(
        created[1].attributes.company_name.as_deref(),
        Some("Fabrikam")
    );
}

#[test]
fn a_default_is_enforced_on_existing_users_like_their_own_attributes() {
    let mut w = world();
    w.assignment().spec.defaults = Some(UserDefaults {
        usage_location: None,
        attributes: UserAttributes {
            company_name: Some("Contoso".into()),
            ..UserAttributes::default()
        }
        .into(),
    });
    let plan = w.plan();
    let Action::UpdateUser { changes, .. } = actions_for(&plan, ANN)[0] else {
        panic!("{:#?}", plan.actions)
    };
    assert_eq!(changes.attributes.company_name.as_deref(), Some("Contoso"));
    w.users_mut()[1]
        .attributes
        .set("companyName", Some("Contoso".into()));
    assert!(w.plan().is_in_sync());
}
