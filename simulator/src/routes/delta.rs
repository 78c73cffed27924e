//! `GET /users/delta`: initial round, change tracking, `@removed`, token expiry (410).
//!
//! Tokens are self-contained: base64url JSON with the version range, the last id returned
//! (skip tokens), the `$select` list and the issue time, so expiry needs no server storage.

use std::collections::BTreeMap;
use std::ops::Bound;
use std::time::{SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::{GraphRequest, GraphResponse, GraphResult, context};
use crate::Shared;
use crate::error::GraphError;
use crate::model::User;
use crate::render;
use crate::state::{RemovalReason, TenantState};

const PAGE: usize = 100;

#[derive(Debug, Clone, Serialize, Deserialize)]
struct Token {
    /// Changes after this version (0 with `initial`: every user).
    since: u64,
    /// Changes up to this version; the next deltaLink starts here.
    upto: u64,
    initial: bool,
    /// Last id returned (skip tokens only).
    #[serde(default)]
    after: Option<String>,
    #[serde(default)]
    select: Option<Vec<String>>,
    /// Issue time, ms since the Unix epoch.
    issued: u128,
}

fn now_ms() -> u128 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis())
        .unwrap_or_default()
}

fn encode(t: &Token) -> String {
    let json = serde_json::to_vec(t).unwrap_or_default();
    format!("s1.{}", crate::util::b64url_encode(&json))
}

fn decode(s: &str) -> Option<Token> {
    let b = crate::util::b64url_decode(s.strip_prefix("s1.")?)?;
    serde_json::from_slice(&b).ok()
}

/// The `$select` of a users delta: the user's properties and the `manager` relationship
/// (user-delta.md: "`$select=manager` is supported"), reported as `manager@delta`.
fn delta_select(req: &GraphRequest) -> Result<Option<Vec<String>>, GraphError> {
    let Some(select) = req.query.select() else {
        return Ok(None);
    };
    for p in &select {
        if p != "manager" && !render::USER_SCHEMA_PROPERTIES.contains(&p.as_str()) {
            return Err(GraphError::bad_request(format!(
                "Could not find a property named '{p}' on type 'microsoft.graph.user'."
            )));
        }
    }
    Ok(Some(select))
}

/// A user as a delta entry. With `manager` selected: `manager@delta` names the manager, or,
/// in a later round (`since`), the manager removed since then with `@removed`.
fn delta_user(st: &TenantState, u: &User, select: Option<&[String]>, since: Option<u64>) -> Value {
    let mut v = render::user_selected(u, select);
    let Value::Object(m) = &mut v else {
        return v;
    };
    m.remove("manager");
    if !select.is_some_and(|s| s.iter().any(|p| p == "manager")) {
        return v;
    }
    let removed_since = |since: u64| {
        st.user_versions
            .get(&u.id)
            .and_then(|versions| versions.props.get("manager"))
            .is_some_and(|changed| *changed > since)
    };
    let entry = match (&u.manager, &u.previous_manager, since) {
        (Some(id), _, _) => json!({"@odata.type": "#microsoft.graph.user", "id": id}),
        (None, Some(old), Some(since)) if removed_since(since) => json!({
            "@odata.type": "#microsoft.graph.user",
            "id": old,
            "@removed": {"reason": "deleted"},
        }),
        _ => return v,
    };
    m.insert("manager@delta".into(), json!([entry]));
    v
}

fn gone(sh: &Shared, select: Option<&[String]>) -> GraphError {
    let mut location = format!("{}/v1.0/users/delta?", sh.base_url);
    if let Some(s) = select {
        location.push_str(&format!("$select={}&", s.join(",")));
    }
    location.push_str("$deltatoken=");
    GraphError::new(
        410,
        "resyncRequired",
        "The delta token is expired or not valid. Start a new synchronization from the URL in the Location header.",
    )
    .with_header("location", location)
}

pub fn users_delta(sh: &Shared, req: &GraphRequest) -> GraphResult {
    let lifetime = sh.config.delta_token_lifetime.as_millis();
    let select = delta_select(req)?;
    let skip = req.query.get("$skiptoken").filter(|t| !t.is_empty());
    let is_delta_token = skip.is_none();
    let token_param = skip.or_else(|| req.query.get("$deltatoken").filter(|t| !t.is_empty()));
    let st = crate::lock(&sh.state);
    let token = match token_param {
        Some(t) if t.eq_ignore_ascii_case("latest") => {
            let latest = Token {
                since: st.version,
                upto: st.version,
                initial: false,
                after: None,
                select,
                issued: now_ms(),
            };
            drop(st);
            return Ok(delta_page(sh, Vec::new(), None, &latest));
        }
        Some(t) => {
            let tok = decode(t).ok_or_else(|| gone(sh, select.as_deref()))?;
            if now_ms().saturating_sub(tok.issued) > lifetime || tok.upto > st.version {
                return Err(gone(sh, tok.select.as_deref()));
            }
            if is_delta_token {
                // A new round: everything changed since the last one, up to now.
                Token {
                    upto: st.version,
                    after: None,
                    ..tok
                }
            } else {
                tok
            }
        }
        None => Token {
            since: 0,
            upto: st.version,
            initial: true,
            after: None,
            select,
            issued: now_ms(),
        },
    };
    let (items, last, more) = collect(&st, &token);
    drop(st);
    let next = more.then(|| Token {
        after: last,
        issued: now_ms(),
        ..token.clone()
    });
    Ok(delta_page(sh, items, next, &token))
}

/// One page of entries after `token.after`, the last id, and whether more remain. Costs
/// O(page) in the initial round (users are kept in id order) and O(changes since the token)
/// in later rounds, never O(tenant): only the entries of the page are rendered.
fn collect(st: &TenantState, token: &Token) -> (Vec<Value>, Option<String>, bool) {
    let select = token.select.as_deref();
    let start = match &token.after {
        Some(a) => Bound::Excluded(a.clone()),
        None => Bound::Unbounded,
    };
    if token.initial {
        let mut rest = st.users.range((start, Bound::Unbounded));
        let page: Vec<(&String, &User)> = rest.by_ref().take(PAGE).collect();
        let more = rest.next().is_some();
        let last = page.last().map(|(id, _)| (*id).clone());
        let items = page
            .into_iter()
            .map(|(_, u)| delta_user(st, u, select, None))
            .collect();
        return (items, last, more);
    }
    let past = |id: &str| token.after.as_deref().is_none_or(|a| id > a);
    // Users changed since the token, by id.
    let mut entries: BTreeMap<&str, Entry<'_>> = BTreeMap::new();
    for id in st
        .by_version
        .range((Bound::Excluded(token.since), Bound::Unbounded))
        .map(|(_, id)| id)
    {
        if past(id)
            && let (Some(user), Some(v)) = (st.users.get(id), st.user_versions.get(id))
            && v.changed_since(token.since, select)
        {
            entries.insert(id, Entry::User(user));
        }
    }
    // The latest removal of each id still removed (a restored user appears as a user).
    let first = st.removals.partition_point(|(v, _, _)| *v <= token.since);
    for (version, id, reason) in &st.removals[first..] {
        if *version > token.upto {
            break;
        }
        if past(id) && !st.users.contains_key(id) {
            entries.insert(id, Entry::Removed(*reason));
        }
    }
    let more = entries.len() > PAGE;
    let page: Vec<(&str, Entry<'_>)> = entries.into_iter().take(PAGE).collect();
    let last = page.last().map(|(id, _)| (*id).to_string());
    let items = page
        .into_iter()
        .map(|(id, entry)| match entry {
            Entry::User(u) => delta_user(st, u, select, Some(token.since)),
            Entry::Removed(reason) => {
                let reason = match reason {
                    RemovalReason::Changed => "changed",
                    RemovalReason::Deleted => "deleted",
                };
                json!({"id": id, "@removed": {"reason": reason}})
            }
        })
        .collect();
    (items, last, more)
}

/// One entry of a later delta round.
enum Entry<'a> {
    User(&'a User),
    Removed(RemovalReason),
}

fn delta_page(sh: &Shared, items: Vec<Value>, next: Option<Token>, token: &Token) -> GraphResponse {
    let base = format!("{}/v1.0/users/delta", sh.base_url);
    let mut body = serde_json::Map::new();
    body.insert("@odata.context".into(), json!(context(sh, "users")));
    match next {
        Some(n) => {
            body.insert(
                "@odata.nextLink".into(),
                json!(format!("{base}?$skiptoken={}", encode(&n))),
            );
        }
        None => {
            let d = Token {
                since: token.upto,
                upto: token.upto,
                initial: false,
                after: None,
                select: token.select.clone(),
                issued: now_ms(),
            };
            body.insert(
                "@odata.deltaLink".into(),
                json!(format!("{base}?$deltatoken={}", encode(&d))),
            );
        }
    }
    body.insert("value".into(), Value::Array(items));
    GraphResponse::ok(Value::Object(body))
}
