//! The real [`Runner`]: the Graph client's rate-limited, retrying `$batch`.

use super::{Request, Response, Runner};
use crate::graph::{GraphClient, GraphError, RetryClass};
use crate::model::{FederationSettings, Retry};

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
        self.client
            .batch(requests)
            .await
            .into_iter()
            .map(|result| match result {
                Ok(result) => Response::Success {
                    id: result
                        .body
                        .get("id")
                        .and_then(|v| v.as_str())
                        .map(str::to_string),
                },
                Err(e) => Response::Failure {
                    status: e.status,
                    details: e
                        .details
                        .iter()
                        .map(|d| (d.code.clone(), d.target.clone()))
                        .collect(),
                    description: e.to_string(),
                    retry: match e.retry {
                        RetryClass::Transient => Retry::Transient,
                        RetryClass::Terminal => Retry::Terminal,
                    },
                    retry_after: e.retry_after,
                },
            })
            .collect()
    }

    async fn federation(&self, domain: &str) -> Result<Option<FederationSettings>, GraphError> {
        self.client.list_federation(domain).await
    }
}
