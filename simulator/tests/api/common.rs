//! Shared test helpers: start a simulator, get a token, call Graph.

use std::time::Duration;

use o365_graph_sim::{Fixture, SimConfig, Simulator};
use reqwest::header::HeaderMap;
use serde_json::Value;

pub const CLIENT_ID: &str = "22222222-2222-2222-2222-222222222222";
pub const SECRET: &str = "demo-client-secret";

pub struct Env {
    pub sim: Simulator,
    pub http: reqwest::Client,
    pub token: String,
}

pub struct Resp {
    pub status: u16,
    pub headers: HeaderMap,
    pub body: Value,
}

impl Resp {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    pub fn code(&self) -> &str {
        self.body["error"]["code"].as_str().unwrap_or_default()
    }

    pub fn message(&self) -> &str {
        self.body["error"]["message"].as_str().unwrap_or_default()
    }
}

/// Demo tenant, throttling off.
pub async fn start() -> Env {
    start_with(
        Fixture::demo(),
        SimConfig {
            throttling: false,
            ..SimConfig::default()
        },
    )
    .await
}

pub async fn start_with(fixture: Fixture, config: SimConfig) -> Env {
    let sim = Simulator::start(fixture, config).await.unwrap();
    let http = match sim.ca_pem() {
        Some(pem) => reqwest::Client::builder()
            .add_root_certificate(reqwest::Certificate::from_pem(pem.as_bytes()).unwrap())
            .build()
            .unwrap(),
        None => reqwest::Client::new(),
    };
    let token = token(&http, &sim).await;
    Env { sim, http, token }
}

impl Env {
    /// A directory-object reference on this simulator's Graph endpoint.
    pub fn object_ref(&self, id: &str) -> String {
        format!("{}/v1.0/directoryObjects/{id}", self.sim.graph_base_url())
    }
}

pub async fn token(http: &reqwest::Client, sim: &Simulator) -> String {
    let resp = http
        .post(format!(
            "{}/{}/oauth2/v2.0/token",
            sim.login_base_url(),
            sim.tenant_id()
        ))
        .form(&[
            ("client_id", CLIENT_ID),
            ("client_secret", SECRET),
            ("scope", "https://graph.microsoft.com/.default"),
            ("grant_type", "client_credentials"),
        ])
        .send()
        .await
        .unwrap();
    let body: Value = resp.json().await.unwrap();
    body["access_token"]
        .as_str()
        .unwrap_or_default()
        .to_string()
}

pub async fn to_resp(r: reqwest::Response) -> Resp {
    let status = r.status().as_u16();
    let headers = r.headers().clone();
    let text = r.text().await.unwrap();
    let body = if text.is_empty() {
        Value::Null
    } else {
        serde_json::from_str(&text).unwrap()
    };
    Resp {
        status,
        headers,
        body,
    }
}

impl Env {
    pub fn url(&self, path: &str) -> String {
        format!("{}/v1.0{}", self.sim.graph_base_url(), path)
    }

    pub async fn call(&self, method: &str, path: &str, body: Option<Value>) -> Resp {
        self.call_with(method, path, body, &[]).await
    }

    pub async fn call_with(
        &self,
        method: &str,
        path: &str,
        body: Option<Value>,
        headers: &[(&str, &str)],
    ) -> Resp {
        let url = if path.starts_with("http") {
            path.to_string()
        } else {
            self.url(path)
        };
        let mut req = self
            .http
            .request(method.parse().unwrap(), url)
            .bearer_auth(&self.token)
            .timeout(Duration::from_secs(30));
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        if let Some(b) = body {
            req = req.json(&b);
        }
        to_resp(req.send().await.unwrap()).await
    }

    pub async fn get(&self, path: &str) -> Resp {
        self.call("GET", path, None).await
    }
}
