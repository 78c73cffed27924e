//! Graph out of reach, against the simulator over HTTP: a simulator that went away reads as
//! `GraphUnreachable`, a server certificate from another CA as `TLSError` naming the
//! certificate problem, 5xx on every read as `GraphUnavailable`; each names the endpoint and the
//! last error, counts under its own metric category, and is retried (not terminal). A read
//! answered 404 is not an outage.

mod engine_support;

use engine_support::*;
use o365_controller::graph::{GraphClient, Mirror, Reachability};
use o365_controller::k8s::ReconcileError;
use o365_controller::model::Read;
use o365_graph_sim::{FaultPlan, SimConfig};

/// The reconcile error an outage of `client`'s last read becomes, as the controller builds it.
fn outage_of(mirror: &Mirror, login: &str, graph: &str) -> ReconcileError {
    let failure = mirror.read_failure().must("a read failed").clone();
    ReconcileError::from_graph("ns/corp", failure, login, graph)
}

#[tokio::test]
async fn a_simulator_that_went_away_is_graph_unreachable_with_the_last_known_users_kept() {
    let sim = start(fixture()).await;
    let (login, graph) = (sim.login_base_url(), sim.graph_base_url());
    let m = manifests(&sim, "");
    let mut config = graph_config(&m);
    config.retry.max_attempts = 2;
    let (client, mut mirror) = connect_with(config).await;
    assert!(
        mirror.read_failure().is_none(),
        "the first load read everything"
    );
    let users = mirror.observed().users.known().must("users read").len();

    sim.shutdown().await;
    mirror.refresh(&client).await;
    let failure = mirror.read_failure().must("the refresh failed");
    assert_eq!(
        failure.reachability(),
        Some(Reachability::Unreachable),
        "{failure}"
    );
    assert!(matches!(mirror.observed().users, Read::Unknown(_)));
    let e = outage_of(&mirror, &login, &graph);
    assert_eq!(e.reason(), Reason::GraphUnreachable);
    assert_eq!(e.category(), "graph_unreachable");
    assert!(!e.is_terminal(), "an outage is retried");
    let message = e.to_string();
    assert!(message.contains(&graph), "names the endpoint: {message}");
    assert!(
        message.contains("ConnectionError"),
        "the last error: {message}"
    );

    // Back: the parked users come back with the next successful round.
    let sim = start_with(
        fixture(),
        SimConfig {
            listen: std::net::SocketAddr::from((
                [127, 0, 0, 1],
                graph
                    .rsplit(':')
                    .next()
                    .and_then(|p| p.trim_end_matches('/').parse::<u16>().ok())
                    .must("the old port"),
            )),
            ..quiet()
        },
    )
    .await;
    mirror.refresh(&client).await;
    assert!(
        mirror.read_failure().is_none(),
        "{:?}",
        mirror.read_failure()
    );
    assert_eq!(mirror.observed().users.known().must("users").len(), users);
    sim.shutdown().await;
}

#[tokio::test]
async fn a_server_certificate_from_another_ca_is_a_tls_error_naming_the_problem() {
    let tls = SimConfig {
        tls: true,
        ..quiet()
    };
    let sim = start_with(fixture(), tls.clone()).await;
    let other = start_with(fixture(), tls).await;
    let m = manifests(&sim, "");
    let mut config = graph_config(&m);
    config.retry.max_attempts = 1;
    config.ca_bundle = other.ca_pem();
    let client = GraphClient::new(config).must("client");
    let failure = client.check_token().await.err().must("the handshake fails");
    assert_eq!(failure.reachability(), Some(Reachability::Tls), "{failure}");
    let e = ReconcileError::from_graph(
        "ns/corp",
        failure,
        &sim.login_base_url(),
        &sim.graph_base_url(),
    );
    assert_eq!(e.reason(), Reason::TLSError);
    assert_eq!(e.category(), "tls");
    let message = e.to_string();
    assert!(
        message.contains(&sim.login_base_url()),
        "a token failure names the login endpoint: {message}"
    );
    assert!(
        message.contains("certificate") || message.contains("UnknownIssuer"),
        "the certificate problem: {message}"
    );
    sim.shutdown().await;
    other.shutdown().await;
}

#[tokio::test]
async fn five_hundreds_on_every_read_are_graph_unavailable_and_a_404_is_no_outage() {
    let faults = FaultPlan::from_yaml(
        r#"
rules:
  - path: /v1.0/*
    fault: error
    status: 503
"#,
    )
    .must("fault plan");
    let sim = start_with(
        fixture(),
        SimConfig {
            faults: Some(faults),
            ..quiet()
        },
    )
    .await;
    let m = manifests(&sim, "");
    let mut config = graph_config(&m);
    config.retry.max_attempts = 2;
    let (_client, mirror) = connect_with(config).await;
    let e = outage_of(&mirror, &sim.login_base_url(), &sim.graph_base_url());
    assert_eq!(e.reason(), Reason::GraphUnavailable);
    assert_eq!(e.category(), "graph_unavailable");
    assert!(e.to_string().contains("503"), "{e}");
    sim.shutdown().await;

    let forbidden = FaultPlan::from_yaml(
        r#"
rules:
  - path: /v1.0/*
    fault: error
    status: 404
"#,
    )
    .must("fault plan");
    let sim = start_with(
        fixture(),
        SimConfig {
            faults: Some(forbidden),
            ..quiet()
        },
    )
    .await;
    let m = manifests(&sim, "");
    let (_client, mirror) = connect_with(graph_config(&m)).await;
    let failure = mirror.read_failure().must("the reads failed");
    assert_eq!(
        failure.reachability(),
        None,
        "a refusal is not an outage: {failure}"
    );
    sim.shutdown().await;
}
