//! Credentials go only where the operator chose (issue 9, DESIGN §6): a Tenant naming a host
//! that is neither a Microsoft cloud's nor allowed with `--allow-endpoint` is Blocked
//! (`EndpointNotAllowed`) and no connection at all reaches that host, in the resolve path the
//! controller uses and in the CLI; a link from a response (`@odata.nextLink`,
//! `@odata.deltaLink`, `Location`) off the Graph endpoint's origin is `UntrustedLink` and is
//! never connected to.
//!
//! "Nothing reached the host" is checked on a bound `TcpListener`: once the code under test
//! has returned, a connection it made would be waiting in the listener's backlog, so a
//! non-blocking `accept` that finds none proves there was none (no sleeps).

mod engine_support;

use std::collections::HashMap;
use std::io::{ErrorKind as IoErrorKind, Read, Write};
use std::net::{SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use engine_support::*;
use o365_controller::graph::{
    AllowedEndpoints, Credential, ErrorKind, GraphClient, GraphConfig, HostPort, RetryClass, Secret,
};
use o365_controller::manifest;
use o365_controller::resolve::{self, OperatorSettings};
use serde_json::json;

/// `expect_err` without the lint.
trait MustFail<E> {
    fn must_fail(self, what: &str) -> E;
}

impl<T: std::fmt::Debug, E> MustFail<E> for Result<T, E> {
    fn must_fail(self, what: &str) -> E {
        match self {
            Ok(v) => panic!("{what}: unexpectedly succeeded with {v:?}"),
            Err(e) => e,
        }
    }
}

/// A port nothing may connect to: bound, never served.
struct Trap {
    listener: TcpListener,
}

impl Trap {
    fn new() -> Trap {
        let listener = TcpListener::bind("127.0.0.1:0").must("bind the trap");
        listener.set_nonblocking(true).must("non-blocking trap");
        Trap { listener }
    }

    fn addr(&self) -> SocketAddr {
        self.listener.local_addr().must("trap address")
    }

    fn url(&self) -> String {
        format!("http://{}", self.addr())
    }

    /// Panics when any connection reached the trap (call after the code under test returned).
    fn assert_untouched(&self, what: &str) {
        match self.listener.accept() {
            Err(e) if e.kind() == IoErrorKind::WouldBlock => {}
            Ok((_, peer)) => panic!("{what}: a connection from {peer} reached the trap"),
            Err(e) => panic!("{what}: accept failed: {e}"),
        }
    }
}

fn operator(allowed: AllowedEndpoints) -> OperatorSettings {
    OperatorSettings {
        allowed_endpoints: allowed,
        federated_token_file: None,
    }
}

fn tenant_config(login: &str, graph: &str, operator: &OperatorSettings) -> GraphConfig {
    let m = manifest::load_str(
        Path::new("tenant.yaml"),
        &tenant_docs_at(login, graph, "Enforce"),
    )
    .must("the Tenant loads");
    let tenant = m.tenants.first().must("a Tenant");
    resolve::graph_config(tenant, &ManifestKeys(&m.secrets), &|_| None, operator)
        .must("graph config")
}

#[tokio::test]
async fn a_tenant_naming_a_host_not_allowed_is_refused_before_any_connection() {
    let trap = Trap::new();
    // The path the controller takes: resolve the Tenant, build the client, check the token.
    let config = tenant_config(
        &trap.url(),
        &trap.url(),
        &operator(AllowedEndpoints::built_in()),
    );
    let err = GraphClient::new(config).must_fail("a client for a host nobody allowed");
    assert_eq!(err.kind, ErrorKind::EndpointNotAllowed, "{err}");
    assert_eq!(err.code, "EndpointNotAllowed");
    assert_eq!(err.retry, RetryClass::Terminal);
    let text = err.to_string();
    assert!(text.contains(&trap.addr().to_string()), "{text}");
    assert!(text.contains("--allow-endpoint"), "{text}");
    assert!(!text.contains(CLIENT_SECRET), "{text}");
    trap.assert_untouched("EndpointNotAllowed");

    // Another host allowed does not allow this one; a Graph host allowed does not allow an
    // unlisted login host either.
    let other = Trap::new();
    let allowed = AllowedEndpoints::with([HostPort::of_url(&other.url()).must("url")]);
    let config = tenant_config(&trap.url(), &other.url(), &operator(allowed));
    let err = GraphClient::new(config).must_fail("the login host is not allowed");
    assert_eq!(err.kind, ErrorKind::EndpointNotAllowed, "{err}");
    assert!(err.to_string().contains("loginEndpoint"), "{err}");
    trap.assert_untouched("login host not allowed");
    other.assert_untouched("login host not allowed");
}

#[tokio::test]
async fn the_same_tenant_connects_when_the_operator_allows_its_host() {
    let sim = start(fixture()).await;
    let url = sim.graph_base_url();
    let config = tenant_config(
        &sim.login_base_url(),
        &url,
        &operator(AllowedEndpoints::with([
            HostPort::of_url(&url).must("sim url")
        ])),
    );
    let client = GraphClient::new(config).must("an allowed endpoint");
    client
        .check_token()
        .await
        .must("a token from the allowed host");
    assert_eq!(client.stats().tokens_fetched, 1);
}

/// A Tenant of the old shape, naming a file to send as the client assertion.
const TENANT_WITH_TOKEN_FILE: &str = "apiVersion: o365-controller.io/v1alpha1
kind: Tenant
metadata:
  name: bad
spec:
  tenantId: 11111111-1111-1111-1111-111111111111
  clientId: 22222222-2222-2222-2222-222222222222
  credentials:
    workloadIdentity:
      tokenFile: /var/run/secrets/kubernetes.io/serviceaccount/token
";

#[test]
fn validate_refuses_a_tenant_naming_a_token_file_as_an_unknown_field() {
    let diagnostics = match manifest::load_str(Path::new("t.yaml"), TENANT_WITH_TOKEN_FILE) {
        Ok(_) => panic!("a Tenant with workloadIdentity.tokenFile was accepted"),
        Err(d) => d,
    };
    let shown: Vec<String> = diagnostics.iter().map(ToString::to_string).collect();
    assert!(
        shown.iter().any(|d| d.contains(
            "unknown field \"spec.credentials.workloadIdentity.tokenFile\": field not declared in schema"
        ) && d.starts_with("t.yaml:10:")),
        "{shown:#?}"
    );
}

#[test]
fn a_workload_identity_token_file_comes_only_from_the_operator() {
    let yaml = tenant_docs_at("https://x.test", "https://x.test", "Enforce").replace(
        "    clientSecret:\n      secretName: graph-credentials\n      key: client-secret\n",
        "    workloadIdentity: {}\n",
    );
    let m = manifest::load_str(Path::new("t.yaml"), &yaml).must("workloadIdentity: {} loads");
    let tenant = m.tenants.first().must("a Tenant");
    let keys = ManifestKeys(&m.secrets);
    // The environment a Tenant might hope to use is not consulted.
    let env = |_: &str| Some("/var/run/secrets/kubernetes.io/serviceaccount/token".to_owned());
    let err = resolve::graph_config(tenant, &keys, &env, &OperatorSettings::default())
        .must_fail("no operator token file");
    assert_eq!(err, resolve::ConfigError::NoFederatedToken);
    assert!(err.to_string().contains("--federated-token-file"), "{err}");
    let settings = OperatorSettings {
        federated_token_file: Some(PathBuf::from("/operator/token")),
        ..OperatorSettings::default()
    };
    let config = resolve::graph_config(tenant, &keys, &env, &settings).must("operator's file");
    match config.credential {
        Credential::WorkloadIdentity { token_file } => {
            assert_eq!(token_file, PathBuf::from("/operator/token"));
        }
        other => panic!("unexpected credential {other:?}"),
    }
}

/// A Graph stand-in that answers with links to `elsewhere`.
#[derive(Clone)]
struct Stub {
    elsewhere: String,
    requests: Arc<Mutex<Vec<String>>>,
}

async fn stub_token(State(stub): State<Stub>) -> Response {
    stub.requests.lock().must("lock").push("token".into());
    axum::Json(
        json!({"access_token": "stub-access-token", "expires_in": 3600,
        "token_type": "Bearer"}),
    )
    .into_response()
}

async fn stub_domains(State(stub): State<Stub>) -> Response {
    stub.requests.lock().must("lock").push("domains".into());
    axum::Json(json!({
        "value": [{"id": "corp.example.com", "authenticationType": "Managed",
            "isVerified": true, "isDefault": false, "isInitial": false}],
        "@odata.nextLink": format!("{}/v1.0/domains?$skiptoken=stolen", stub.elsewhere),
    }))
    .into_response()
}

async fn stub_delta(
    State(stub): State<Stub>,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    let token = query.get("$deltatoken").cloned().unwrap_or_default();
    stub.requests
        .lock()
        .must("lock")
        .push(format!("delta {token}"));
    let link = format!("{}/v1.0/users/delta?$deltatoken=stolen", stub.elsewhere);
    match token.as_str() {
        // A round whose next page is elsewhere.
        "next" => axum::Json(json!({"value": [], "@odata.nextLink": link})).into_response(),
        // An expired token whose restart is elsewhere.
        "expired" => {
            let mut headers = HeaderMap::new();
            headers.insert(header::LOCATION, link.parse().must("header"));
            (
                StatusCode::GONE,
                headers,
                axum::Json(json!({"error": {"code": "syncStateNotFound", "message": "gone"}})),
            )
                .into_response()
        }
        // A full round whose deltaLink (where the next round would start) is elsewhere.
        _ => axum::Json(json!({"value": [], "@odata.deltaLink": link})).into_response(),
    }
}

/// Serves the stub on 127.0.0.1; returns its base URL and request log.
async fn serve_stub(elsewhere: String) -> (String, Arc<Mutex<Vec<String>>>) {
    let requests = Arc::new(Mutex::new(Vec::new()));
    let stub = Stub {
        elsewhere,
        requests: requests.clone(),
    };
    let app = Router::new()
        .route("/{tenant}/oauth2/v2.0/token", post(stub_token))
        .route("/v1.0/domains", get(stub_domains))
        .route("/v1.0/users/delta", get(stub_delta))
        .with_state(stub);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .must("bind the stub");
    let addr = listener.local_addr().must("stub address");
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    (format!("http://{addr}"), requests)
}

fn stub_client(base: &str) -> GraphClient {
    let mut config = GraphConfig::custom(
        base,
        base,
        None,
        TENANT_ID,
        CLIENT_ID,
        Credential::ClientSecret(Secret::new(CLIENT_SECRET)),
    );
    config.allowed_endpoints = AllowedEndpoints::with([HostPort::of_url(base).must("stub url")]);
    GraphClient::new(config).must("stub client")
}

fn assert_untrusted(err: &o365_controller::graph::GraphError, elsewhere: &str) {
    assert_eq!(err.kind, ErrorKind::UntrustedLink, "{err}");
    assert_eq!(err.code, "UntrustedLink");
    assert_eq!(err.retry, RetryClass::Terminal);
    let text = err.to_string();
    assert!(
        text.contains(elsewhere),
        "the error names the link's origin: {text}"
    );
    assert!(
        !text.contains("stolen"),
        "the error names no more than the origin: {text}"
    );
}

#[tokio::test]
async fn next_delta_and_location_links_to_another_origin_are_not_followed() {
    let trap = Trap::new();
    let (base, requests) = serve_stub(trap.url()).await;
    let client = stub_client(&base);

    // @odata.nextLink of a collection.
    let err = client
        .list_domains()
        .await
        .must_fail("a nextLink elsewhere");
    assert_untrusted(&err, &trap.url());
    // @odata.deltaLink: refused when received, so it is never stored nor sent.
    let err = client
        .users_delta(&["id"], None)
        .await
        .must_fail("a deltaLink elsewhere");
    assert_untrusted(&err, &trap.url());
    // @odata.nextLink inside a delta round.
    let next = format!("{base}/v1.0/users/delta?$deltatoken=next");
    let err = client
        .users_delta(&["id"], Some(&next))
        .await
        .must_fail("a delta nextLink elsewhere");
    assert_untrusted(&err, &trap.url());
    // Location of a 410 Gone.
    let expired = format!("{base}/v1.0/users/delta?$deltatoken=expired");
    let err = client
        .users_delta(&["id"], Some(&expired))
        .await
        .must_fail("a Location elsewhere");
    assert_untrusted(&err, &trap.url());
    // A stored link that is not on the Graph origin is refused before anything is sent.
    let err = client
        .users_delta(&["id"], Some(&format!("{}/v1.0/users/delta", trap.url())))
        .await
        .must_fail("a stored link elsewhere");
    assert_untrusted(&err, &trap.url());

    trap.assert_untouched("links to another origin");
    let seen = requests.lock().must("lock").clone();
    assert_eq!(
        seen,
        ["token", "domains", "delta ", "delta next", "delta expired"],
        "the stub saw exactly the requests on its own origin"
    );
}

#[tokio::test]
async fn a_link_naming_the_same_server_by_another_name_is_another_origin() {
    // `localhost` reaches the very same stub, but it is not the configured origin.
    let (base, requests) = serve_stub(String::new()).await;
    let port = base.rsplit(':').next().must("port").to_owned();
    let client = stub_client(&base);
    let stored = format!("http://localhost:{port}/v1.0/users/delta?$deltatoken=next");
    let err = client
        .users_delta(&["id"], Some(&stored))
        .await
        .must_fail("another origin");
    assert_untrusted(&err, &format!("http://localhost:{port}"));
    assert!(
        requests.lock().must("lock").is_empty(),
        "nothing, not even a token request, was sent"
    );
}

// ---- the CLI ----------------------------------------------------------------------------

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("o365-trust-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).must("scratch dir");
    dir
}

/// Runs the CLI in `dir` with the manifests of a Tenant whose endpoints are `url`.
fn cli_against(dir: &Path, url: &str, args: &[&str]) -> Output {
    let manifests = dir.join("tenant.yaml");
    std::fs::write(&manifests, tenant_docs_at(url, url, "Enforce")).must("manifests");
    let manifests = manifests.to_str().must("utf-8 path").to_owned();
    let mut all: Vec<&str> = args.to_vec();
    all.extend(["-f", manifests.as_str()]);
    Command::new(env!("CARGO_BIN_EXE_o365-controller"))
        .args(&all)
        .current_dir(dir)
        .env("RUST_LOG", "trace")
        .env_remove("O365_CLIENT_SECRET")
        .env_remove("AZURE_FEDERATED_TOKEN_FILE")
        .output()
        .must("the CLI runs")
}

fn text(out: &Output) -> String {
    format!(
        "{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

#[test]
fn cli_plan_and_apply_report_a_host_not_allowed_as_blocked_and_send_it_nothing() {
    let dir = scratch("blocked");
    let trap = Trap::new();
    let addr = trap.addr().to_string();

    let out = cli_against(&dir, &trap.url(), &["plan"]);
    let shown = text(&out);
    assert_eq!(
        out.status.code(),
        Some(2),
        "plan: Blocked is not InSync:\n{shown}"
    );
    assert!(shown.contains("Blocked (EndpointNotAllowed)"), "{shown}");
    assert!(
        shown.contains(&format!("--allow-endpoint {addr}")),
        "{shown}"
    );
    assert!(
        !shown.contains(CLIENT_SECRET),
        "the secret was printed:\n{shown}"
    );

    let out = cli_against(&dir, &trap.url(), &["plan", "-o", "json"]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    let view: serde_json::Value = serde_json::from_slice(&out.stdout).must("JSON");
    assert_eq!(view["state"], "Blocked", "{view}");
    assert_eq!(
        view["tenants"][0]["findings"][0]["reason"], "EndpointNotAllowed",
        "{view}"
    );

    let out = cli_against(&dir, &trap.url(), &["apply"]);
    let shown = text(&out);
    assert!(!out.status.success(), "apply succeeded:\n{shown}");
    assert!(shown.contains("EndpointNotAllowed"), "{shown}");

    // Allowing another host changes nothing for this one.
    let out = cli_against(
        &dir,
        &trap.url(),
        &["plan", "--allow-endpoint", "graph.example.com"],
    );
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));

    trap.assert_untouched("plan and apply against a host not allowed");
    let _ = std::fs::remove_dir_all(&dir);
}

/// Control for the test above: the same Tenant, allowed, does send the client secret to the
/// host (so an untouched trap means the allow-list stopped it, not that nothing was tried).
#[test]
fn cli_sends_the_client_secret_to_a_host_only_when_allowed() {
    let dir = scratch("allowed");
    let listener = TcpListener::bind("127.0.0.1:0").must("bind");
    let addr = listener.local_addr().must("addr");
    let catcher = std::thread::spawn(move || {
        let (mut stream, _) = listener.accept().must("the allowed host is contacted");
        let mut seen = Vec::new();
        let mut buf = [0u8; 4096];
        // Read the token request (headers and form body), then refuse it.
        while !String::from_utf8_lossy(&seen).contains("client_secret=") {
            match stream.read(&mut buf) {
                Ok(0) | Err(_) => break,
                Ok(n) => seen.extend_from_slice(&buf[..n]),
            }
        }
        let body = r#"{"error":"invalid_client","error_description":"AADSTS7000215: no"}"#;
        let _ = write!(
            stream,
            "HTTP/1.1 401 Unauthorized\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
            body.len()
        );
        String::from_utf8_lossy(&seen).into_owned()
    });
    let out = cli_against(
        &dir,
        &format!("http://{addr}"),
        &["plan", "--allow-endpoint", &addr.to_string()],
    );
    if !catcher.is_finished() {
        // The CLI never connected: release the catcher so the assertion below reports it.
        let _ = std::net::TcpStream::connect(addr);
    }
    let seen = catcher.join().must("catcher");
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(
        seen.contains(CLIENT_SECRET),
        "the allowed host received the token request"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn cli_plan_works_against_an_allowed_simulator() {
    let sim = start(fixture()).await;
    let dir = scratch("sim");
    let allow = HostPort::of_url(&sim.graph_base_url())
        .must("url")
        .to_string();
    let url = sim.graph_base_url();
    let out = tokio::task::spawn_blocking(move || {
        cli_against(&dir, &url, &["plan", "--allow-endpoint", &allow])
    })
    .await
    .must("cli");
    let shown = text(&out);
    assert!(
        matches!(out.status.code(), Some(0 | 2)),
        "plan against the allowed simulator:\n{shown}"
    );
    assert!(!shown.contains("EndpointNotAllowed"), "{shown}");
    assert!(
        sim.stats().tokens_issued > 0,
        "the simulator issued a token"
    );
}
