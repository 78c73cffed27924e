//! `POST /$batch`: JSON batching (notes §5). Requests run in order, one at a time, through the
//! same dispatcher (so each counts against throttling); `dependsOn` on a failed request → 424.

use std::collections::HashMap;

use serde_json::{Value, json};

use super::{Ctx, GraphRequest, GraphResponse, dispatch, error_response};
use crate::Shared;
use crate::error::GraphError;
use crate::odata::Query;

const MAX_REQUESTS: usize = 20;

pub fn handle(sh: &Shared, req: &GraphRequest, ctx: &Ctx) -> GraphResponse {
    let resp = match run(sh, req, ctx) {
        Ok(v) => GraphResponse::ok(v),
        Err(e) => error_response(&e, ctx),
    };
    crate::lock(&sh.stats).record("POST", "/$batch", resp.status);
    resp
}

fn bad(message: &str) -> GraphError {
    GraphError::new(400, "BadRequest", message)
}

fn run(sh: &Shared, req: &GraphRequest, ctx: &Ctx) -> Result<Value, GraphError> {
    if req.method != "POST" {
        return Err(GraphError::method_not_allowed());
    }
    let requests = req
        .body
        .as_ref()
        .and_then(|b| b.get("requests"))
        .and_then(Value::as_array)
        .ok_or_else(|| bad("Invalid batch payload format."))?;
    // Messages of the envelope errors are invented (not captured from Graph).
    if requests.len() > MAX_REQUESTS {
        return Err(bad(&format!(
            "Number of requests in the batch exceeds the limit of {MAX_REQUESTS}."
        )));
    }
    let mut ids: Vec<String> = Vec::new();
    for r in requests {
        let id = match r.get("id") {
            Some(Value::String(s)) => s.clone(),
            Some(Value::Number(n)) => n.to_string(),
            _ => return Err(bad("Each request in the batch must have an id.")),
        };
        if ids.iter().any(|x| x.eq_ignore_ascii_case(&id)) {
            return Err(bad(&format!(
                "Request id '{id}' is not unique in the batch."
            )));
        }
        if r.get("method").and_then(Value::as_str).is_none()
            || r.get("url").and_then(Value::as_str).is_none()
        {
            return Err(bad(&format!(
                "Request '{id}' must have a method and a url."
            )));
        }
        for dep in depends_on(r) {
            if !ids.iter().any(|x| x.eq_ignore_ascii_case(&dep)) {
                return Err(bad(&format!(
                    "Request '{id}' depends on '{dep}', which is not an earlier request in the batch."
                )));
            }
        }
        ids.push(id);
    }
    let mut statuses: HashMap<String, u16> = HashMap::new();
    let mut responses = Vec::new();
    for (r, id) in requests.iter().zip(ids) {
        let failed_dep = depends_on(r).into_iter().find(|d| {
            statuses
                .iter()
                .any(|(k, s)| k.eq_ignore_ascii_case(d) && !(200..300).contains(s))
        });
        let inner_ctx = Ctx {
            request_id: crate::util::new_guid(),
            client_request_id: ctx.client_request_id.clone(),
            lose_response: ctx.lose_response.clone(),
        };
        let resp = match failed_dep {
            Some(dep) => {
                let e = GraphError::new(
                    424,
                    "FailedDependency",
                    format!("The request depends on request '{dep}', which failed."),
                );
                error_response(&e, &inner_ctx)
            }
            None => run_one(sh, req, r, &inner_ctx),
        };
        statuses.insert(id.to_ascii_lowercase(), resp.status);
        let mut headers = serde_json::Map::new();
        if resp.plain_text {
            headers.insert("Content-Type".into(), json!("text/plain;charset=utf-8"));
        } else if resp.body.is_some() {
            headers.insert(
                "Content-Type".into(),
                json!("application/json;odata.metadata=minimal;odata.streaming=true;IEEE754Compatible=false;charset=utf-8"),
            );
        }
        headers.insert("request-id".into(), json!(inner_ctx.request_id));
        headers.insert(
            "client-request-id".into(),
            json!(inner_ctx.client_request_id),
        );
        for (k, v) in resp.headers {
            let name = match k.as_str() {
                "retry-after" => "Retry-After".to_string(),
                "location" => "Location".to_string(),
                _ => k,
            };
            headers.insert(name, json!(v));
        }
        let mut item = json!({"id": id, "status": resp.status, "headers": headers});
        if let Some(body) = resp.body {
            item["body"] = body;
        }
        responses.push(item);
    }
    Ok(json!({ "responses": responses }))
}

fn depends_on(r: &Value) -> Vec<String> {
    r.get("dependsOn")
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(|d| match d {
                    Value::String(s) => Some(s.clone()),
                    Value::Number(n) => Some(n.to_string()),
                    _ => None,
                })
                .collect()
        })
        .unwrap_or_default()
}

fn run_one(sh: &Shared, outer: &GraphRequest, r: &Value, ctx: &Ctx) -> GraphResponse {
    let method = r["method"]
        .as_str()
        .unwrap_or_default()
        .to_ascii_uppercase();
    let url = r["url"].as_str().unwrap_or_default();
    if url.contains("://") {
        let e = GraphError::bad_request("The batch request url must be relative.");
        return error_response(&e, ctx);
    }
    // Graph resolves the url against `/v1.0/`: a `/v1.0/` prefix inside it is an unknown
    // segment ("Resource not found for the segment 'v1.0'."), as in Graph.
    let url = url.trim_start_matches('/');
    let (path, query) = match url.split_once('?') {
        Some((p, q)) => (p, Some(q)),
        None => (url, None),
    };
    let headers = r.get("headers").and_then(Value::as_object);
    let consistency_eventual = headers.is_some_and(|h| {
        h.iter().any(|(k, v)| {
            k.eq_ignore_ascii_case("consistencylevel")
                && v.as_str()
                    .is_some_and(|v| v.eq_ignore_ascii_case("eventual"))
        })
    });
    let inner = GraphRequest {
        method,
        path: format!("/{path}"),
        query: Query::parse(query),
        consistency_eventual,
        body: r.get("body").cloned(),
        app_id: outer.app_id.clone(),
    };
    if inner.path == "/$batch" {
        let e = GraphError::bad_request("Nested batch requests are not supported.");
        return error_response(&e, ctx);
    }
    // Forced faults (error / throttle / applyThenError) also apply to inner requests.
    let mut after = None;
    if let Some(engine) = sh.faults() {
        let decision = engine.decide(&inner.method, &format!("/v1.0{}", inner.path));
        if let Some(crate::faults::FaultAction::ApplyThenError {
            status,
            retry_after,
        }) = decision.action
        {
            crate::lock(&sh.stats).faults += 1;
            after = super::fault_error(status, retry_after).err();
        }
        let injected = match decision.action {
            Some(crate::faults::FaultAction::Error {
                status,
                retry_after,
            }) => super::fault_error(status, retry_after).err(),
            Some(crate::faults::FaultAction::Throttle { retry_after }) => {
                super::throttled_response(
                    &retry_after.to_string(),
                    "Tenant_Application/ReadWrite/fault-injection",
                    "ResourceUnitLimitExceeded",
                )
                .err()
            }
            Some(crate::faults::FaultAction::LoseResponse) => {
                crate::lock(&sh.stats).faults += 1;
                ctx.lose_response
                    .store(true, std::sync::atomic::Ordering::Relaxed);
                None
            }
            _ => None,
        };
        if let Some(e) = injected {
            let template = super::template(&inner.method, &inner.path);
            let mut stats = crate::lock(&sh.stats);
            stats.faults += 1;
            stats.record(&inner.method, &template, e.status);
            return error_response(&e, ctx);
        }
    }
    let resp = dispatch(sh, &inner, ctx);
    match after {
        Some(e) => error_response(&e, ctx),
        None => resp,
    }
}
