//! Graph's JSON (`wire`) → the engine's observed model (`crate::model`).

use std::sync::Arc;

use crate::model::{
    AuthenticationType, FederationSettings, GroupLicenseState, ObservedDomain, ObservedGroup,
    ObservedGroupLicense, ObservedLicense, ObservedSku, ObservedUser, intern_sku,
};

use super::wire;

/// A domain, without its federation (read separately).
pub fn domain(d: wire::Domain) -> ObservedDomain {
    let federated = d
        .authentication_type
        .as_deref()
        .is_some_and(|a| a.eq_ignore_ascii_case("Federated"));
    ObservedDomain {
        name: d.id.to_ascii_lowercase(),
        is_verified: d.is_verified,
        is_default: d.is_default,
        is_initial: d.is_initial,
        authentication: if federated {
            AuthenticationType::Federated
        } else {
            AuthenticationType::Managed
        },
        federation: None,
    }
}

/// An `internalDomainFederation`.
pub fn federation(f: wire::Federation) -> FederationSettings {
    FederationSettings {
        id: f.id,
        display_name: f.display_name,
        issuer_uri: f.issuer_uri,
        passive_sign_in_uri: f.passive_sign_in_uri,
        sign_out_uri: f.sign_out_uri,
        active_sign_in_uri: f.active_sign_in_uri,
        metadata_exchange_uri: f.metadata_exchange_uri,
        preferred_authentication_protocol: f.preferred_authentication_protocol,
        federated_idp_mfa_behavior: f.federated_idp_mfa_behavior,
        prompt_login_behavior: f.prompt_login_behavior,
        is_signed_authentication_request_required: f.is_signed_authentication_request_required,
        signing_certificate: f.signing_certificate,
        next_signing_certificate: f.next_signing_certificate,
    }
}

/// A subscribed SKU.
pub fn sku(s: wire::SubscribedSku) -> ObservedSku {
    ObservedSku {
        sku_id: s.sku_id.to_ascii_lowercase(),
        sku_part_number: s.sku_part_number,
        service_plans: s
            .service_plans
            .into_iter()
            .map(|p| (p.service_plan_id.to_ascii_lowercase(), p.service_plan_name))
            .collect(),
        enabled: s.prepaid_units.enabled,
        consumed: s.consumed_units,
    }
}

/// A group with its members (user ids).
pub fn group(g: wire::Group, members: Vec<String>) -> ObservedGroup {
    let mut members: Vec<String> = members.iter().map(|m| m.to_ascii_lowercase()).collect();
    members.sort();
    members.dedup();
    let mut licenses: Vec<ObservedGroupLicense> = g
        .assigned_licenses
        .unwrap_or_default()
        .into_iter()
        .filter_map(|l| {
            Some(ObservedGroupLicense {
                sku_id: l.sku_id?.to_ascii_lowercase(),
                disabled_plans: lower_sorted(&l.disabled_plans),
            })
        })
        .collect();
    licenses.sort_by(|a, b| a.sku_id.cmp(&b.sku_id));
    ObservedGroup {
        id: g.id.to_ascii_lowercase(),
        display_name: g.display_name.unwrap_or_default(),
        description: g.description,
        members,
        licenses,
    }
}

/// A user from a full read (absent properties stay empty).
pub fn user(mut u: wire::User) -> ObservedUser {
    let mut out = ObservedUser {
        id: std::mem::take(&mut u.id),
        ..ObservedUser::default()
    };
    merge_user(&mut out, u);
    out
}

/// Applies the properties present in `u` (a delta item or a GET) to `into`; absent
/// properties keep their value, `null` clears them.
pub fn merge_user(into: &mut ObservedUser, u: wire::User) {
    fn set(field: &mut Option<String>, value: Option<Option<String>>) {
        if let Some(v) = value {
            *field = v;
        }
    }
    if let Some(upn) = u.user_principal_name {
        into.user_principal_name = upn.unwrap_or_default();
    }
    set(&mut into.display_name, u.display_name);
    set(&mut into.given_name, u.given_name);
    set(&mut into.surname, u.surname);
    set(&mut into.mail_nickname, u.mail_nickname);
    set(&mut into.immutable_id, u.on_premises_immutable_id);
    set(&mut into.usage_location, u.usage_location);
    if let Some(enabled) = u.account_enabled {
        into.account_enabled = enabled.unwrap_or(false);
    }
    for name in crate::api::USER_ATTRIBUTES {
        match u.other.get(name) {
            None => {}
            Some(serde_json::Value::String(v)) => into.attributes.set(name, Some(v.clone())),
            Some(_) => into.attributes.set(name, None),
        }
    }
    set(
        &mut into.sessions_valid_from,
        u.sign_in_sessions_valid_from_date_time,
    );
    if let Some(entries) = u.manager_delta {
        // The entry without `@removed` is the manager now; only removals (or none): no manager.
        into.manager = entries
            .iter()
            .find(|e| e.removed.is_none() && !e.id.is_empty())
            .map(|e| e.id.to_ascii_lowercase());
    }
    if let Some(ext) = u.on_premises_extension_attributes {
        into.leaver_mark = ext.and_then(|e| e.extension_attribute15);
    }
    if let Some(synced) = u.on_premises_sync_enabled {
        into.synced = synced == Some(true);
    }
    match (u.assigned_licenses, u.license_assignment_states) {
        (None, None) => {}
        (assigned, states) => {
            into.licenses = licenses(
                assigned.map(Option::unwrap_or_default),
                states.map(Option::unwrap_or_default),
                &into.licenses,
            );
        }
    }
}

/// Licences from `assignedLicenses` and `licenseAssignmentStates` (either may be missing from
/// a delta item; then what was known before fills in). A state with `assignedByGroup: null`
/// is a direct assignment; otherwise the licence comes from that group. The result is exactly
/// as long as the licences (one, usually), each with its SKU id shared.
fn licenses(
    assigned: Option<Vec<wire::AssignedLicense>>,
    states: Option<Vec<wire::LicenseAssignmentState>>,
    before: &[ObservedLicense],
) -> Vec<ObservedLicense> {
    /// A licence while it is put together.
    struct Held {
        sku: Arc<str>,
        disabled: Vec<String>,
        direct: bool,
        from: Vec<String>,
        states: Vec<GroupLicenseState>,
    }
    let mut out: Vec<Held> = Vec::new();
    let entry = |out: &mut Vec<Held>, sku: &str| -> usize {
        match out.iter().position(|l| *l.sku == *sku) {
            Some(i) => i,
            None => {
                out.push(Held {
                    sku: intern_sku(sku),
                    disabled: Vec::new(),
                    direct: false,
                    from: Vec::new(),
                    states: Vec::new(),
                });
                out.len() - 1
            }
        }
    };
    match &states {
        Some(states) => {
            for s in states {
                let Some(sku) = s.sku_id.as_deref().map(str::to_ascii_lowercase) else {
                    continue;
                };
                let i = entry(&mut out, &sku);
                match &s.assigned_by_group {
                    None => {
                        out[i].direct = true;
                        out[i].disabled = lower_sorted(&s.disabled_plans);
                    }
                    Some(group) => {
                        let group = group.to_ascii_lowercase();
                        let error = s
                            .error
                            .clone()
                            .filter(|e| !e.is_empty() && !e.eq_ignore_ascii_case("None"));
                        out[i].states.push(GroupLicenseState {
                            group: group.clone(),
                            state: s.state.clone().unwrap_or_default(),
                            error,
                        });
                        out[i].from.push(group);
                    }
                }
            }
        }
        None => {
            // No states in this item: keep what was known of each licence's origin.
            for l in before {
                let i = entry(&mut out, &l.sku_id);
                out[i].direct = l.direct;
                out[i].from = l.inherited_from().to_vec();
                out[i].states = l.group_states().to_vec();
                out[i].disabled = l.disabled_plans.clone();
            }
        }
    }
    if let Some(assigned) = assigned {
        let skus: Vec<String> = assigned
            .iter()
            .filter_map(|a| a.sku_id.as_deref().map(str::to_ascii_lowercase))
            .collect();
        if states.is_none() {
            out.retain(|l| skus.iter().any(|s| **s == *l.sku));
        }
        for a in &assigned {
            let Some(sku) = a.sku_id.as_deref().map(str::to_ascii_lowercase) else {
                continue;
            };
            let known = out.iter().any(|l| *l.sku == *sku);
            let i = entry(&mut out, &sku);
            if !known {
                // Assigned but without a state (yet): a direct assignment.
                out[i].direct = true;
            }
            if out[i].direct && (states.is_none() || !known) {
                out[i].disabled = lower_sorted(&a.disabled_plans);
            }
        }
    }
    out.sort_by(|a, b| a.sku.cmp(&b.sku));
    let mut licenses = Vec::with_capacity(out.len());
    for mut l in out {
        l.from.sort();
        l.from.dedup();
        licenses.push(ObservedLicense::new(
            l.sku, l.disabled, l.direct, l.from, l.states,
        ));
    }
    licenses
}

fn lower_sorted(ids: &[String]) -> Vec<String> {
    let mut v: Vec<String> = ids.iter().map(|s| s.to_ascii_lowercase()).collect();
    v.sort();
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(v: serde_json::Value) -> wire::User {
        serde_json::from_value(v).unwrap_or_default()
    }

    #[test]
    fn group_and_direct_licences_are_told_apart() {
        let u = user(parse(serde_json::json!({
            "id": "1", "userPrincipalName": "a@b.c", "accountEnabled": true,
            "assignedLicenses": [{"skuId": "S1", "disabledPlans": ["P2", "P1"]}, {"skuId": "s2", "disabledPlans": []}],
            "licenseAssignmentStates": [
                {"skuId": "S1", "assignedByGroup": null, "disabledPlans": ["P2", "P1"], "state": "Active"},
                {"skuId": "s2", "assignedByGroup": "G", "disabledPlans": [], "state": "Active"}
            ]
        })));
        assert_eq!(u.licenses.len(), 2);
        assert!(u.licenses[0].direct);
        assert_eq!(u.licenses[0].disabled_plans, vec!["p1", "p2"]);
        assert!(!u.licenses[1].direct);
        assert_eq!(u.licenses[1].inherited_from(), ["g"]);
    }

    #[test]
    fn a_delta_item_changes_only_the_properties_it_carries() {
        let mut u = user(parse(serde_json::json!({
            "id": "1", "userPrincipalName": "a@b.c", "displayName": "A", "usageLocation": "US",
            "accountEnabled": true
        })));
        merge_user(
            &mut u,
            parse(serde_json::json!({"id": "1", "displayName": "B", "usageLocation": null})),
        );
        assert_eq!(u.display_name.as_deref(), Some("B"));
        assert_eq!(u.usage_location, None);
        assert_eq!(u.user_principal_name, "a@b.c");
        assert!(u.account_enabled);
    }
}
