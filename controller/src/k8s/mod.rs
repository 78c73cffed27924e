//! The Kubernetes controller (`o365-controller run`): one kube-runtime Controller over Tenants
//! that watches the other kinds and referenced Secrets, converges each tenant through the
//! shared plan/apply engine, and reports status, Events and metrics.
//!
//! Split by concern: [`runtime`] runs the process (controller loop, leader election, health
//! and metrics endpoints, served namespaces, panic containment); [`reconcile`] is one
//! reconcile of one Tenant (context, objects and Secrets read from the stores, finalizer,
//! watch mappers, errors); [`report`] turns its outcome into status, conditions and Events.

mod reconcile;
mod report;
mod runtime;

pub use reconcile::context::ReconcileSettings;
pub use reconcile::error::ReconcileError;
pub use reconcile::finalizer::REVERT_FINALIZER;
pub use report::status::FIELD_MANAGER;
pub use runtime::controller::{
    RunOptions, default_identity, install_crypto_provider, run_controller,
};
pub use runtime::leader::{LEASE_DURATION, LEASE_NAME, lease_name};
pub use runtime::served::ServedNamespaces;
