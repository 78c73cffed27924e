//! `GET /users/delta`: initial round, change tracking, `@removed`, token expiry (410).
//!
//! Tokens are self-contained: base64url JSON with the version range, the last id returned
//! (skip tokens), the `$select` list and the issue time, so expiry needs no server storage.

use std::time::{SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::{GraphRequest, GraphResponse, GraphResult, context};
use crate::Shared;
use crate::error::GraphError;
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
    let select = super::users::user_select(req)?;
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

/// One page of entries after `token.after`, the last id, and whether more remain.
fn collect(st: &TenantState, token: &Token) -> (Vec<Value>, Option<String>, bool) {
    let select = token.select.as_deref();
    let mut entries: Vec<(String, Value)> = Vec::new();
    for (id, user) in &st.users {
        if token.after.as_deref().is_some_and(|a| id.as_str() <= a) {
            continue;
        }
        let changed = token.initial
            || st.user_versions.get(id).is_some_and(|v| match select {
                Some(props) => props
                    .iter()
                    .any(|p| v.props.get(p).is_some_and(|ver| *ver > token.since)),
                None => v.last > token.since,
            });
        if changed {
            entries.push((id.clone(), render::user_selected(user, select)));
        }
    }
    if !token.initial {
        // The latest removal of each id still removed (a restored user appears as a user).
        let mut removed: std::collections::BTreeMap<&str, RemovalReason> = Default::default();
        for (version, id, reason) in &st.removals {
            if *version > token.since
                && *version <= token.upto
                && !st.users.contains_key(id)
                && token.after.as_deref().is_none_or(|a| id.as_str() > a)
            {
                removed.insert(id.as_str(), *reason);
            }
        }
        for (id, reason) in removed {
            let reason = match reason {
                RemovalReason::Changed => "changed",
                RemovalReason::Deleted => "deleted",
            };
            entries.push((
                id.to_string(),
                json!({"id": id, "@removed": {"reason": reason}}),
            ));
        }
    }
    entries.sort_by(|a, b| a.0.cmp(&b.0));
    let more = entries.len() > PAGE;
    entries.truncate(PAGE);
    let last = entries.last().map(|e| e.0.clone());
    (entries.into_iter().map(|e| e.1).collect(), last, more)
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
