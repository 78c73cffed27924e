//! Microsoft Graph client: tokens, typed calls, paging, delta, $batch, retries and rate limiting.
//!
//! One [`GraphClient`] per tenant holds one connection pool, one token cache and one rate
//! limiter; [`Mirror`] keeps an [`crate::model::ObservedTenant`] current with `/users/delta`.

mod batch;
mod calls;
mod client;
mod config;
mod convert;
mod credentials;
mod delta;
mod endpoints;
mod error;
mod mirror;
mod ratelimit;
mod retry;
mod token;
pub mod wire;

pub use batch::{BatchItem, BatchResult, MAX_BATCH};
pub use calls::{
    USER_PROPERTIES, assign_license_body, directory_object_ref, federation_body, new_user_body,
    query_value, segment, user_changes_body, user_delta_properties,
};
pub use client::{ClientStats, GraphClient, install_crypto_provider};
pub use config::{Cloud, GraphConfig};
pub use credentials::{Credential, Secret};
pub use delta::{DeltaRound, needs_resync};
pub use endpoints::{AllowedEndpoints, HostPort};
pub use error::{ErrorDetail, ErrorKind, GraphError, GraphErrorInfo, Reachability, RetryClass};
pub use mirror::Mirror;
pub use ratelimit::{Cost, RateLimits, resource_units_for};
pub use retry::{RetryPolicy, parse_retry_after};
