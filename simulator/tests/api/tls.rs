use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use o365_graph_sim::{App, FederatedCredential, Fixture, SimConfig, Simulator};
use serde_json::{Value, json};
use sha1::Digest;

use crate::common::{self, to_resp};

const CERT_PEM: &str = include_str!("../data/client-cert.pem");
const CERT_DER: &[u8] = include_bytes!("../data/client-cert.der");
const KEY_PK8: &[u8] = include_bytes!("../data/client-key.pk8");
const CERT_APP: &str = "44444444-4444-4444-8444-444444444444";
const WI_APP: &str = "55555555-5555-4555-8555-555555555555";
const WI_ISSUER: &str = "https://oidc.example.test/cluster-1";
const WI_SUBJECT: &str = "system:serviceaccount:o365:controller";

fn fixture() -> Fixture {
    let mut f = Fixture::demo();
    f.apps.push(App {
        client_id: CERT_APP.into(),
        display_name: "cert app".into(),
        client_secrets: vec![],
        certificates: vec![CERT_PEM.into()],
        federated_credentials: vec![],
    });
    f.apps.push(App {
        client_id: WI_APP.into(),
        display_name: "workload identity app".into(),
        client_secrets: vec![],
        certificates: vec![],
        federated_credentials: vec![FederatedCredential {
            name: "aks".into(),
            issuer: WI_ISSUER.into(),
            subject: WI_SUBJECT.into(),
            audiences: vec!["api://AzureADTokenExchange".into()],
        }],
    });
    f
}

fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

fn b64(v: &Value) -> String {
    URL_SAFE_NO_PAD.encode(serde_json::to_vec(v).unwrap())
}

fn sign(header: &Value, claims: &Value) -> String {
    let msg = format!("{}.{}", b64(header), b64(claims));
    let key = ring::signature::RsaKeyPair::from_pkcs8(KEY_PK8).unwrap();
    let mut sig = vec![0u8; key.public().modulus_len()];
    key.sign(
        &ring::signature::RSA_PKCS1_SHA256,
        &ring::rand::SystemRandom::new(),
        msg.as_bytes(),
        &mut sig,
    )
    .unwrap();
    format!("{msg}.{}", URL_SAFE_NO_PAD.encode(sig))
}

fn token_url(sim: &Simulator) -> String {
    format!(
        "{}/{}/oauth2/v2.0/token",
        sim.login_base_url(),
        sim.tenant_id()
    )
}

fn cert_assertion(header_extra: (&str, String), exp: i64, aud: &str) -> String {
    let mut header = json!({"alg": "RS256", "typ": "JWT"});
    header[header_extra.0] = json!(header_extra.1);
    let claims = json!({"aud": aud, "iss": CERT_APP, "sub": CERT_APP, "exp": exp,
                        "nbf": now() - 10, "jti": "1"});
    sign(&header, &claims)
}

async fn exchange(sim: &Simulator, client: &str, assertion: &str) -> common::Resp {
    let r = reqwest::Client::new()
        .post(token_url(sim))
        .form(&[
            ("client_id", client),
            ("scope", "https://graph.microsoft.com/.default"),
            ("grant_type", "client_credentials"),
            (
                "client_assertion_type",
                "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
            ),
            ("client_assertion", assertion),
        ])
        .send()
        .await
        .unwrap();
    to_resp(r).await
}

fn x5t() -> (&'static str, String) {
    ("x5t", URL_SAFE_NO_PAD.encode(sha1::Sha1::digest(CERT_DER)))
}

#[tokio::test]
async fn https_with_the_generated_ca_serves_login_and_graph() {
    let env = common::start_with(
        Fixture::demo(),
        SimConfig {
            tls: true,
            throttling: false,
            ..SimConfig::default()
        },
    )
    .await;
    assert!(env.sim.graph_base_url().starts_with("https://127.0.0.1:"));
    assert!(env.sim.ca_pem().unwrap().contains("BEGIN CERTIFICATE"));
    assert!(!env.token.is_empty());
    assert_eq!(env.get("/domains").await.status, 200);
}

#[tokio::test]
async fn a_client_without_the_ca_rejects_the_certificate() {
    let sim = Simulator::start(
        Fixture::demo(),
        SimConfig {
            tls: true,
            ..SimConfig::default()
        },
    )
    .await
    .unwrap();
    let r = reqwest::Client::new()
        .get(format!("{}/v1.0/users", sim.graph_base_url()))
        .send()
        .await;
    assert!(r.is_err());
}

#[tokio::test]
async fn a_restarted_simulator_with_a_ca_dir_is_trusted_by_clients_of_the_first() {
    let dir = std::env::temp_dir().join(format!("o365-sim-ca-dir-{}", std::process::id()));
    let config = SimConfig {
        tls: true,
        ca_dir: Some(dir.clone()),
        throttling: false,
        ..SimConfig::default()
    };
    let first = Simulator::start(Fixture::demo(), config.clone())
        .await
        .unwrap();
    let ca = first.ca_pem().unwrap();
    assert_eq!(
        std::fs::read_to_string(dir.join(o365_graph_sim::CA_CERT_FILE)).unwrap(),
        ca
    );
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let key = std::fs::metadata(dir.join(o365_graph_sim::CA_KEY_FILE)).unwrap();
        assert_eq!(key.permissions().mode() & 0o777, 0o600);
    }
    first.shutdown().await;

    let second = Simulator::start(Fixture::demo(), config).await.unwrap();
    assert_eq!(
        second.ca_pem().unwrap(),
        ca,
        "the CA is reused, not replaced"
    );
    let client = reqwest::Client::builder()
        .add_root_certificate(reqwest::Certificate::from_pem(ca.as_bytes()).unwrap())
        .build()
        .unwrap();
    let token = common::token(&client, &second).await;
    assert!(
        !token.is_empty(),
        "a client trusting the first CA talks to the second"
    );
    second.shutdown().await;
    std::fs::remove_dir_all(&dir).unwrap();
}

#[tokio::test]
async fn a_certificate_signed_assertion_with_x5t_gets_a_token() {
    let sim = Simulator::start(fixture(), SimConfig::default())
        .await
        .unwrap();
    let a = cert_assertion(x5t(), now() + 600, &token_url(&sim));
    let r = exchange(&sim, CERT_APP, &a).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let s256 = (
        "x5t#S256",
        URL_SAFE_NO_PAD.encode(sha2::Sha256::digest(CERT_DER)),
    );
    let a = cert_assertion(s256, now() + 600, &token_url(&sim));
    assert_eq!(exchange(&sim, CERT_APP, &a).await.status, 200);
}

#[tokio::test]
async fn a_tampered_expired_or_misaddressed_assertion_is_401_invalid_client() {
    let sim = Simulator::start(fixture(), SimConfig::default())
        .await
        .unwrap();
    let good = cert_assertion(x5t(), now() + 600, &token_url(&sim));
    let mut parts: Vec<&str> = good.split('.').collect();
    let other = b64(
        &json!({"aud": token_url(&sim), "iss": CERT_APP, "sub": CERT_APP, "exp": now() + 9999}),
    );
    parts[1] = &other;
    let tampered = parts.join(".");
    let expired = cert_assertion(x5t(), now() - 60, &token_url(&sim));
    let wrong_aud = cert_assertion(
        x5t(),
        now() + 600,
        "https://login.example/other/oauth2/v2.0/token",
    );
    let unknown_cert = cert_assertion(
        ("x5t", URL_SAFE_NO_PAD.encode([1u8; 20])),
        now() + 600,
        &token_url(&sim),
    );
    for a in [tampered, expired, wrong_aud, unknown_cert] {
        let r = exchange(&sim, CERT_APP, &a).await;
        assert_eq!(r.status, 401, "{}", r.body);
        assert_eq!(r.body["error"], "invalid_client");
    }
}

fn federated(iss: &str, sub: &str, aud: &str) -> String {
    let header = json!({"alg": "RS256", "kid": "k8s"});
    let claims = json!({"iss": iss, "sub": sub, "aud": [aud], "exp": now() + 3600, "iat": now()});
    format!("{}.{}.c2lnbmF0dXJl", b64(&header), b64(&claims))
}

#[tokio::test]
async fn a_workload_identity_token_matching_the_federated_credential_gets_a_token() {
    let sim = Simulator::start(fixture(), SimConfig::default())
        .await
        .unwrap();
    let a = federated(WI_ISSUER, WI_SUBJECT, "api://AzureADTokenExchange");
    let r = exchange(&sim, WI_APP, &a).await;
    assert_eq!(r.status, 200, "{}", r.body);
}

#[tokio::test]
async fn a_workload_identity_token_with_another_subject_audience_or_issuer_is_refused() {
    let sim = Simulator::start(fixture(), SimConfig::default())
        .await
        .unwrap();
    for a in [
        federated(
            WI_ISSUER,
            "system:serviceaccount:other:sa",
            "api://AzureADTokenExchange",
        ),
        federated(WI_ISSUER, WI_SUBJECT, "api://Other"),
        federated(
            "https://evil.example",
            WI_SUBJECT,
            "api://AzureADTokenExchange",
        ),
    ] {
        let r = exchange(&sim, WI_APP, &a).await;
        assert_eq!(r.status, 401, "{}", r.body);
    }
}
