//! The Kubernetes controller (`o365-controller run`): one kube-runtime Controller over Tenants
//! that watches the other kinds and referenced Secrets, converges each tenant through the
//! shared plan/apply engine, and reports status, Events and metrics.

mod conditions;
mod containment;
mod context;
mod controller;
mod duration;
mod error;
mod events;
mod finalizer;
mod health;
mod keys;
mod leader;
mod mappers;
mod metrics;
mod objects;
mod reconcile;
mod served;
mod status;

pub use context::ReconcileSettings;
pub use controller::{RunOptions, default_identity, install_crypto_provider, run_controller};
pub use error::ReconcileError;
pub use finalizer::REVERT_FINALIZER;
pub use leader::{LEASE_DURATION, LEASE_NAME};
pub use served::ServedNamespaces;
pub use status::FIELD_MANAGER;
