//! `/users`, `/users/{id}`, and `/directory/deletedItems`.

use serde_json::{Map, Value, json};

use super::{GraphRequest, GraphResponse, GraphResult, context};
use crate::Shared;
use crate::error::GraphError;
use crate::model::User;
use crate::odata::{self, Filter};
use crate::render;
use crate::state::TenantState;

const DEFAULT_PAGE: usize = 100;

/// Validates `$select` names against the user schema.
pub fn user_select(req: &GraphRequest) -> Result<Option<Vec<String>>, GraphError> {
    let Some(select) = req.query.select() else {
        return Ok(None);
    };
    for p in &select {
        if !render::USER_SCHEMA_PROPERTIES.contains(&p.as_str()) {
            return Err(GraphError::bad_request(format!(
                "Could not find a property named '{p}' on type 'microsoft.graph.user'."
            )));
        }
    }
    Ok(Some(select))
}

fn select_fragment(base: &str, select: Option<&[String]>) -> String {
    match select {
        Some(s) => format!("{base}({})", s.join(",")),
        None => base.to_string(),
    }
}

/// Properties `GET /users` can sort by (notes §3.4; aad-advanced-queries: `displayName` and
/// `userPrincipalName` sort without advanced query parameters).
const USER_SORTABLE: &[&str] = &["displayName", "userPrincipalName"];

/// A parsed `$orderby`: property and descending.
#[derive(Debug, Clone, PartialEq)]
struct OrderBy {
    property: &'static str,
    descending: bool,
}

/// `$orderby=<property> [asc|desc]`, one property. Anything else is a 400 (never ignored).
fn parse_orderby(req: &GraphRequest) -> Result<Option<OrderBy>, GraphError> {
    let Some(raw) = req.query.get("$orderby") else {
        return Ok(None);
    };
    // Messages below are invented (no captured Graph text).
    let unsupported = || {
        GraphError::unsupported_query(format!(
            "Sorting is not supported for the $orderby clause '{raw}' on resource 'User'."
        ))
    };
    let mut words = raw.split_whitespace();
    let prop = words.next().ok_or_else(unsupported)?;
    let descending = match words.next().map(str::to_ascii_lowercase).as_deref() {
        None | Some("asc") => false,
        Some("desc") => true,
        Some(_) => return Err(unsupported()),
    };
    if words.next().is_some() || prop.contains(',') {
        return Err(unsupported());
    }
    let property = USER_SORTABLE
        .iter()
        .find(|p| p.eq_ignore_ascii_case(prop))
        .ok_or_else(unsupported)?;
    Ok(Some(OrderBy {
        property,
        descending,
    }))
}

/// Where a page starts: after this user id, and (with `$orderby`) this sort key.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
struct SkipToken {
    id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    key: Option<String>,
}

fn sort_key(user: &User, order: &OrderBy) -> String {
    match order.property {
        "userPrincipalName" => user.user_principal_name.to_lowercase(),
        _ => user.display_name.to_lowercase(),
    }
}

pub fn list(sh: &Shared, req: &GraphRequest) -> GraphResult {
    let select = user_select(req)?;
    let top = req.query.top()?.unwrap_or(DEFAULT_PAGE);
    let advanced = req.consistency_eventual && req.query.count();
    let filter = match req.query.get("$filter") {
        Some(f) => Some(odata::parse_filter(f, odata::USER_FILTERABLE)?),
        None => None,
    };
    if let Some(op) = filter.as_ref().and_then(Filter::needs_advanced)
        && !advanced
    {
        return Err(odata::advanced_query_error(op));
    }
    let order = parse_orderby(req)?;
    if order.is_some() && filter.is_some() && !advanced {
        // aad-advanced-queries: `$filter` with `$orderby` needs ConsistencyLevel + $count.
        return Err(GraphError::unsupported_query(
            "Sorting not supported for current query.",
        ));
    }
    let after = match req.query.get("$skiptoken") {
        Some(t) => Some(decode_skiptoken(t)?),
        None => None,
    };
    let st = crate::lock(&sh.state);
    let matches = |u: &User| {
        filter
            .as_ref()
            .is_none_or(|f| f.matches(&render::user_full(u)))
            && !sh.lag_misses(&u.id)
    };
    let mut page = Vec::new();
    let mut last: Option<SkipToken> = None;
    let mut more = false;
    let want_count = advanced && after.is_none();
    match &order {
        None => {
            let start = match &after {
                Some(t) => std::ops::Bound::Excluded(t.id.clone()),
                None => std::ops::Bound::Unbounded,
            };
            for (id, user) in st.users.range((start, std::ops::Bound::Unbounded)) {
                if !matches(user) {
                    continue;
                }
                if page.len() < top {
                    page.push(render::user_selected(user, select.as_deref()));
                    last = Some(SkipToken {
                        id: id.clone(),
                        key: None,
                    });
                } else {
                    more = true;
                    break;
                }
            }
        }
        Some(order) => {
            let mut sorted: Vec<(String, &User)> =
                st.users.values().map(|u| (sort_key(u, order), u)).collect();
            sorted.sort_by(|a, b| (&a.0, &a.1.id).cmp(&(&b.0, &b.1.id)));
            if order.descending {
                sorted.reverse();
            }
            let past = |key: &str, id: &str| match &after {
                None => true,
                Some(t) => {
                    let cursor = (t.key.as_deref().unwrap_or_default(), t.id.as_str());
                    if order.descending {
                        (key, id) < cursor
                    } else {
                        (key, id) > cursor
                    }
                }
            };
            for (key, user) in sorted {
                if !past(&key, &user.id) || !matches(user) {
                    continue;
                }
                if page.len() < top {
                    page.push(render::user_selected(user, select.as_deref()));
                    last = Some(SkipToken {
                        id: user.id.clone(),
                        key: Some(key),
                    });
                } else {
                    more = true;
                    break;
                }
            }
        }
    }
    let count = if want_count {
        st.users.values().filter(|u| matches(u)).count()
    } else {
        0
    };
    drop(st);
    let mut body = Map::new();
    body.insert(
        "@odata.context".into(),
        json!(context(sh, &select_fragment("users", select.as_deref()))),
    );
    if want_count {
        body.insert("@odata.count".into(), json!(count));
    }
    if more && let Some(last) = last {
        let token = encode_skiptoken(&last);
        let link = req.query.link(
            &format!("{}/v1.0", sh.base_url),
            "/users",
            ("$skiptoken", &token),
        );
        body.insert("@odata.nextLink".into(), json!(link));
    }
    body.insert("value".into(), Value::Array(page));
    Ok(GraphResponse::ok(Value::Object(body)))
}

/// `GET /users/$count`: the number as `text/plain`. Needs `ConsistencyLevel: eventual`
/// (notes §3.5: without it, 400 "$count is not currently supported.").
pub fn count(sh: &Shared, req: &GraphRequest) -> GraphResult {
    if !req.consistency_eventual {
        return Err(GraphError::bad_request(
            "$count is not currently supported.",
        ));
    }
    let filter = match req.query.get("$filter") {
        Some(f) => Some(odata::parse_filter(f, odata::USER_FILTERABLE)?),
        None => None,
    };
    let st = crate::lock(&sh.state);
    let n = st
        .users
        .values()
        .filter(|u| {
            filter
                .as_ref()
                .is_none_or(|f| f.matches(&render::user_full(u)))
        })
        .count();
    Ok(GraphResponse::text(n.to_string()))
}

fn encode_skiptoken(t: &SkipToken) -> String {
    let json = serde_json::to_vec(t).unwrap_or_default();
    format!("RFNwdAIAAQAAAB{}", crate::util::b64url_encode(&json))
}

fn decode_skiptoken(token: &str) -> Result<SkipToken, GraphError> {
    token
        .strip_prefix("RFNwdAIAAQAAAB")
        .and_then(crate::util::b64url_decode)
        .and_then(|b| serde_json::from_slice(&b).ok())
        .ok_or_else(|| GraphError::bad_request("Invalid skip token."))
}

fn resolve(st: &TenantState, id_or_upn: &str) -> Result<String, GraphError> {
    st.user_id(id_or_upn)
        .ok_or_else(|| GraphError::not_found(id_or_upn))
}

pub fn get(sh: &Shared, req: &GraphRequest, id: &str) -> GraphResult {
    let select = user_select(req)?;
    let st = crate::lock(&sh.state);
    let uid = resolve(&st, id)?;
    let user = st
        .users
        .get(&uid)
        .ok_or_else(|| GraphError::not_found(id))?;
    let mut body = render::user_selected(user, select.as_deref());
    drop(st);
    if let Value::Object(m) = &mut body {
        let ctx = context(
            sh,
            &format!("{}/$entity", select_fragment("users", select.as_deref())),
        );
        let mut out = Map::new();
        out.insert("@odata.context".into(), json!(ctx));
        out.extend(std::mem::take(m));
        *m = out;
    }
    Ok(GraphResponse::ok(body))
}

fn str_field<'a>(body: &'a Map<String, Value>, key: &str) -> Result<Option<&'a str>, GraphError> {
    match body.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.as_str())),
        Some(_) => Err(GraphError::invalid_value(key)),
    }
}

/// UPN characters allowed by the docs: `A-Z a-z 0-9 ' . - _ ! # ^ ~` in the local part.
fn valid_upn(upn: &str) -> bool {
    let Some((local, domain)) = upn.split_once('@') else {
        return false;
    };
    !local.is_empty()
        && !domain.is_empty()
        && !domain.contains('@')
        && local
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "'.-_!#^~".contains(c))
        && !local.starts_with('.')
        && !local.ends_with('.')
}

/// 8–256 characters and three of: lower case, upper case, digit, symbol.
fn complex_password(p: &str) -> bool {
    let classes = [
        p.chars().any(|c| c.is_ascii_lowercase()),
        p.chars().any(|c| c.is_ascii_uppercase()),
        p.chars().any(|c| c.is_ascii_digit()),
        p.chars().any(|c| !c.is_ascii_alphanumeric()),
    ];
    (8..=256).contains(&p.chars().count()) && classes.iter().filter(|b| **b).count() >= 3
}

fn invalid_upn() -> GraphError {
    let mut e = GraphError::bad_request("Property userPrincipalName is invalid.");
    e.details
        .push(json!({"target": "userPrincipalName", "code": "InvalidValue"}));
    e
}

fn domain_invalid() -> GraphError {
    GraphError::bad_request(
        "The domain portion of the userPrincipalName property is invalid. You must use one of the verified domain names in your organization.",
    )
}

/// Checks a UPN for a new or renamed user: syntax, a verified tenant domain, uniqueness.
fn check_upn(st: &TenantState, upn: &str, except: Option<&str>) -> Result<bool, GraphError> {
    if !valid_upn(upn) {
        return Err(invalid_upn());
    }
    let domain = crate::model::upn_domain(upn);
    let d = st
        .domain(&domain)
        .filter(|d| d.is_verified)
        .ok_or_else(domain_invalid)?;
    if st
        .user_by_upn(upn)
        .is_some_and(|u| Some(u.id.as_str()) != except)
    {
        return Err(GraphError::conflict("userPrincipalName"));
    }
    Ok(d.authentication_type == "Federated")
}

fn check_immutable_id(st: &TenantState, v: &str, except: Option<&str>) -> Result<(), GraphError> {
    if v.contains('$') || v.contains('_') || v.is_empty() {
        let mut e = GraphError::bad_request("Property onPremisesImmutableId is invalid.");
        e.details
            .push(json!({"target": "onPremisesImmutableId", "code": "InvalidValue"}));
        return Err(e);
    }
    if st.immutable_id_taken(v, except) {
        return Err(GraphError::conflict("onPremisesImmutableId"));
    }
    Ok(())
}

/// Applies the simple optional properties shared by POST and PATCH.
fn apply_common(user: &mut User, body: &Map<String, Value>) -> Result<(), GraphError> {
    if let Some(v) = body.get("givenName") {
        user.given_name = v.as_str().map(str::to_string);
    }
    if let Some(v) = body.get("surname") {
        user.surname = v.as_str().map(str::to_string);
    }
    if let Some(v) = body.get("mail") {
        user.mail = v.as_str().map(str::to_string);
    }
    if let Some(v) = str_field(body, "usageLocation")? {
        if v.len() != 2 || !v.chars().all(|c| c.is_ascii_alphabetic()) {
            return Err(GraphError::invalid_value("usageLocation"));
        }
        user.usage_location = Some(v.to_ascii_uppercase());
    }
    if let Some(v) = body.get(render::EXTENSION_ATTRIBUTES) {
        merge_extension_attributes(user, v)?;
    }
    for key in render::USER_EXTRA_PROPERTIES {
        match body.get(*key) {
            None => {}
            Some(Value::Null) => {
                user.extra.remove(*key);
            }
            Some(Value::String(s)) => {
                user.extra.insert((*key).to_string(), json!(s));
            }
            Some(_) => return Err(GraphError::invalid_value(key)),
        }
    }
    Ok(())
}

/// `onPremisesExtensionAttributes` in a POST/PATCH: the attributes named are set (a string)
/// or cleared (`null`), the others kept; anything else is a 400.
fn merge_extension_attributes(user: &mut User, v: &Value) -> Result<(), GraphError> {
    let key = render::EXTENSION_ATTRIBUTES;
    let Value::Object(given) = v else {
        return Err(GraphError::invalid_value(key));
    };
    let mut set = user
        .extra
        .get(key)
        .and_then(Value::as_object)
        .cloned()
        .unwrap_or_default();
    for (name, value) in given {
        let valid_name = name
            .strip_prefix("extensionAttribute")
            .and_then(|n| n.parse::<u8>().ok())
            .is_some_and(|n| (1..=15).contains(&n));
        if !valid_name {
            return Err(GraphError::bad_request(format!(
                "Invalid property '{name}' of {key}."
            )));
        }
        match value {
            Value::Null => {
                set.remove(name);
            }
            Value::String(s) if s.chars().count() <= 1024 => {
                set.insert(name.clone(), json!(s));
            }
            _ => return Err(GraphError::invalid_value(key)),
        }
    }
    if set.is_empty() {
        user.extra.remove(key);
    } else {
        user.extra.insert(key.to_string(), Value::Object(set));
    }
    Ok(())
}

/// `POST /users/{id}/revokeSignInSessions`: sessions issued before now stop working
/// (`signInSessionsValidFromDateTime`); Graph answers `{"value": true}`.
pub fn revoke_sessions(sh: &Shared, id: &str) -> GraphResult {
    let mut st = crate::lock(&sh.state);
    let uid = resolve(&st, id)?;
    let now = crate::util::now_rfc3339();
    st.modify_user(&uid, |u| {
        u.extra
            .insert("signInSessionsValidFromDateTime".into(), json!(now));
    })
    .ok_or_else(|| GraphError::not_found(id))?;
    Ok(GraphResponse::ok(json!({
        "@odata.context": super::context(sh, "Edm.Boolean"),
        "value": true,
    })))
}

pub fn create(sh: &Shared, req: &GraphRequest) -> GraphResult {
    let body = req.object()?;
    let account_enabled = body
        .get("accountEnabled")
        .and_then(Value::as_bool)
        .ok_or_else(|| GraphError::invalid_value("accountEnabled"))?;
    let display_name = str_field(body, "displayName")?
        .filter(|s| !s.trim().is_empty())
        .ok_or_else(|| GraphError::invalid_value("displayName"))?;
    let mail_nickname = str_field(body, "mailNickname")?
        .filter(|s| !s.trim().is_empty())
        .ok_or_else(|| GraphError::invalid_value("mailNickname"))?;
    let upn = str_field(body, "userPrincipalName")?
        .ok_or_else(|| GraphError::invalid_value("userPrincipalName"))?;
    let password = body
        .get("passwordProfile")
        .and_then(|p| p.get("password"))
        .and_then(Value::as_str)
        .ok_or_else(|| GraphError::invalid_value("passwordProfile"))?;
    let immutable_id = str_field(body, "onPremisesImmutableId")?;
    let mut st = crate::lock(&sh.state);
    let federated = check_upn(&st, upn, None)?;
    if let Some(v) = immutable_id {
        check_immutable_id(&st, v, None)?;
    } else if federated {
        return Err(GraphError::bad_request(
            "SourceAnchor is a required property for creation of a federated user.",
        ));
    }
    if !complex_password(password) {
        return Err(GraphError::bad_request(
            "The specified password does not comply with password complexity requirements. Please provide a different password.",
        ));
    }
    let mut user = User::new(upn, display_name);
    user.id = crate::util::new_guid();
    user.mail_nickname = mail_nickname.to_string();
    user.account_enabled = account_enabled;
    user.on_premises_immutable_id = immutable_id.map(str::to_string);
    user.password = Some(password.to_string());
    user.created_date_time = Some(crate::util::now_rfc3339());
    // A new user's sessions are valid from its creation (revokeSignInSessions moves it on).
    user.extra.insert(
        "signInSessionsValidFromDateTime".into(),
        json!(user.created_date_time),
    );
    apply_common(&mut user, body)?;
    let mut out = render::user_selected(&user, None);
    let id = user.id.clone();
    st.insert_user(user);
    drop(st);
    sh.lag_created(&id);
    if let Value::Object(m) = &mut out {
        let mut o = Map::new();
        o.insert("@odata.context".into(), json!(context(sh, "users/$entity")));
        o.extend(std::mem::take(m));
        *m = o;
    }
    Ok(GraphResponse::created(out))
}

const READ_ONLY: &[&str] = &[
    "id",
    "createdDateTime",
    "deletedDateTime",
    "assignedLicenses",
    "userType",
    "onPremisesSyncEnabled",
    "onPremisesLastSyncDateTime",
    "onPremisesDomainName",
    "onPremisesSamAccountName",
];

/// Properties of a synced user that on-premises AD masters: Entra refuses to write them from
/// the cloud. Everything the simulator can set except `usageLocation` and `passwordPolicies`
/// (and licences, through assignLicense) is mastered on-premises.
const MASTERED_ON_PREMISES: &[&str] = &[
    "accountEnabled",
    "displayName",
    "givenName",
    "surname",
    "userPrincipalName",
    "mailNickname",
    "mail",
    "onPremisesImmutableId",
    "passwordProfile",
    "jobTitle",
    "department",
    "companyName",
    "city",
    "country",
    "state",
    "streetAddress",
    "postalCode",
    "officeLocation",
    "mobilePhone",
    "preferredLanguage",
    "employeeId",
    "employeeType",
    "faxNumber",
];

/// Entra's answer to a write of a mastered property of a synced user, or to its deletion.
fn mastered_on_premises() -> GraphError {
    GraphError::bad_request(
        "Unable to update the specified properties for on-premises mastered Directory Sync objects or objects currently undergoing migration.",
    )
}

pub fn update(sh: &Shared, req: &GraphRequest, id: &str) -> GraphResult {
    let body = req.object()?;
    if let Some(k) = body.keys().find(|k| READ_ONLY.contains(&k.as_str())) {
        return Err(GraphError::bad_request(format!(
            "Property '{k}' is read-only and cannot be set."
        )));
    }
    let mut st = crate::lock(&sh.state);
    let uid = resolve(&st, id)?;
    let current = st
        .users
        .get(&uid)
        .cloned()
        .ok_or_else(|| GraphError::not_found(id))?;
    if current.on_premises_sync_enabled
        && body
            .keys()
            .any(|k| MASTERED_ON_PREMISES.contains(&k.as_str()))
    {
        drop(st);
        sh.count_mastered_refusal();
        return Err(mastered_on_premises());
    }
    let mut next = current.clone();
    if let Some(upn) = str_field(body, "userPrincipalName")? {
        check_upn(&st, upn, Some(&uid))?;
        next.user_principal_name = upn.to_string();
    }
    if let Some(v) = body.get("accountEnabled") {
        next.account_enabled = v
            .as_bool()
            .ok_or_else(|| GraphError::invalid_value("accountEnabled"))?;
    }
    if body.contains_key("displayName") {
        next.display_name = str_field(body, "displayName")?
            .filter(|s| !s.trim().is_empty())
            .ok_or_else(|| GraphError::invalid_value("displayName"))?
            .to_string();
    }
    if body.contains_key("mailNickname") {
        next.mail_nickname = str_field(body, "mailNickname")?
            .filter(|s| !s.trim().is_empty())
            .ok_or_else(|| GraphError::invalid_value("mailNickname"))?
            .to_string();
    }
    if matches!(body.get("usageLocation"), Some(Value::Null)) && current.usage_location.is_some() {
        return Err(GraphError::invalid_value("usageLocation"));
    }
    if body.contains_key("onPremisesImmutableId") {
        let v = str_field(body, "onPremisesImmutableId")?;
        if v != current.on_premises_immutable_id.as_deref() {
            let federated = st
                .domain(&current.upn_domain())
                .is_some_and(|d| d.authentication_type == "Federated");
            if federated {
                return Err(GraphError::bad_request(
                    "Property onPremisesImmutableId cannot be changed for a user in a federated domain.",
                ));
            }
            if let Some(v) = v {
                check_immutable_id(&st, v, Some(&uid))?;
            }
            next.on_premises_immutable_id = v.map(str::to_string);
        }
    }
    if let Some(profile) = body.get("passwordProfile") {
        let password = profile
            .get("password")
            .and_then(Value::as_str)
            .ok_or_else(|| GraphError::invalid_value("passwordProfile"))?;
        if !complex_password(password) {
            return Err(GraphError::bad_request(
                "The specified password does not comply with password complexity requirements. Please provide a different password.",
            ));
        }
        next.password = Some(password.to_string());
    }
    apply_common(&mut next, body)?;
    st.modify_user(&uid, |u| *u = next);
    Ok(GraphResponse::no_content())
}

pub fn delete(sh: &Shared, id: &str) -> GraphResult {
    let mut st = crate::lock(&sh.state);
    let uid = resolve(&st, id)?;
    if st
        .users
        .get(&uid)
        .is_some_and(|u| u.on_premises_sync_enabled)
    {
        drop(st);
        sh.count_mastered_refusal();
        return Err(mastered_on_premises());
    }
    st.soft_delete_user(&uid);
    Ok(GraphResponse::no_content())
}

fn deleted_json(u: &User, select: Option<&[String]>) -> Value {
    let mut v = render::user_selected(u, select);
    if let Value::Object(m) = &mut v {
        m.insert("@odata.type".into(), json!("#microsoft.graph.user"));
        if select.is_none_or(|s| s.iter().any(|p| p == "deletedDateTime")) {
            m.insert("deletedDateTime".into(), json!(u.deleted_date_time));
        }
    }
    v
}

/// `GET /directory/deletedItems/microsoft.graph.user`: soft-deleted users with `$select`, paged
/// by `$top` (default 100, at most 999) with an `@odata.nextLink`, as Graph pages them.
pub fn list_deleted(sh: &Shared, req: &GraphRequest) -> GraphResult {
    let select = user_select(req)?;
    let top = req.query.top()?.unwrap_or(DEFAULT_PAGE);
    let after = match req.query.get("$skiptoken") {
        Some(t) => Some(decode_skiptoken(t)?),
        None => None,
    };
    let start = match after {
        Some(t) => std::ops::Bound::Excluded(t.id),
        None => std::ops::Bound::Unbounded,
    };
    let st = crate::lock(&sh.state);
    let mut rest = st.deleted.range((start, std::ops::Bound::Unbounded));
    let page: Vec<(&String, &User)> = rest.by_ref().take(top).collect();
    let more = rest.next().is_some();
    let value: Vec<Value> = page
        .iter()
        .map(|(_, u)| deleted_json(u, select.as_deref()))
        .collect();
    let last = page.last().map(|(id, _)| (*id).clone());
    drop(st);
    let path = "/directory/deletedItems/microsoft.graph.user";
    let mut body = Map::new();
    body.insert(
        "@odata.context".into(),
        json!(context(sh, "directory/deletedItems/microsoft.graph.user")),
    );
    if more && let Some(id) = last {
        let token = encode_skiptoken(&SkipToken { id, key: None });
        let link = req.query.link(
            &format!("{}/v1.0", sh.base_url),
            path,
            ("$skiptoken", &token),
        );
        body.insert("@odata.nextLink".into(), json!(link));
    }
    body.insert("value".into(), Value::Array(value));
    Ok(GraphResponse::ok(Value::Object(body)))
}

pub fn get_deleted(sh: &Shared, id: &str) -> GraphResult {
    let st = crate::lock(&sh.state);
    let u = st
        .deleted
        .get(id)
        .ok_or_else(|| GraphError::not_found(id))?;
    Ok(GraphResponse::ok(deleted_json(u, None)))
}

pub fn purge_deleted(sh: &Shared, id: &str) -> GraphResult {
    let mut st = crate::lock(&sh.state);
    if st.hard_delete_user(id) {
        Ok(GraphResponse::no_content())
    } else {
        Err(GraphError::not_found(id))
    }
}

pub fn restore(sh: &Shared, id: &str) -> GraphResult {
    let mut st = crate::lock(&sh.state);
    match st.restore_user(id) {
        Ok(Some(u)) => {
            sh.lag_created(&u.id);
            let mut v = render::user_selected(&u, None);
            if let Value::Object(m) = &mut v {
                m.insert("@odata.type".into(), json!("#microsoft.graph.user"));
            }
            Ok(GraphResponse::ok(v))
        }
        Ok(None) => Err(GraphError::not_found(id)),
        Err(_) => Err(GraphError::conflict("userPrincipalName")),
    }
}

/// The user a `manager/$ref` body names (`{"@odata.id": "<graph>/v1.0/users/{id}"}` or
/// `…/directoryObjects/{id}`): a live user's id, 404 when there is none.
fn manager_of_body(
    sh: &Shared,
    st: &TenantState,
    req: &GraphRequest,
) -> Result<String, GraphError> {
    let body = req.object()?;
    let url = body
        .get("@odata.id")
        .and_then(Value::as_str)
        .ok_or_else(|| GraphError::bad_request("Invalid value for '@odata.id'."))?;
    let id = super::reference_id(sh, url)?;
    st.users
        .contains_key(&id)
        .then_some(id.clone())
        .ok_or_else(|| GraphError::not_found(&id))
}

/// `PUT /users/{id}/manager/$ref`: assigns the user's manager (204).
pub fn set_manager(sh: &Shared, req: &GraphRequest, id: &str) -> GraphResult {
    let mut st = crate::lock(&sh.state);
    let uid = resolve(&st, id)?;
    let manager = manager_of_body(sh, &st, req)?;
    if manager == uid {
        // Invented message: Graph refuses a user as its own manager.
        return Err(GraphError::bad_request(
            "Invalid reference: a user cannot be its own manager.",
        ));
    }
    if st
        .users
        .get(&uid)
        .is_some_and(|u| u.on_premises_sync_enabled)
    {
        drop(st);
        sh.count_mastered_refusal();
        return Err(mastered_on_premises());
    }
    st.set_manager(&uid, Some(manager));
    Ok(GraphResponse::no_content())
}

/// `DELETE /users/{id}/manager/$ref`: removes the user's manager (204; 404 when it has none).
pub fn remove_manager(sh: &Shared, id: &str) -> GraphResult {
    let mut st = crate::lock(&sh.state);
    let uid = resolve(&st, id)?;
    if st.users.get(&uid).is_none_or(|u| u.manager.is_none()) {
        return Err(GraphError::not_found("manager"));
    }
    if st
        .users
        .get(&uid)
        .is_some_and(|u| u.on_premises_sync_enabled)
    {
        drop(st);
        sh.count_mastered_refusal();
        return Err(mastered_on_premises());
    }
    st.set_manager(&uid, None);
    Ok(GraphResponse::no_content())
}

/// The manager of a user, or 404 when it has none.
fn manager_user(st: &TenantState, id: &str) -> Result<User, GraphError> {
    let uid = resolve(st, id)?;
    st.users
        .get(&uid)
        .and_then(|u| u.manager.as_deref())
        .and_then(|m| st.users.get(m))
        .cloned()
        .ok_or_else(|| GraphError::not_found("manager"))
}

/// `GET /users/{id}/manager`: the manager as a `directoryObject` (a user).
pub fn get_manager(sh: &Shared, id: &str) -> GraphResult {
    let manager = manager_user(&crate::lock(&sh.state), id)?;
    let mut out = Map::new();
    out.insert(
        "@odata.context".into(),
        json!(context(sh, "directoryObjects/$entity")),
    );
    out.insert("@odata.type".into(), json!("#microsoft.graph.user"));
    if let Value::Object(m) = render::user_selected(&manager, None) {
        out.extend(m);
    }
    Ok(GraphResponse::ok(Value::Object(out)))
}

/// `GET /users/{id}/manager/$ref`: the manager's reference.
pub fn get_manager_ref(sh: &Shared, id: &str) -> GraphResult {
    let manager = manager_user(&crate::lock(&sh.state), id)?;
    Ok(GraphResponse::ok(json!({
        "@odata.context": context(sh, "directoryObjects/$ref"),
        "@odata.id": format!("{}/v1.0/directoryObjects/{}", sh.base_url, manager.id),
    })))
}
