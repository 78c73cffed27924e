//! The real [`Runner`]: the Graph client's rate-limited, retrying `$batch`.

use reqwest::Method;

use super::{Request, Response, Runner};
use crate::graph::{BatchItem, GraphClient};
use crate::model::FederationSettings;

/// Sends an apply's requests through one tenant's [`GraphClient`].
pub struct GraphRunner {
    client: GraphClient,
}

impl GraphRunner {
    /// A runner over `client`.
    pub fn new(client: GraphClient) -> Self {
        Self { client }
    }
}

impl Runner for GraphRunner {
    async fn run(&self, requests: Vec<Request>) -> Vec<Response> {
        let items = requests
            .into_iter()
            .map(|r| BatchItem {
                id: String::new(),
                method: Method::from_bytes(r.method.as_bytes()).unwrap_or(Method::GET),
                url: r.url,
                body: r.body,
                depends_on: Vec::new(),
            })
            .collect();
        self.client
            .batch(items)
            .await
            .into_iter()
            .map(|result| match result {
                Ok(_) => Response::Success,
                Err(e) => Response::Failure {
                    status: e.status,
                    details: e
                        .details
                        .iter()
                        .map(|d| (d.code.clone(), d.target.clone()))
                        .collect(),
                    description: e.to_string(),
                },
            })
            .collect()
    }

    async fn federation(&self, domain: &str) -> Result<Option<FederationSettings>, String> {
        self.client
            .list_federation(domain)
            .await
            .map_err(|e| e.to_string())
    }
}
