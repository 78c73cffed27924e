//! `/groups`: security groups, members (`$ref`, `members@odata.bind`), group licence
//! assignment with asynchronous processing, `membersWithLicenseErrors`.

use serde_json::{Map, Value, json};

use super::{GraphRequest, GraphResponse, GraphResult, context};
use crate::Shared;
use crate::error::GraphError;
use crate::model::{Group, License};
use crate::odata::{self, Filter};
use crate::render;
use crate::state::TenantState;

const DEFAULT_PAGE: usize = 100;

/// Most `members@odata.bind` entries one request may carry (group-update.md: "up to 20
/// members can be added in a single request").
pub const MAX_BINDS: usize = 20;

const GROUP_FILTERABLE: &[&str] = &[
    "id",
    "displayName",
    "mailNickname",
    "description",
    "securityEnabled",
    "mailEnabled",
];

/// Properties of `microsoft.graph.group` (and its bases) a `$select` may name.
fn selectable(p: &str) -> bool {
    render::GROUP_DEFAULT_PROPERTIES.contains(&p)
        || matches!(
            p,
            "assignedLicenses" | "hasMembersWithLicenseErrors" | "licenseProcessingState"
        )
}

fn group_select(req: &GraphRequest) -> Result<Option<Vec<String>>, GraphError> {
    let Some(select) = req.query.select() else {
        return Ok(None);
    };
    if let Some(p) = select.iter().find(|p| !selectable(p)) {
        return Err(GraphError::bad_request(format!(
            "Could not find a property named '{p}' on type 'microsoft.graph.group'."
        )));
    }
    Ok(Some(select))
}

fn full(st: &TenantState, g: &Group) -> Map<String, Value> {
    let errors = !st.members_with_license_errors(&g.id).is_empty();
    render::group_full(g, errors, st.group_processing_pending(&g.id))
}

fn with_context(sh: &Shared, fragment: &str, body: Value) -> Value {
    let mut out = Map::new();
    out.insert("@odata.context".into(), json!(context(sh, fragment)));
    if let Value::Object(m) = body {
        out.extend(m);
    }
    Value::Object(out)
}

fn resolve(st: &TenantState, id: &str) -> Result<String, GraphError> {
    let lower = id.to_ascii_lowercase();
    if st.groups.contains_key(&lower) {
        Ok(lower)
    } else {
        Err(GraphError::not_found(id))
    }
}

/// How long group licence processing takes (scaled).
fn processing_delay(sh: &Shared) -> std::time::Duration {
    let scale = if sh.config.time_scale > 0.0 {
        sh.config.time_scale
    } else {
        1.0
    };
    sh.config.group_license_delay.div_f64(scale)
}

pub fn list(sh: &Shared, req: &GraphRequest) -> GraphResult {
    let select = group_select(req)?;
    let top = req.query.top()?.unwrap_or(DEFAULT_PAGE);
    let advanced = req.consistency_eventual && req.query.count();
    let filter = match req.query.get("$filter") {
        Some(f) => Some(odata::parse_filter(f, GROUP_FILTERABLE)?),
        None => None,
    };
    if let Some(op) = filter.as_ref().and_then(Filter::needs_advanced)
        && !advanced
    {
        return Err(odata::advanced_query_error(op));
    }
    let after = req
        .query
        .get("$skiptoken")
        .map(|t| {
            t.strip_prefix("RFNwdAIAAQAAAB")
                .and_then(crate::util::b64url_decode)
                .and_then(|b| String::from_utf8(b).ok())
                .ok_or_else(|| GraphError::bad_request("Invalid skip token."))
        })
        .transpose()?;
    let st = crate::lock(&sh.state);
    let start = match &after {
        Some(id) => std::ops::Bound::Excluded(id.clone()),
        None => std::ops::Bound::Unbounded,
    };
    let mut page = Vec::new();
    let mut last = None;
    let mut more = false;
    for (id, g) in st.groups.range((start, std::ops::Bound::Unbounded)) {
        let f = full(&st, g);
        if filter.as_ref().is_some_and(|flt| !flt.matches(&f)) || sh.lag_misses(id) {
            continue;
        }
        if page.len() == top {
            more = true;
            break;
        }
        page.push(render::group_selected(&f, select.as_deref()));
        last = Some(id.clone());
    }
    drop(st);
    let mut body = Map::new();
    body.insert("@odata.context".into(), json!(context(sh, "groups")));
    if more && let Some(last) = last {
        let token = format!(
            "RFNwdAIAAQAAAB{}",
            crate::util::b64url_encode(last.as_bytes())
        );
        let link = req.query.link(
            &format!("{}/v1.0", sh.base_url),
            "/groups",
            ("$skiptoken", &token),
        );
        body.insert("@odata.nextLink".into(), json!(link));
    }
    body.insert("value".into(), Value::Array(page));
    Ok(GraphResponse::ok(Value::Object(body)))
}

pub fn get(sh: &Shared, req: &GraphRequest, id: &str) -> GraphResult {
    let select = group_select(req)?;
    let st = crate::lock(&sh.state);
    let gid = resolve(&st, id)?;
    let g = st
        .groups
        .get(&gid)
        .ok_or_else(|| GraphError::not_found(id))?;
    let body = render::group_selected(&full(&st, g), select.as_deref());
    drop(st);
    Ok(GraphResponse::ok(with_context(sh, "groups/$entity", body)))
}

/// The user ids named by `members@odata.bind` (`…/directoryObjects/{id}` or `…/users/{id}`).
fn binds(
    sh: &Shared,
    st: &TenantState,
    body: &Map<String, Value>,
) -> Result<Vec<String>, GraphError> {
    let Some(raw) = body.get("members@odata.bind") else {
        return Ok(Vec::new());
    };
    let urls = raw
        .as_array()
        .ok_or_else(|| GraphError::bad_request("Invalid value for 'members@odata.bind'."))?;
    if urls.len() > MAX_BINDS {
        // Invented message; the limit of 20 is documented.
        return Err(GraphError::bad_request(format!(
            "The number of entries in 'members@odata.bind' exceeds the maximum of {MAX_BINDS}."
        )));
    }
    urls.iter()
        .map(|u| member_id(sh, st, u.as_str().unwrap_or_default()))
        .collect()
}

/// Resolves a member reference URL to an existing user's id (404 when absent, or when a
/// lagging replica has not seen a just-created user).
fn member_id(sh: &Shared, st: &TenantState, url: &str) -> Result<String, GraphError> {
    let id = super::reference_id(sh, url)?;
    if !st.users.contains_key(&id) || sh.lag_misses(&id) {
        return Err(GraphError::not_found(&id));
    }
    Ok(id)
}

fn already_member() -> GraphError {
    GraphError::bad_request(
        "One or more added object references already exist for the following modified properties: 'members'.",
    )
}

pub fn create(sh: &Shared, req: &GraphRequest) -> GraphResult {
    let body = req.object()?;
    let text = |k: &str| body.get(k).and_then(Value::as_str).map(str::to_string);
    let invalid = |k: &str| {
        GraphError::bad_request(format!(
            "Invalid value specified for property '{k}' of resource 'Group'."
        ))
    };
    let display_name = text("displayName")
        .filter(|s| !s.trim().is_empty())
        .ok_or_else(|| invalid("displayName"))?;
    let mail_nickname = text("mailNickname")
        .filter(|s| !s.trim().is_empty())
        .ok_or_else(|| invalid("mailNickname"))?;
    let mail_enabled = body
        .get("mailEnabled")
        .and_then(Value::as_bool)
        .ok_or_else(|| invalid("mailEnabled"))?;
    let security_enabled = body
        .get("securityEnabled")
        .and_then(Value::as_bool)
        .ok_or_else(|| invalid("securityEnabled"))?;
    let unified = body
        .get("groupTypes")
        .and_then(Value::as_array)
        .is_some_and(|t| !t.is_empty());
    if mail_enabled || !security_enabled || unified {
        // Invented: the simulator models security groups only.
        return Err(GraphError::bad_request(
            "Only security groups (mailEnabled false, securityEnabled true, no groupTypes) are supported by this simulator.",
        ));
    }
    let mut st = crate::lock(&sh.state);
    let members = binds(sh, &st, body)?;
    let mut unique: Vec<String> = Vec::new();
    for m in members {
        if !unique.contains(&m) {
            unique.push(m);
        }
    }
    let group = Group {
        id: crate::util::new_guid(),
        display_name,
        description: text("description"),
        mail_nickname,
        members: unique,
        licenses: Vec::new(),
        created_date_time: Some(crate::util::now_rfc3339()),
    };
    let out = render::group_selected(&full(&st, &group), None);
    let id = group.id.clone();
    st.groups.insert(id.clone(), group);
    drop(st);
    sh.lag_created(&id);
    Ok(GraphResponse::created(with_context(
        sh,
        "groups/$entity",
        out,
    )))
}

pub fn update(sh: &Shared, req: &GraphRequest, id: &str) -> GraphResult {
    let body = req.object()?;
    let mut st = crate::lock(&sh.state);
    let gid = resolve(&st, id)?;
    let new_members = binds(sh, &st, body)?;
    let delay = processing_delay(sh);
    let group = st
        .groups
        .get_mut(&gid)
        .ok_or_else(|| GraphError::not_found(id))?;
    if new_members.iter().any(|m| group.members.contains(m)) {
        return Err(already_member());
    }
    if let Some(v) = body.get("displayName") {
        group.display_name = v
            .as_str()
            .filter(|s| !s.trim().is_empty())
            .ok_or_else(|| {
                GraphError::bad_request(
                    "Invalid value specified for property 'displayName' of resource 'Group'.",
                )
            })?
            .to_string();
    }
    if let Some(v) = body.get("description") {
        group.description = v.as_str().map(str::to_string);
    }
    let added = !new_members.is_empty();
    for m in new_members {
        if !group.members.contains(&m) {
            group.members.push(m);
        }
    }
    let licensed = !group.licenses.is_empty();
    if added && licensed {
        st.schedule_group(&gid, delay);
    }
    Ok(GraphResponse::no_content())
}

pub fn delete(sh: &Shared, id: &str) -> GraphResult {
    let mut st = crate::lock(&sh.state);
    let gid = resolve(&st, id)?;
    if st.groups.get(&gid).is_some_and(|g| !g.licenses.is_empty()) {
        // Entra blocks deleting a group with licences assigned; the message is invented.
        return Err(GraphError::bad_request(
            "The group cannot be deleted because it has licenses assigned. Remove the licenses from the group first.",
        ));
    }
    st.groups.remove(&gid);
    // Security groups are deleted permanently; licence assignments from it were already gone.
    st.process_group_licenses(&gid);
    Ok(GraphResponse::no_content())
}

pub fn members(sh: &Shared, id: &str) -> GraphResult {
    let st = crate::lock(&sh.state);
    let gid = resolve(&st, id)?;
    let g = st
        .groups
        .get(&gid)
        .ok_or_else(|| GraphError::not_found(id))?;
    let value: Vec<Value> = g
        .members
        .iter()
        .filter_map(|m| st.users.get(m))
        .map(member_json)
        .collect();
    drop(st);
    Ok(GraphResponse::ok(json!({
        "@odata.context": context(sh, "directoryObjects"),
        "value": value,
    })))
}

fn member_json(u: &crate::model::User) -> Value {
    let mut v = render::user_selected(u, None);
    if let Value::Object(m) = &mut v {
        let mut out = Map::new();
        out.insert("@odata.type".into(), json!("#microsoft.graph.user"));
        out.extend(std::mem::take(m));
        *m = out;
    }
    v
}

pub fn add_member_ref(sh: &Shared, req: &GraphRequest, id: &str) -> GraphResult {
    let body = req.object()?;
    let url = body
        .get("@odata.id")
        .and_then(Value::as_str)
        .ok_or_else(|| GraphError::bad_request("Invalid value for '@odata.id'."))?
        .to_string();
    let mut st = crate::lock(&sh.state);
    let gid = resolve(&st, id)?;
    let member = member_id(sh, &st, &url)?;
    let delay = processing_delay(sh);
    let group = st
        .groups
        .get_mut(&gid)
        .ok_or_else(|| GraphError::not_found(id))?;
    if group.members.contains(&member) {
        return Err(already_member());
    }
    group.members.push(member);
    if !group.licenses.is_empty() {
        st.schedule_group(&gid, delay);
    }
    Ok(GraphResponse::no_content())
}

pub fn remove_member_ref(sh: &Shared, id: &str, member: &str) -> GraphResult {
    let mut st = crate::lock(&sh.state);
    let gid = resolve(&st, id)?;
    let delay = processing_delay(sh);
    let group = st
        .groups
        .get_mut(&gid)
        .ok_or_else(|| GraphError::not_found(id))?;
    let lower = member.to_ascii_lowercase();
    let before = group.members.len();
    group.members.retain(|m| *m != lower);
    if group.members.len() == before {
        return Err(GraphError::not_found(member));
    }
    if !group.licenses.is_empty() {
        st.schedule_group(&gid, delay);
    }
    Ok(GraphResponse::no_content())
}

/// `POST /groups/{id}/assignLicense` → 202 Accepted with the group; members get the licences
/// when processing runs (asynchronously, like Entra).
pub fn assign_license(sh: &Shared, req: &GraphRequest, id: &str) -> GraphResult {
    let (adds, removes) = super::licenses::parse_assign_body(req)?;
    let mut st = crate::lock(&sh.state);
    let gid = resolve(&st, id)?;
    for add in &adds {
        let sku = st
            .sku(&add.sku)
            .filter(|s| s.sku_id == add.sku)
            .ok_or_else(|| {
                GraphError::bad_request(format!(
                    "License {} does not correspond to a valid company License.",
                    add.sku
                ))
            })?;
        if let Some(plan) = add.disabled_plans.iter().find(|p| {
            !sku.service_plans
                .iter()
                .any(|sp| sp.service_plan_id.eq_ignore_ascii_case(p))
        }) {
            // Invented message (as for users).
            return Err(GraphError::bad_request(format!(
                "Service plan {plan} is not part of license {}.",
                add.sku
            )));
        }
    }
    let delay = processing_delay(sh);
    let group = st
        .groups
        .get_mut(&gid)
        .ok_or_else(|| GraphError::not_found(id))?;
    if let Some(r) = removes
        .iter()
        .find(|r| !group.licenses.iter().any(|l| l.sku == **r))
    {
        // Invented message (as for users).
        return Err(GraphError::bad_request(format!(
            "Group does not have a corresponding license {r}."
        )));
    }
    group.licenses.retain(|l| !removes.contains(&l.sku));
    for add in adds {
        match group.licenses.iter_mut().find(|l| l.sku == add.sku) {
            Some(existing) => existing.disabled_plans = add.disabled_plans,
            None => group.licenses.push(License {
                sku: add.sku,
                disabled_plans: add.disabled_plans,
            }),
        }
    }
    st.schedule_group(&gid, delay);
    let g = st
        .groups
        .get(&gid)
        .ok_or_else(|| GraphError::not_found(id))?;
    let body = render::group_selected(&full(&st, g), None);
    drop(st);
    let mut resp = GraphResponse::ok(with_context(sh, "groups/$entity", body));
    resp.status = 202;
    Ok(resp)
}

pub fn members_with_license_errors(sh: &Shared, id: &str) -> GraphResult {
    let st = crate::lock(&sh.state);
    let gid = resolve(&st, id)?;
    let value: Vec<Value> = st
        .members_with_license_errors(&gid)
        .into_iter()
        .map(member_json)
        .collect();
    drop(st);
    Ok(GraphResponse::ok(json!({
        "@odata.context": context(sh, "directoryObjects"),
        "value": value,
    })))
}
