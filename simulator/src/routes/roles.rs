//! `/directoryRoles`, `/directoryRoles/{id}/members`, `/organization`.

use serde_json::{Value, json};

use super::{GraphResponse, GraphResult, context};
use crate::Shared;
use crate::error::GraphError;
use crate::model::DirectoryRole;
use crate::render;
use crate::state::TenantState;

fn role_json(r: &DirectoryRole) -> Value {
    json!({"id": r.id, "deletedDateTime": null, "description": r.description,
           "displayName": r.display_name, "roleTemplateId": r.role_template_id})
}

fn find<'a>(st: &'a TenantState, key: &str) -> Result<&'a DirectoryRole, GraphError> {
    let found = match key.strip_prefix("template:") {
        Some(t) => st
            .roles
            .iter()
            .find(|r| r.role_template_id.eq_ignore_ascii_case(t)),
        None => st.roles.iter().find(|r| r.id.eq_ignore_ascii_case(key)),
    };
    found.ok_or_else(|| GraphError::not_found(key.trim_start_matches("template:")))
}

pub fn list(sh: &Shared) -> GraphResult {
    let st = crate::lock(&sh.state);
    let value: Vec<Value> = st.roles.iter().map(role_json).collect();
    drop(st);
    Ok(GraphResponse::ok(
        json!({"@odata.context": context(sh, "directoryRoles"), "value": value}),
    ))
}

pub fn get(sh: &Shared, key: &str) -> GraphResult {
    let st = crate::lock(&sh.state);
    let mut v = role_json(find(&st, key)?);
    drop(st);
    v["@odata.context"] = json!(context(sh, "directoryRoles/$entity"));
    Ok(GraphResponse::ok(v))
}

pub fn members(sh: &Shared, key: &str) -> GraphResult {
    let st = crate::lock(&sh.state);
    let role = find(&st, key)?;
    let value: Vec<Value> = st
        .users
        .values()
        .filter(|u| {
            u.roles
                .iter()
                .any(|r| r.eq_ignore_ascii_case(&role.role_template_id))
        })
        .map(|u| {
            let mut v = render::user_selected(u, None);
            v["@odata.type"] = json!("#microsoft.graph.user");
            v
        })
        .collect();
    drop(st);
    Ok(GraphResponse::ok(
        json!({"@odata.context": context(sh, "directoryObjects"), "value": value}),
    ))
}

pub fn organization(sh: &Shared) -> GraphResult {
    let st = crate::lock(&sh.state);
    let verified: Vec<Value> = st
        .domains
        .iter()
        .filter(|d| d.is_verified)
        .map(|d| {
            json!({"capabilities": "Email, OfficeCommunicationsOnline", "isDefault": d.is_default,
                   "isInitial": d.is_initial, "name": d.id, "type": d.authentication_type})
        })
        .collect();
    let (sync_enabled, last_sync) = st.directory_sync();
    let v = json!({
        "@odata.context": context(sh, "organization"),
        "value": [{"id": st.tenant.id, "displayName": st.tenant.display_name,
                   "verifiedDomains": verified, "onPremisesSyncEnabled": sync_enabled,
                   "onPremisesLastSyncDateTime": last_sync}],
    });
    Ok(GraphResponse::ok(v))
}
