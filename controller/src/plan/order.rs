//! The order of a plan and its id. Actions run by phase (users → federation → licenses →
//! deprovisioning), then by subject; the id is a hash of the ordered actions, so the same
//! actions always give the same id.

use super::output::Planned;
use crate::model::{Action, Phase};

/// Sorts by phase, then subject; a license addition comes before a removal of the same user;
/// actions that compare equal keep their order (a stable sort).
///
/// The positions are sorted, not the actions (a few hundred bytes each): the sort then moves
/// and buffers 4-byte indices, and each action is moved once, into its place.
pub(crate) fn sort_actions(actions: &mut [Planned]) {
    fn key(p: &Planned) -> (Phase, &str, u8) {
        let a = &p.action;
        (a.phase(), a.subject(), rank(a))
    }
    let Ok(n) = u32::try_from(actions.len()) else {
        actions.sort_by(|a, b| key(a).cmp(&key(b)));
        return;
    };
    let mut order: Vec<u32> = (0..n).collect();
    order.sort_by(|&i, &j| key(&actions[i as usize]).cmp(&key(&actions[j as usize])));
    permute(actions, &mut order);
}

/// Rearranges `items` so that position `k` holds what was at `order[k]`, in place (following
/// each cycle of the permutation); `order` is used up.
fn permute<T>(items: &mut [T], order: &mut [u32]) {
    for start in 0..order.len() {
        let mut k = start;
        // Follow the cycle through `start`: each step brings the wanted item into place k.
        while order[k] as usize != start {
            let from = order[k] as usize;
            items.swap(k, from);
            order[k] = k as u32;
            k = from;
        }
        order[k] = k as u32;
    }
}

fn rank(a: &Action) -> u8 {
    match a {
        Action::AssignLicenses { remove, .. } if !remove.is_empty() => 1,
        _ => 0,
    }
}

/// The plan id: the first 12 hex digits of the SHA-256 of the ordered actions (all of them,
/// including those a change budget will hold), each encoded as [`digest`](super::digest)
/// defines: the same actions give the same id on every run and platform, and any change to
/// an action (a field, the order, one more or one fewer) gives another.
pub(crate) fn plan_id(actions: &[Planned]) -> String {
    struct Actions<'a>(&'a [Planned]);
    impl serde::Serialize for Actions<'_> {
        fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
            s.collect_seq(self.0.iter().map(|p| &p.action))
        }
    }
    super::digest::sha256(&Actions(actions))
        .iter()
        .take(6)
        .map(|b| format!("{b:02x}"))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::plan_id;
    use crate::api::UserAttributes;
    use crate::model::{Action, FederationSettings, LicenseGrant, NewGroup, NewUser, UserChanges};
    use crate::plan::output::Planned;

    fn planned(actions: &[Action]) -> Vec<Planned> {
        actions
            .iter()
            .map(|action| Planned {
                action: action.clone(),
                owners: Vec::new().into(),
                budget_domain: None,
            })
            .collect()
    }

    fn id(actions: &[Action]) -> String {
        plan_id(&planned(actions))
    }

    fn grant(sku: &str, disabled: &[&str]) -> LicenseGrant {
        LicenseGrant {
            sku_id: sku.into(),
            disabled_plans: disabled.iter().map(|&p| p.into()).collect(),
        }
    }

    /// One action of every kind, with optional fields both set and unset.
    fn every_kind() -> Vec<Action> {
        let upn = |n: &str| format!("{n}@corp.example.com");
        vec![
            Action::RestoreUser {
                id: "u-1".into(),
                user_principal_name: upn("ann"),
            },
            Action::CreateUser {
                user: Box::new(NewUser {
                    user_principal_name: upn("bob"),
                    display_name: "Bob".into(),
                    given_name: Some("Bob".into()),
                    surname: None,
                    mail_nickname: "bob".into(),
                    immutable_id: None,
                    usage_location: Some("US".into()),
                    account_enabled: true,
                    attributes: UserAttributes {
                        department: Some("Finance".into()),
                        ..UserAttributes::default()
                    }
                    .into(),
                }),
            },
            Action::UpdateUser {
                id: "u-2".into(),
                user_principal_name: upn("cat"),
                changes: Box::new(UserChanges {
                    display_name: Some("Cat".into()),
                    account_enabled: Some(true),
                    ..UserChanges::default()
                }),
            },
            Action::CreateFederation {
                domain: "corp.example.com".into(),
                settings: Box::new(FederationSettings {
                    issuer_uri: Some("https://idp.example.com".into()),
                    ..FederationSettings::default()
                }),
            },
            Action::UpdateFederation {
                domain: "corp.example.com".into(),
                id: "f-1".into(),
                changes: Box::new(FederationSettings {
                    sign_out_uri: Some("https://idp.example.com/out".into()),
                    ..FederationSettings::default()
                }),
            },
            Action::RevertToManaged {
                domain: "old.example.com".into(),
            },
            Action::AssignLicenses {
                user: "u-3".into(),
                user_principal_name: upn("dan"),
                add: vec![grant("sku-e3", &["plan-a", "plan-b"])],
                remove: vec!["sku-e5".into()],
            },
            Action::CreateGroup {
                group: NewGroup {
                    display_name: "o365-e3".into(),
                    mail_nickname: "o365-e3".into(),
                    description: "LicensePolicy e3".into(),
                },
            },
            Action::AddGroupMembers {
                group: "g-1".into(),
                group_name: "o365-e3".into(),
                members: vec!["u-4".into(), "u-5".into()],
                user_principal_names: vec![upn("eve"), upn("fay")],
            },
            Action::RemoveGroupMember {
                group: "g-1".into(),
                group_name: "o365-e3".into(),
                member: "u-6".into(),
                user_principal_name: upn("gus"),
            },
            Action::AssignGroupLicenses {
                group: "g-1".into(),
                group_name: "o365-e3".into(),
                add: vec![grant("sku-e3", &[])],
                remove: vec![],
            },
            Action::DisableUser {
                id: "u-7".into(),
                user_principal_name: upn("hal"),
                mark_leaver: true,
            },
            Action::MarkLeaver {
                id: "u-8".into(),
                user_principal_name: upn("ida"),
            },
            Action::SetManager {
                id: "u-5".into(),
                user_principal_name: upn("fay"),
                manager: "u-4".into(),
                manager_upn: upn("eve"),
            },
            Action::RevokeSessions {
                id: "u-7".into(),
                user_principal_name: upn("hal"),
            },
            Action::DeleteUser {
                id: "u-9".into(),
                user_principal_name: upn("jon"),
            },
        ]
    }

    /// Small changes to `action`: each field that says what is written, one at a time.
    fn changed(action: &Action) -> Vec<Action> {
        let mut out = Vec::new();
        let mut change = |f: &dyn Fn(&mut Action)| {
            let mut a = action.clone();
            f(&mut a);
            assert_ne!(&a, action, "the change must change the action");
            out.push(a);
        };
        match action {
            Action::RestoreUser { .. } => {
                change(&|a| {
                    if let Action::RestoreUser { id, .. } = a {
                        id.push('0');
                    }
                });
                change(&|a| {
                    if let Action::RestoreUser {
                        user_principal_name,
                        ..
                    } = a
                    {
                        user_principal_name.insert(0, 'x');
                    }
                });
            }
            Action::CreateUser { .. } => {
                change(&|a| {
                    if let Action::CreateUser { user } = a {
                        user.surname = Some(String::new());
                    }
                });
                change(&|a| {
                    if let Action::CreateUser { user } = a {
                        user.given_name = None;
                    }
                });
                change(&|a| {
                    if let Action::CreateUser { user } = a {
                        user.account_enabled = false;
                    }
                });
                change(&|a| {
                    if let Action::CreateUser { user } = a {
                        user.attributes.department = None;
                        user.attributes.job_title = Some("Finance".into());
                    }
                });
            }
            Action::UpdateUser { .. } => {
                change(&|a| {
                    if let Action::UpdateUser { changes, .. } = a {
                        changes.account_enabled = Some(false);
                    }
                });
                change(&|a| {
                    if let Action::UpdateUser { changes, .. } = a {
                        changes.clear_leaver_mark = true;
                    }
                });
                change(&|a| {
                    if let Action::UpdateUser { changes, .. } = a {
                        changes.given_name = changes.display_name.take();
                    }
                });
            }
            Action::CreateFederation { .. } | Action::UpdateFederation { .. } => {
                change(&|a| {
                    if let Action::CreateFederation { settings, .. }
                    | Action::UpdateFederation {
                        changes: settings, ..
                    } = a
                    {
                        settings.is_signed_authentication_request_required = Some(false);
                    }
                });
                change(&|a| {
                    if let Action::CreateFederation { domain, .. }
                    | Action::UpdateFederation { domain, .. } = a
                    {
                        domain.make_ascii_uppercase();
                    }
                });
            }
            Action::RevertToManaged { .. } => change(&|a| {
                if let Action::RevertToManaged { domain } = a {
                    domain.pop();
                }
            }),
            Action::AssignLicenses { .. } | Action::AssignGroupLicenses { .. } => {
                change(&|a| {
                    if let Action::AssignLicenses { add, .. }
                    | Action::AssignGroupLicenses { add, .. } = a
                    {
                        add[0].disabled_plans.push("plan-c".into());
                    }
                });
                change(&|a| {
                    if let Action::AssignLicenses { remove, .. }
                    | Action::AssignGroupLicenses { remove, .. } = a
                    {
                        remove.push("sku-x".into());
                    }
                });
            }
            Action::CreateGroup { .. } => change(&|a| {
                if let Action::CreateGroup { group } = a {
                    group.description.push('!');
                }
            }),
            Action::AddGroupMembers { .. } => {
                change(&|a| {
                    if let Action::AddGroupMembers { members, .. } = a {
                        members.reverse();
                    }
                });
                change(&|a| {
                    if let Action::AddGroupMembers { members, .. } = a {
                        members.pop();
                    }
                });
            }
            Action::RemoveGroupMember { .. } => change(&|a| {
                if let Action::RemoveGroupMember { member, .. } = a {
                    member.push('0');
                }
            }),
            Action::SetManager { .. } => change(&|a| {
                if let Action::SetManager { manager, .. } = a {
                    manager.push('0');
                }
            }),
            Action::DisableUser { .. } => change(&|a| {
                if let Action::DisableUser { mark_leaver, .. } = a {
                    *mark_leaver = false;
                }
            }),
            Action::MarkLeaver { .. }
            | Action::RevokeSessions { .. }
            | Action::DeleteUser { .. } => {
                change(&|a| {
                    if let Action::MarkLeaver { id, .. }
                    | Action::RevokeSessions { id, .. }
                    | Action::DeleteUser { id, .. } = a
                    {
                        id.push('0');
                    }
                });
            }
        }
        out
    }

    #[test]
    fn the_same_actions_give_the_same_id_on_every_run_and_platform() {
        let actions = every_kind();
        assert_eq!(id(&actions), id(&actions.clone()));
        // Pinned: the id depends on nothing but the actions (no platform, no library's
        // text format); a change here invalidates every approval in flight.
        assert_eq!(id(&actions), PINNED);
        assert_eq!(id(&[]), PINNED_EMPTY);
    }

    const PINNED: &str = "26faaf8d64ed";
    const PINNED_EMPTY: &str = "4f53cda18c2b";

    #[test]
    fn sorting_is_stable_and_matches_a_plain_sort() {
        // Many equal keys (one group's member batches, one user's actions) in scrambled order.
        let mut actions = Vec::new();
        for i in 0..60u32 {
            let n = (i * 37) % 60;
            actions.push(match n % 3 {
                0 => Action::AddGroupMembers {
                    group: "g".into(),
                    group_name: format!("group-{}", n % 4),
                    members: vec![format!("member-{i}")],
                    user_principal_names: vec![],
                },
                1 => Action::DeleteUser {
                    id: format!("id-{i}"),
                    user_principal_name: format!("u{}@corp.example.com", n % 5),
                },
                _ => Action::AssignLicenses {
                    user: format!("id-{i}"),
                    user_principal_name: format!("u{}@corp.example.com", n % 5),
                    add: vec![],
                    remove: if i % 2 == 0 {
                        vec!["sku".into()]
                    } else {
                        vec![]
                    },
                },
            });
        }
        let mut expected = actions.clone();
        expected.sort_by(|a, b| {
            (a.phase(), a.subject(), super::rank(a)).cmp(&(b.phase(), b.subject(), super::rank(b)))
        });
        let mut planned = planned(&actions);
        super::sort_actions(&mut planned);
        let sorted: Vec<Action> = planned.into_iter().map(|p| p.action).collect();
        assert_eq!(sorted, expected);
    }

    #[test]
    fn any_change_to_any_action_changes_the_id() {
        let actions = every_kind();
        let original = id(&actions);
        let mut ids = std::collections::BTreeSet::from([original.clone()]);
        let mut variants = 0;
        for (i, action) in actions.iter().enumerate() {
            for other in changed(action) {
                let mut changed = actions.clone();
                changed[i] = other;
                assert!(ids.insert(id(&changed)), "{:?} kept an id", changed[i]);
                variants += 1;
            }
            // One action fewer.
            let mut fewer = actions.clone();
            fewer.remove(i);
            assert!(ids.insert(id(&fewer)), "removing action {i} kept an id");
        }
        // Another order.
        let mut swapped = actions.clone();
        swapped.swap(0, 1);
        assert!(ids.insert(id(&swapped)));
        assert!(variants >= actions.len());
    }
}
