//! Delta query rounds (notes §3.6): follow `@odata.nextLink` until `@odata.deltaLink`; a
//! stored deltaLink starts the next round; `410 Gone` (or `syncStateNotFound`) restarts with a
//! full round from the `Location` header. Every link is followed only on the Graph endpoint's
//! origin ([`GraphClient::absolute`]).

use serde::de::DeserializeOwned;

use super::client::{GraphClient, Request};
use super::error::GraphError;
use super::wire;

/// One complete delta round.
#[derive(Debug, Clone)]
pub struct DeltaRound<T> {
    /// Changed (or, in a full round, all) items; may hold `@removed` items and replays.
    pub items: Vec<T>,
    /// Where the next round starts.
    pub delta_link: String,
    /// The stored link had expired and this is a full round: replace, don't merge.
    pub restarted: bool,
}

/// Whether an error means "the delta token is gone, start over".
pub fn needs_resync(err: &GraphError) -> bool {
    err.status == Some(410)
        || matches!(
            err.code.as_str(),
            "syncStateNotFound" | "resyncRequired" | "syncStateInvalid"
        )
}

const MAX_RESTARTS: u32 = 2;

/// What a delta round hands its consumer, page by page.
#[derive(Debug)]
pub enum DeltaPage<T> {
    /// The items of one page.
    Items(Vec<T>),
    /// The stored link expired mid-round: what the earlier pages gave is void, a full round
    /// follows (replace, don't merge).
    Restart,
}

impl GraphClient {
    /// Runs a delta round from `start` (the initial request or a stored deltaLink). `initial`
    /// is the initial request, used to restart when the service gives no `Location`.
    /// `first` is a first page already fetched (e.g. inside a `$batch`).
    pub(crate) async fn delta_round<T: DeserializeOwned + Send>(
        &self,
        operation: &'static str,
        initial: &str,
        start: &str,
        first: Option<wire::Page<T>>,
    ) -> Result<DeltaRound<T>, GraphError> {
        let mut items = Vec::new();
        let mut restarted = false;
        let delta_link = self
            .delta_pages(operation, initial, start, first, &mut |page| match page {
                DeltaPage::Items(page) => items.extend(page),
                DeltaPage::Restart => {
                    items.clear();
                    restarted = true;
                }
            })
            .await?;
        Ok(DeltaRound {
            items,
            delta_link,
            restarted,
        })
    }

    /// As [`GraphClient::delta_round`], handing each page to `sink` as it arrives instead of
    /// collecting the round (a full round of 100,000 users is 100 pages: the consumer keeps
    /// what it needs of one page before the next is read). Returns the deltaLink.
    pub(crate) async fn delta_pages<T: DeserializeOwned>(
        &self,
        operation: &'static str,
        initial: &str,
        start: &str,
        first: Option<wire::Page<T>>,
        sink: &mut (dyn FnMut(DeltaPage<T>) + Send),
    ) -> Result<String, GraphError> {
        let mut restarts = 0;
        let mut next = start.to_string();
        if let Some(page) = first {
            sink(DeltaPage::Items(page.value));
            if let Some(delta_link) = page.delta_link {
                return self.absolute(operation, &delta_link);
            }
            next = page.next_link.ok_or_else(|| no_link(operation))?;
        }
        loop {
            let req = Request {
                accept: &[400, 404, 410],
                ..Request::get(&next)
            };
            let response = self.execute(operation, "", req).await?;
            if response.status >= 400 {
                let err = GraphError::from_response(
                    operation,
                    response.status,
                    &response.headers,
                    &response.body,
                );
                if needs_resync(&err) && restarts < MAX_RESTARTS {
                    restarts += 1;
                    sink(DeltaPage::Restart);
                    next = match response.header("location").filter(|l| !l.is_empty()) {
                        Some(location) => self.absolute(operation, location)?,
                        None => initial.to_string(),
                    };
                    tracing::debug!(operation, "delta token expired; starting a full round");
                    continue;
                }
                return Err(err);
            }
            let page: wire::Page<T> = response.json(operation)?;
            sink(DeltaPage::Items(page.value));
            if let Some(delta_link) = page.delta_link {
                // Checked now, so a stored link (which a later round or `$batch` starts from)
                // is always on the Graph endpoint's origin.
                return self.absolute(operation, &delta_link);
            }
            next = page.next_link.ok_or_else(|| no_link(operation))?;
        }
    }
}

fn no_link(operation: &str) -> GraphError {
    GraphError::decode(
        operation,
        "a delta page carried neither @odata.nextLink nor @odata.deltaLink",
    )
}
