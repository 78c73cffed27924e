//! Graph v1.0 request routing. Both the HTTP handler and `$batch` call [`dispatch`], so every
//! request (inner batch requests included) is routed, throttled and counted the same way.

pub mod batch;
mod delta;
mod domains;
mod groups;
mod licenses;
mod roles;
mod users;

use std::time::Instant;

use axum::http::HeaderMap;
use serde_json::{Value, json};

use crate::Shared;
use crate::error::GraphError;
use crate::odata::Query;
use crate::throttle;

/// Ids of one HTTP request.
#[derive(Debug, Clone)]
pub struct Ctx {
    pub request_id: String,
    pub client_request_id: String,
    /// Set by a `loseResponse` fault on an inner `$batch` request: the envelope is served and
    /// its response is never sent (shared by the envelope and its inner requests).
    pub lose_response: std::sync::Arc<std::sync::atomic::AtomicBool>,
}

impl Ctx {
    pub fn new(headers: &HeaderMap) -> Ctx {
        let request_id = crate::util::new_guid();
        let client_request_id = headers
            .get("client-request-id")
            .and_then(|v| v.to_str().ok())
            .map_or_else(|| request_id.clone(), str::to_string);
        Ctx {
            request_id,
            client_request_id,
            lose_response: Default::default(),
        }
    }
}

/// A Graph request after authentication (also an inner `$batch` request).
#[derive(Debug, Clone)]
pub struct GraphRequest {
    pub method: String,
    /// Path after `/v1.0`, still percent-encoded, e.g. `/users/a%40b.com`.
    pub path: String,
    pub query: Query,
    pub consistency_eventual: bool,
    pub body: Option<Value>,
    pub app_id: String,
}

impl GraphRequest {
    /// The JSON object body, or 400.
    pub fn object(&self) -> Result<&serde_json::Map<String, Value>, GraphError> {
        match &self.body {
            Some(Value::Object(m)) => Ok(m),
            _ => Err(GraphError::new(
                400,
                "BadRequest",
                "Empty Payload. JSON content expected.",
            )),
        }
    }
}

#[derive(Debug, Clone)]
pub struct GraphResponse {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Option<Value>,
    /// The body is a `Value::String` sent as `text/plain` (e.g. `/users/$count`).
    pub plain_text: bool,
}

impl GraphResponse {
    pub fn ok(body: Value) -> Self {
        GraphResponse {
            status: 200,
            headers: Vec::new(),
            body: Some(body),
            plain_text: false,
        }
    }

    pub fn created(body: Value) -> Self {
        GraphResponse {
            status: 201,
            headers: Vec::new(),
            body: Some(body),
            plain_text: false,
        }
    }

    /// A `text/plain` body (`/users/$count`).
    pub fn text(text: String) -> Self {
        GraphResponse {
            status: 200,
            headers: Vec::new(),
            body: Some(Value::String(text)),
            plain_text: true,
        }
    }

    pub fn no_content() -> Self {
        GraphResponse {
            status: 204,
            headers: Vec::new(),
            body: None,
            plain_text: false,
        }
    }
}

pub type GraphResult = Result<GraphResponse, GraphError>;

pub fn error_response(e: &GraphError, ctx: &Ctx) -> GraphResponse {
    let mut resp = GraphResponse {
        status: e.status,
        headers: e.headers.clone(),
        body: Some(e.body(&ctx.request_id, &ctx.client_request_id)),
        plain_text: false,
    };
    decorate_429(&mut resp);
    resp
}

/// An injected 500/503/504 (codes and messages invented; see README).
pub fn fault_error(status: u16, retry_after: Option<u64>) -> GraphResult {
    let (code, message) = match status {
        503 => (
            "serviceNotAvailable",
            "The service is temporarily unavailable. Please retry later.",
        ),
        504 => ("GatewayTimeout", "The request timed out."),
        // What a replica that has not seen a new object yet answers (replication lag).
        404 => (
            "Request_ResourceNotFound",
            "Resource does not exist or one of its queried reference-property objects are not present.",
        ),
        _ => ("UnknownError", "An internal server error occurred."),
    };
    let mut e = GraphError::new(status, code, message);
    if let Some(r) = retry_after {
        e = e.with_header("retry-after", r.to_string());
    }
    Err(e)
}

/// A 429 with the body of notes §6.3 and the throttle headers.
pub fn throttled_response(retry_after: &str, scope: &str, information: &str) -> GraphResult {
    Err(
        GraphError::new(429, "TooManyRequests", "Please retry again later.")
            .with_header("retry-after", retry_after)
            .with_header("x-ms-throttle-scope", scope)
            .with_header("x-ms-throttle-information", information),
    )
}

/// The §6.3 body has extra `innerError` fields; add them.
fn decorate_429(resp: &mut GraphResponse) {
    if resp.status == 429
        && let Some(inner) = resp
            .body
            .as_mut()
            .and_then(|b| b.pointer_mut("/error/innerError"))
            .and_then(Value::as_object_mut)
    {
        inner.insert("code".into(), json!("429"));
        inner.insert("message".into(), json!("Please retry after"));
        inner.insert("status".into(), json!("429"));
    }
}

/// The object id a directory-object reference names (`members@odata.bind`, a `$ref` body's
/// `@odata.id`): `<graph>/v1.0/directoryObjects/{id}`, `…/users/{id}` or the `(…)` key forms,
/// lower case. A reference must be on this service's own Graph endpoint: one on another
/// cloud's host (say the public cloud's, sent to a national cloud) is refused.
pub fn reference_id(sh: &Shared, url: &str) -> Result<String, GraphError> {
    // Invented message; Graph answers a reference it cannot resolve with a 400.
    let invalid = || GraphError::bad_request(format!("Invalid object identifier '{url}'."));
    let path = url
        .strip_prefix(sh.base_url.as_str())
        .and_then(|p| {
            p.strip_prefix("/v1.0/")
                .or_else(|| p.strip_prefix("/beta/"))
        })
        .ok_or_else(invalid)?;
    let id = match path
        .trim_end_matches('/')
        .split('/')
        .collect::<Vec<_>>()
        .as_slice()
    {
        ["directoryObjects" | "users", id] | ["directoryObjects", id, _] => (*id).to_string(),
        [key] => key
            .strip_prefix("directoryObjects(")
            .or_else(|| key.strip_prefix("users("))
            .map(|s| s.trim_end_matches(')').trim_matches('\'').to_string())
            .ok_or_else(invalid)?,
        _ => return Err(invalid()),
    };
    if id.is_empty() {
        return Err(invalid());
    }
    Ok(id.to_ascii_lowercase())
}

pub fn context(sh: &Shared, fragment: &str) -> String {
    format!("{}/v1.0/$metadata#{fragment}", sh.base_url)
}

/// A matched Graph path.
#[derive(Debug, Clone, PartialEq)]
pub enum Route {
    Users,
    UsersCount,
    UsersDelta,
    User(String),
    UserAssignLicense(String),
    UserLicenseDetails(String),
    UserRevokeSessions(String),
    UserManager(String),
    UserManagerRef(String),
    Domains,
    Domain(String),
    Federations(String),
    Federation(String, String),
    Skus,
    Sku(String),
    Roles,
    /// Role by object id, or `template:<roleTemplateId>`.
    Role(String),
    RoleMembers(String),
    DeletedUsers,
    DeletedItem(String),
    DeletedItemRestore(String),
    Organization,
    Groups,
    Group(String),
    GroupMembers(String),
    GroupMembersRef(String),
    GroupMemberRef(String, String),
    GroupAssignLicense(String),
    GroupMembersWithLicenseErrors(String),
    Batch,
}

fn decode(seg: &str) -> String {
    percent_encoding::percent_decode_str(seg)
        .decode_utf8_lossy()
        .into_owned()
}

fn role_key(seg: &str) -> Option<String> {
    let rest = seg.strip_prefix("directoryRoles(roleTemplateId=")?;
    let inner = rest.strip_suffix(')')?.trim_matches('\'');
    Some(format!("template:{inner}"))
}

/// Matches a path to a route and its template (the stats / throttling key).
pub fn match_route(path: &str) -> Result<(Route, &'static str), GraphError> {
    let segs: Vec<String> = path
        .split('/')
        .filter(|s| !s.is_empty())
        .map(decode)
        .collect();
    let s: Vec<&str> = segs.iter().map(String::as_str).collect();
    let own = |x: &str| x.to_string();
    let r = match s.as_slice() {
        ["users"] => (Route::Users, "/users"),
        ["users", "$count"] => (Route::UsersCount, "/users/$count"),
        ["users", "delta" | "delta()" | "microsoft.graph.delta()"] => {
            (Route::UsersDelta, "/users/delta")
        }
        ["users", id] => (Route::User(own(id)), "/users/{id}"),
        [
            "users",
            id,
            "assignLicense" | "microsoft.graph.assignLicense",
        ] => (
            Route::UserAssignLicense(own(id)),
            "/users/{id}/assignLicense",
        ),
        [
            "users",
            id,
            "revokeSignInSessions" | "microsoft.graph.revokeSignInSessions",
        ] => (
            Route::UserRevokeSessions(own(id)),
            "/users/{id}/revokeSignInSessions",
        ),
        ["users", id, "manager"] => (Route::UserManager(own(id)), "/users/{id}/manager"),
        ["users", id, "manager", "$ref"] => {
            (Route::UserManagerRef(own(id)), "/users/{id}/manager/$ref")
        }
        ["users", id, "licenseDetails"] => (
            Route::UserLicenseDetails(own(id)),
            "/users/{id}/licenseDetails",
        ),
        ["domains"] => (Route::Domains, "/domains"),
        ["domains", id] => (Route::Domain(own(id)), "/domains/{id}"),
        ["domains", id, "federationConfiguration"] => (
            Route::Federations(own(id)),
            "/domains/{id}/federationConfiguration",
        ),
        ["domains", id, "federationConfiguration", fid] => (
            Route::Federation(own(id), own(fid)),
            "/domains/{id}/federationConfiguration/{id}",
        ),
        ["subscribedSkus"] => (Route::Skus, "/subscribedSkus"),
        ["subscribedSkus", id] => (Route::Sku(own(id)), "/subscribedSkus/{id}"),
        ["directoryRoles"] => (Route::Roles, "/directoryRoles"),
        ["directoryRoles", id] => (Route::Role(own(id)), "/directoryRoles/{id}"),
        ["directoryRoles", id, "members"] => {
            (Route::RoleMembers(own(id)), "/directoryRoles/{id}/members")
        }
        [seg] if role_key(seg).is_some() => (
            Route::Role(role_key(seg).unwrap_or_default()),
            "/directoryRoles/{id}",
        ),
        [seg, "members"] if role_key(seg).is_some() => (
            Route::RoleMembers(role_key(seg).unwrap_or_default()),
            "/directoryRoles/{id}/members",
        ),
        ["directory", "deletedItems", "microsoft.graph.user"] => (
            Route::DeletedUsers,
            "/directory/deletedItems/microsoft.graph.user",
        ),
        ["directory", "deletedItems", id] => {
            (Route::DeletedItem(own(id)), "/directory/deletedItems/{id}")
        }
        [
            "directory",
            "deletedItems",
            id,
            "restore" | "microsoft.graph.restore",
        ] => (
            Route::DeletedItemRestore(own(id)),
            "/directory/deletedItems/{id}/restore",
        ),
        ["organization"] => (Route::Organization, "/organization"),
        ["groups"] => (Route::Groups, "/groups"),
        ["groups", id] => (Route::Group(own(id)), "/groups/{id}"),
        ["groups", id, "members"] => (Route::GroupMembers(own(id)), "/groups/{id}/members"),
        ["groups", id, "members", "$ref"] => {
            (Route::GroupMembersRef(own(id)), "/groups/{id}/members/$ref")
        }
        ["groups", id, "members", member, "$ref"] => (
            Route::GroupMemberRef(own(id), own(member)),
            "/groups/{id}/members/{id}/$ref",
        ),
        [
            "groups",
            id,
            "assignLicense" | "microsoft.graph.assignLicense",
        ] => (
            Route::GroupAssignLicense(own(id)),
            "/groups/{id}/assignLicense",
        ),
        ["groups", id, "membersWithLicenseErrors"] => (
            Route::GroupMembersWithLicenseErrors(own(id)),
            "/groups/{id}/membersWithLicenseErrors",
        ),
        ["$batch"] => (Route::Batch, "/$batch"),
        _ => {
            let known = [
                "users",
                "domains",
                "subscribedSkus",
                "directoryRoles",
                "directory",
                "organization",
                "groups",
            ];
            let bad = match s.first() {
                Some(f) if !known.contains(f) => *f,
                _ => s.last().copied().unwrap_or_default(),
            };
            return Err(GraphError::unknown_segment(bad));
        }
    };
    Ok(r)
}

/// The stats template of a path (`unknown` when it matches no route).
pub fn template(_method: &str, path: &str) -> String {
    match_route(path).map_or_else(|_| "unknown".to_string(), |(_, t)| t.to_string())
}

/// Routes, throttles, executes and counts one Graph request.
pub fn dispatch(sh: &Shared, req: &GraphRequest, ctx: &Ctx) -> GraphResponse {
    {
        let mut st = crate::lock(&sh.state);
        st.purge_expired(sh.config.time_scale, Instant::now());
        st.process_due(Instant::now());
    }
    let (route, template) = match match_route(&req.path) {
        Ok(r) => r,
        Err(e) => {
            crate::lock(&sh.stats).record(&req.method, "unknown", e.status);
            return error_response(&e, ctx);
        }
    };
    // A PATCH binding up to 20 members is one write, as Microsoft's cost table prices every
    // identity write (graph-api-notes §6.2: "POST / PATCH / PUT / DELETE … 1 write"); there is
    // no documented per-member charge.
    let cost = throttle::cost(&req.method, template, &req.query);
    if sh.config.throttling {
        let (tenant_id, users) = {
            let st = crate::lock(&sh.state);
            (st.tenant.id.clone(), st.user_count())
        };
        let verdict =
            crate::lock(&sh.throttle).admit(&req.app_id, &tenant_id, users, cost, Instant::now());
        if let Err(t) = verdict {
            let header = throttle::retry_after_header(t.retry_after);
            let e = throttled_response(&header, &t.scope, t.information)
                .err()
                .unwrap_or_else(|| GraphError::new(429, "TooManyRequests", ""));
            let resp = error_response(&e, ctx);
            crate::lock(&sh.stats).record(&req.method, template, 429);
            return resp;
        }
    }
    if throttle::is_write(&req.method) {
        crate::lock(&sh.stats).writes += u64::from(cost.writes);
    }
    let result = match lagging(sh, req, &route) {
        Some(e) => Err(e),
        None => execute(sh, req, route),
    };
    let mut resp = result.unwrap_or_else(|e| error_response(&e, ctx));
    if resp.status < 400 {
        resp.headers
            .push(("x-ms-resource-unit".into(), cost.ru.to_string()));
    }
    crate::lock(&sh.stats).record(&req.method, template, resp.status);
    resp
}

/// Replication lag: a read, patch or assignLicense of a just-created object may land on a
/// replica that has not seen it yet → the directory's 404.
fn lagging(sh: &Shared, req: &GraphRequest, route: &Route) -> Option<GraphError> {
    sh.lag.as_ref()?;
    let (id, object_id) = match (route, req.method.as_str()) {
        (Route::User(id), "GET" | "PATCH")
        | (Route::UserManagerRef(id), "PUT")
        | (Route::UserAssignLicense(id), "POST")
        | (Route::UserLicenseDetails(id), "GET") => (id, crate::lock(&sh.state).user_id(id)?),
        (Route::Group(id), "GET" | "PATCH")
        | (Route::GroupAssignLicense(id), "POST")
        | (Route::GroupMembersRef(id), "POST")
        | (Route::GroupMembers(id), "GET") => (id, id.to_ascii_lowercase()),
        _ => return None,
    };
    sh.lag_misses(&object_id).then(|| GraphError::not_found(id))
}

fn execute(sh: &Shared, req: &GraphRequest, route: Route) -> GraphResult {
    let m = req.method.as_str();
    match (route, m) {
        (Route::Users, "GET") => users::list(sh, req),
        (Route::Users, "POST") => users::create(sh, req),
        (Route::UsersCount, "GET") => users::count(sh, req),
        (Route::UsersDelta, "GET") => delta::users_delta(sh, req),
        (Route::User(id), "GET") => users::get(sh, req, &id),
        (Route::User(id), "PATCH") => users::update(sh, req, &id),
        (Route::User(id), "DELETE") => users::delete(sh, &id),
        (Route::UserAssignLicense(id), "POST") => licenses::assign(sh, req, &id),
        (Route::UserLicenseDetails(id), "GET") => licenses::details(sh, &id),
        (Route::UserRevokeSessions(id), "POST") => users::revoke_sessions(sh, &id),
        (Route::UserManager(id), "GET") => users::get_manager(sh, &id),
        (Route::UserManagerRef(id), "GET") => users::get_manager_ref(sh, &id),
        (Route::UserManagerRef(id), "PUT") => users::set_manager(sh, req, &id),
        (Route::UserManagerRef(id), "DELETE") => users::remove_manager(sh, &id),
        (Route::Domains, "GET") => domains::list(sh, req),
        (Route::Domain(id), "GET") => domains::get(sh, req, &id),
        (Route::Domain(id), "PATCH") => domains::update(sh, req, &id),
        (Route::Federations(id), "GET") => domains::list_federation(sh, &id),
        (Route::Federations(id), "POST") => domains::create_federation(sh, req, &id),
        (Route::Federation(id, fid), "GET") => domains::get_federation(sh, &id, &fid),
        (Route::Federation(id, fid), "PATCH") => domains::update_federation(sh, req, &id, &fid),
        (Route::Federation(id, fid), "DELETE") => domains::delete_federation(sh, &id, &fid),
        (Route::Skus, "GET") => licenses::list_skus(sh, req),
        (Route::Sku(id), "GET") => licenses::get_sku(sh, req, &id),
        (Route::Roles, "GET") => roles::list(sh),
        (Route::Role(id), "GET") => roles::get(sh, &id),
        (Route::RoleMembers(id), "GET") => roles::members(sh, &id),
        (Route::DeletedUsers, "GET") => users::list_deleted(sh, req),
        (Route::DeletedItem(id), "GET") => users::get_deleted(sh, &id),
        (Route::DeletedItem(id), "DELETE") => users::purge_deleted(sh, &id),
        (Route::DeletedItemRestore(id), "POST") => users::restore(sh, &id),
        (Route::Organization, "GET") => roles::organization(sh),
        (Route::Groups, "GET") => groups::list(sh, req),
        (Route::Groups, "POST") => groups::create(sh, req),
        (Route::Group(id), "GET") => groups::get(sh, req, &id),
        (Route::Group(id), "PATCH") => groups::update(sh, req, &id),
        (Route::Group(id), "DELETE") => groups::delete(sh, &id),
        (Route::GroupMembers(id), "GET") => groups::members(sh, &id),
        (Route::GroupMembersRef(id), "POST") => groups::add_member_ref(sh, req, &id),
        (Route::GroupMemberRef(id, member), "DELETE") => {
            groups::remove_member_ref(sh, &id, &member)
        }
        (Route::GroupAssignLicense(id), "POST") => groups::assign_license(sh, req, &id),
        (Route::GroupMembersWithLicenseErrors(id), "GET") => {
            groups::members_with_license_errors(sh, &id)
        }
        (Route::Batch, _) => Err(GraphError::bad_request(
            "Nested batch requests are not supported.",
        )),
        _ => Err(GraphError::method_not_allowed()),
    }
}
