//! JSON batching (notes §5): any number of requests, sent as envelopes of at most 20 with
//! bounded concurrency, each inner request paced by the rate limiter, throttled items retried
//! after their own `Retry-After`, transient ones with backoff, `dependsOn` honoured.

use std::collections::HashMap;
use std::time::Duration;

use futures::StreamExt;
use futures::stream::FuturesUnordered;
use reqwest::Method;
use serde_json::{Value, json};
use tokio::time::Instant;

use super::client::{GraphClient, Request};
use super::error::{GraphError, classify};
use super::ratelimit::Cost;
use super::retry::{parse_retry_after, retry_after_from_message};
use super::wire;

/// Graph's limit of requests per envelope.
pub const MAX_BATCH: usize = 20;

/// One request of a batch. Built only through its constructors (one builder for every Graph
/// write); its `Debug` shows method and URL, never the body (it may hold a new password).
#[derive(Clone, PartialEq)]
pub struct BatchItem {
    /// Names the item for `depends_on`; may be empty when nothing depends on it. Ids only
    /// need to be unique among the items that are depended on; the client assigns the ids it
    /// sends itself.
    pub id: String,
    /// HTTP method.
    pub method: Method,
    /// Relative to `/v1.0`, e.g. `/users` or `/users/{id}/assignLicense`.
    pub url: String,
    /// JSON body (writes).
    pub body: Option<Value>,
    /// Ids of items that must succeed first.
    pub depends_on: Vec<String>,
}

impl std::fmt::Debug for BatchItem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}", self.method, self.url)
    }
}

impl BatchItem {
    /// An item without body or dependencies.
    pub fn new(method: Method, url: impl Into<String>) -> BatchItem {
        BatchItem {
            id: String::new(),
            method,
            url: url.into(),
            body: None,
            depends_on: Vec::new(),
        }
    }

    /// `GET url`.
    pub fn get(url: impl Into<String>) -> BatchItem {
        BatchItem::new(Method::GET, url)
    }

    /// `POST url` with a JSON body.
    pub fn post(url: impl Into<String>, body: Value) -> BatchItem {
        BatchItem {
            body: Some(body),
            ..BatchItem::new(Method::POST, url)
        }
    }

    /// `PATCH url` with a JSON body.
    pub fn patch(url: impl Into<String>, body: Value) -> BatchItem {
        BatchItem {
            body: Some(body),
            ..BatchItem::new(Method::PATCH, url)
        }
    }

    /// `PUT url` with a JSON body.
    pub fn put(url: impl Into<String>, body: Value) -> BatchItem {
        BatchItem {
            body: Some(body),
            ..BatchItem::new(Method::PUT, url)
        }
    }

    /// `DELETE url`.
    pub fn delete(url: impl Into<String>) -> BatchItem {
        BatchItem::new(Method::DELETE, url)
    }

    /// Sets the id.
    pub fn with_id(mut self, id: impl Into<String>) -> BatchItem {
        self.id = id.into();
        self
    }

    /// Adds a dependency.
    pub fn depends_on(mut self, id: impl Into<String>) -> BatchItem {
        self.depends_on.push(id.into());
        self
    }
}

/// The property names whose values are directory-object references: OData binds
/// (`members@odata.bind`, …) and `@odata.id` (a `$ref` body).
fn is_reference(key: &str) -> bool {
    key == "@odata.id" || key.ends_with("@odata.bind")
}

/// `body` with its directory-object references made absolute on `base` (`<graph>/v1.0`):
/// request builders write them relative to `/v1.0` (`/directoryObjects/{id}`,
/// [`super::calls::directory_object_ref`]) and the client that sends them supplies its own
/// endpoint. References already absolute, and every other property, are left as they are.
pub(crate) fn absolute_refs(body: &Value, base: &str) -> Value {
    let Value::Object(map) = body else {
        return body.clone();
    };
    let absolute = |v: &Value| match v {
        Value::String(s) if s.starts_with('/') => Value::String(format!("{base}{s}")),
        other => other.clone(),
    };
    let out = map
        .iter()
        .map(|(k, v)| {
            let v = match v {
                _ if !is_reference(k) => v.clone(),
                Value::Array(items) => Value::Array(items.iter().map(absolute).collect()),
                v => absolute(v),
            };
            (k.clone(), v)
        })
        .collect();
    Value::Object(out)
}

/// A successful (2xx) response to one item.
#[derive(Debug, Clone, PartialEq)]
pub struct BatchResult {
    /// HTTP status.
    pub status: u16,
    /// JSON body (`Null` when there was none, e.g. 204).
    pub body: Value,
}

/// An item's final outcome with its response headers (for callers inside the module tree).
pub(crate) type RawOutcome = Result<(BatchResult, serde_json::Map<String, Value>), GraphError>;

enum State {
    Pending,
    InFlight,
    Done(RawOutcome),
}

struct Slot {
    item: BatchItem,
    deps: Vec<usize>,
    cost: Cost,
    state: State,
    attempt: u32,
    throttle_waited: Duration,
    not_before: Instant,
}

impl Slot {
    fn failed(&self) -> Option<&GraphError> {
        match &self.state {
            State::Done(Err(e)) => Some(e),
            _ => None,
        }
    }
    fn succeeded(&self) -> bool {
        matches!(self.state, State::Done(Ok(_)))
    }
    fn operation(&self) -> String {
        format!("{} {}", self.item.method, self.item.url)
    }
}

/// What one envelope returned, per slot index.
type EnvelopeOutcome = Vec<(usize, Result<wire::BatchResponseItem, GraphError>)>;

impl GraphClient {
    /// Runs `requests` through `$batch` and returns one result per request, in input order:
    /// `Ok` for a 2xx response, `Err` otherwise (with Graph's code, message and request id).
    pub async fn batch(&self, requests: Vec<BatchItem>) -> Vec<Result<BatchResult, GraphError>> {
        self.batch_raw(requests)
            .await
            .into_iter()
            .map(|r| r.map(|(result, _)| result))
            .collect()
    }

    pub(crate) async fn batch_raw(&self, requests: Vec<BatchItem>) -> Vec<RawOutcome> {
        let now = Instant::now();
        let mut slots = resolve(requests, now);
        // A URL taken from a response (a stored deltaLink) must be on the Graph origin like
        // any other link, even though `$batch` would send only its path.
        for slot in &mut slots {
            if let Err(e) = self.absolute(&slot.operation(), &slot.item.url) {
                slot.state = State::Done(Err(e));
            }
        }
        let order = topological_order(&mut slots);
        let max = self.inner.max_concurrency;
        let mut in_flight = FuturesUnordered::new();
        loop {
            let free = max.saturating_sub(in_flight.len());
            if free > 0 {
                for envelope in pack(&mut slots, &order, free, Instant::now()) {
                    in_flight.push(self.send_envelope(envelope, &slots));
                }
            }
            let now = Instant::now();
            let wake = slots
                .iter()
                .filter(|s| matches!(s.state, State::Pending))
                .map(|s| s.not_before)
                .filter(|t| *t > now)
                .min();
            if in_flight.is_empty() {
                // Nothing in flight: what is still pending waits for its time (or, if
                // nothing has a time to wait for, cannot be sent and is reported below).
                match wake {
                    Some(at) => tokio::time::sleep_until(at).await,
                    None => break,
                }
                continue;
            }
            let outcome = match wake {
                Some(at) if free > 0 => tokio::select! {
                    o = in_flight.next() => o,
                    () = tokio::time::sleep_until(at) => None,
                },
                _ => in_flight.next().await,
            };
            if let Some(outcome) = outcome {
                self.settle(&mut slots, outcome);
            }
        }
        slots
            .into_iter()
            .map(|s| match s.state {
                State::Done(r) => r,
                _ => Err(GraphError::decode(
                    format!("{} {}", s.item.method, s.item.url),
                    "the batch ended without a response to this request",
                )),
            })
            .collect()
    }

    /// Sends one envelope (the listed slots) and returns each slot's sub-response or error.
    fn send_envelope(
        &self,
        members: Vec<usize>,
        slots: &[Slot],
    ) -> impl Future<Output = EnvelopeOutcome> + use<> {
        let client = self.clone();
        let mut cost = Cost::default();
        let mut requests = Vec::with_capacity(members.len());
        for &i in &members {
            let s = &slots[i];
            cost = cost.plus(s.cost);
            let depends_on: Vec<String> = s
                .deps
                .iter()
                .filter(|d| members.contains(d))
                .map(|d| d.to_string())
                .collect();
            let mut headers = serde_json::Map::new();
            if s.item.body.is_some() {
                headers.insert("Content-Type".into(), json!("application/json"));
            }
            if s.item.url.contains("$count=true") || s.item.url.contains("$search=") {
                headers.insert("ConsistencyLevel".into(), json!("eventual"));
            }
            let mut req = json!({
                "id": i.to_string(),
                "method": s.item.method.as_str(),
                "url": client.relative(&s.item.url),
            });
            if let Some(body) = &s.item.body {
                req["body"] = absolute_refs(body, &client.inner.base);
            }
            if !headers.is_empty() {
                req["headers"] = Value::Object(headers);
            }
            if !depends_on.is_empty() {
                req["dependsOn"] = json!(depends_on);
            }
            requests.push(req);
        }
        let envelope = json!({ "requests": requests });
        async move {
            let req = Request {
                method: Method::POST,
                url: "/$batch",
                body: Some(&envelope),
                headers: &[],
                accept: &[],
                cost: Some(cost),
            };
            let response = client.execute("batch", "", req).await;
            let parsed = response.and_then(|r| r.json::<wire::BatchResponse>("batch"));
            match parsed {
                Err(e) => members.into_iter().map(|i| (i, Err(e.clone()))).collect(),
                Ok(body) => {
                    let mut by_id: HashMap<String, wire::BatchResponseItem> = body
                        .responses
                        .into_iter()
                        .map(|r| (r.id.clone(), r))
                        .collect();
                    members
                        .into_iter()
                        .map(|i| {
                            let r = by_id.remove(&i.to_string()).ok_or_else(|| {
                                let mut e = GraphError::decode(
                                    "batch",
                                    "the $batch response has no response for this request",
                                );
                                e.retry = super::error::RetryClass::Transient;
                                e
                            });
                            (i, r)
                        })
                        .collect()
                }
            }
        }
    }

    /// Records an envelope's sub-responses in the slots.
    fn settle(&self, slots: &mut [Slot], outcome: EnvelopeOutcome) {
        let policy = &self.inner.retry;
        let now = Instant::now();
        for (i, result) in outcome {
            let op = slots[i].operation();
            let response = match result {
                Ok(r) => r,
                Err(e) => {
                    // The envelope itself failed after the client's own retries.
                    let e = e.with_operation(op);
                    slots[i].state = State::Done(Err(e));
                    continue;
                }
            };
            self.record("batch_item", response.status);
            let header = |name: &str| {
                response
                    .headers
                    .iter()
                    .find(|(k, _)| k.eq_ignore_ascii_case(name))
                    .and_then(|(_, v)| v.as_str().map(str::to_string))
            };
            let status = response.status;
            let deps_ok = slots[i].deps.iter().all(|&d| slots[d].succeeded());
            let slot = &mut slots[i];
            if (200..300).contains(&status) {
                if let Some(actual) = header("x-ms-resource-unit").and_then(|v| v.parse().ok()) {
                    self.inner.limiter.observe_ru(slot.cost.ru, actual);
                }
                slot.state = State::Done(Ok((
                    BatchResult {
                        status,
                        body: response.body,
                    },
                    response.headers,
                )));
                continue;
            }
            let mut err = GraphError::from_status_and_body(op, status, Some(&response.body));
            err.retry_after = header("retry-after").as_deref().and_then(parse_retry_after);
            err.throttle_information = header("x-ms-throttle-information");
            if err.request_id.is_none() {
                err.request_id = header("request-id");
            }
            if status == 424 {
                // A dependency failed in this envelope; if it is retried, this item goes
                // with it, and if it failed for good, `pack` fails this one too.
                slot.state = State::Pending;
                slot.not_before = now;
                if deps_ok {
                    slot.attempt += 1;
                    if slot.attempt > policy.max_attempts {
                        slot.state = State::Done(Err(err));
                    }
                }
                continue;
            }
            if err.is_throttled() {
                let wait = err
                    .retry_after
                    .or_else(|| retry_after_from_message(&err.message))
                    .unwrap_or(policy.default_retry_after);
                if status != 429 {
                    // Request_ThrottledTemporarily (503) is counted with the 429s.
                    self.lock_stats().throttled += 1;
                }
                self.throttled(slot.cost, err.throttle_information.as_deref(), wait);
                if slot.throttle_waited + wait > policy.max_throttle_wait {
                    slot.state = State::Done(Err(err));
                } else {
                    self.count_retry();
                    slot.throttle_waited += wait;
                    slot.not_before = now + wait;
                    slot.state = State::Pending;
                }
                continue;
            }
            if classify(status, &err.code) == super::error::RetryClass::Transient
                && slot.attempt < policy.max_attempts
            {
                self.count_retry();
                slot.not_before = now + policy.transient_delay(slot.attempt, err.retry_after);
                slot.attempt += 1;
                slot.state = State::Pending;
                continue;
            }
            slot.state = State::Done(Err(err));
        }
    }
}

/// Turns the requests into slots, resolving `depends_on` ids to indices (the nearest earlier
/// item with that id, else the first later one). An unknown id fails the item.
fn resolve(requests: Vec<BatchItem>, now: Instant) -> Vec<Slot> {
    let mut ids: HashMap<String, Vec<usize>> = HashMap::new();
    for (i, r) in requests.iter().enumerate() {
        if !r.id.is_empty() {
            ids.entry(r.id.to_ascii_lowercase()).or_default().push(i);
        }
    }
    requests
        .into_iter()
        .enumerate()
        .map(|(i, item)| {
            let mut deps = Vec::new();
            let mut unknown = None;
            for d in &item.depends_on {
                let found = ids.get(&d.to_ascii_lowercase()).and_then(|c| {
                    c.iter()
                        .rev()
                        .find(|&&j| j < i)
                        .or_else(|| c.iter().find(|&&j| j > i))
                        .copied()
                });
                match found {
                    Some(j) => deps.push(j),
                    None => unknown = Some(d.clone()),
                }
            }
            let cost = Cost::estimate(&item.method, &item.url);
            let state = match unknown {
                Some(d) => State::Done(Err(GraphError::config(format!(
                    "batch item depends on '{d}', which is not an id of this batch"
                ))
                .with_operation(format!("{} {}", item.method, item.url)))),
                None => State::Pending,
            };
            Slot {
                item,
                deps,
                cost,
                state,
                attempt: 1,
                throttle_waited: Duration::ZERO,
                not_before: now,
            }
        })
        .collect()
}

/// Kahn's order over the dependencies; items on a cycle fail.
fn topological_order(slots: &mut [Slot]) -> Vec<usize> {
    let n = slots.len();
    let mut indegree: Vec<usize> = slots.iter().map(|s| s.deps.len()).collect();
    let mut dependents: Vec<Vec<usize>> = vec![Vec::new(); n];
    for (i, s) in slots.iter().enumerate() {
        for &d in &s.deps {
            dependents[d].push(i);
        }
    }
    let mut queue: std::collections::VecDeque<usize> =
        (0..n).filter(|&i| indegree[i] == 0).collect();
    let mut order = Vec::with_capacity(n);
    while let Some(i) = queue.pop_front() {
        order.push(i);
        for &j in &dependents[i] {
            indegree[j] -= 1;
            if indegree[j] == 0 {
                queue.push_back(j);
            }
        }
    }
    if order.len() < n {
        let mut placed = vec![false; n];
        order.iter().for_each(|&i| placed[i] = true);
        for (i, s) in slots.iter_mut().enumerate() {
            if !placed[i] {
                s.state = State::Done(Err(GraphError::config(
                    "batch items depend on each other in a cycle",
                )
                .with_operation(format!("{} {}", s.item.method, s.item.url))));
                order.push(i);
            }
        }
    }
    order
}

/// Picks the items to send now, as at most `envelopes` envelopes of ≤ 20: pending items whose
/// time has come and whose dependencies succeeded (then `dependsOn` is dropped) or travel in
/// the same envelope. Items whose dependency failed for good fail here.
fn pack(slots: &mut [Slot], order: &[usize], envelopes: usize, now: Instant) -> Vec<Vec<usize>> {
    let mut out: Vec<Vec<usize>> = Vec::new();
    let mut open: Vec<usize> = Vec::new();
    for &i in order {
        if !matches!(slots[i].state, State::Pending) {
            continue;
        }
        if let Some(dep_err) = slots[i].deps.iter().find_map(|&d| slots[d].failed()) {
            let e = GraphError::dependency(slots[i].operation(), dep_err);
            slots[i].state = State::Done(Err(e));
            continue;
        }
        if slots[i].not_before > now {
            continue;
        }
        let waiting: Vec<usize> = slots[i]
            .deps
            .iter()
            .copied()
            .filter(|&d| !slots[d].succeeded())
            .collect();
        if !waiting.iter().all(|d| open.contains(d)) {
            continue;
        }
        if open.len() == MAX_BATCH {
            if !waiting.is_empty() {
                continue;
            }
            out.push(std::mem::take(&mut open));
            if out.len() == envelopes {
                break;
            }
        }
        open.push(i);
    }
    if !open.is_empty() && out.len() < envelopes {
        out.push(open);
    }
    for env in &out {
        for &i in env {
            slots[i].state = State::InFlight;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn slots(items: Vec<BatchItem>) -> (Vec<Slot>, Vec<usize>) {
        let mut s = resolve(items, Instant::now());
        let o = topological_order(&mut s);
        (s, o)
    }

    #[test]
    fn items_are_packed_twenty_per_envelope() {
        let items = (0..45)
            .map(|i| BatchItem::delete(format!("/users/{i}")))
            .collect();
        let (mut s, o) = slots(items);
        let envs = pack(&mut s, &o, 10, Instant::now());
        let sizes: Vec<usize> = envs.iter().map(Vec::len).collect();
        assert_eq!(sizes, vec![20, 20, 5]);
    }

    #[test]
    fn a_dependent_item_travels_with_its_dependency_or_waits() {
        let mut items = Vec::new();
        for i in 0..10 {
            items.push(BatchItem::post("/users", json!({})).with_id(format!("c{i}")));
            items.push(
                BatchItem::post(format!("/users/u{i}/assignLicense"), json!({}))
                    .depends_on(format!("c{i}")),
            );
        }
        let (mut s, o) = slots(items);
        let envs = pack(&mut s, &o, 1, Instant::now());
        assert_eq!(envs.len(), 1);
        assert_eq!(envs[0].len(), 20);
        assert!(envs[0].contains(&0) && envs[0].contains(&1));
    }

    #[test]
    fn directory_object_references_are_sent_on_the_clients_own_graph_endpoint() {
        let base = "https://graph.microsoft.us/v1.0";
        let members = vec!["u1".to_string(), "u2".to_string()];
        let bind = BatchItem::add_group_members("g", &members);
        let sent = absolute_refs(bind.body.as_ref().unwrap(), base);
        assert_eq!(
            sent,
            json!({"members@odata.bind": [
                "https://graph.microsoft.us/v1.0/directoryObjects/u1",
                "https://graph.microsoft.us/v1.0/directoryObjects/u2",
            ]})
        );
        let manager = BatchItem::set_manager("u1", "m1");
        assert_eq!(manager.method, Method::PUT);
        assert_eq!(manager.url, "/users/u1/manager/$ref");
        let sent = absolute_refs(manager.body.as_ref().unwrap(), "http://127.0.0.1:9/v1.0");
        assert_eq!(
            sent,
            json!({"@odata.id": "http://127.0.0.1:9/v1.0/directoryObjects/m1"})
        );
        // Other properties, and references already absolute, are sent as built.
        let body = json!({
            "displayName": "/not/a/reference",
            "owners@odata.bind": ["https://graph.microsoft.com/v1.0/users/x"],
        });
        assert_eq!(absolute_refs(&body, base), body);
    }

    #[test]
    fn unknown_dependencies_and_cycles_fail_the_item() {
        let items = vec![
            BatchItem::get("/a").depends_on("nope"),
            BatchItem::get("/b").with_id("b").depends_on("c"),
            BatchItem::get("/c").with_id("c").depends_on("b"),
        ];
        let (s, _) = slots(items);
        assert!(s.iter().all(|s| s.failed().is_some()));
    }
}
