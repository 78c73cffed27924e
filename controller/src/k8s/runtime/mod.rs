//! The process around the reconciles: the kube-runtime controller loop, leader election, the
//! health and metrics endpoints, the namespaces served, and panic containment per tenant.

pub(super) mod containment;
pub(super) mod controller;
pub(super) mod health;
pub(super) mod leader;
pub(super) mod metrics;
pub(super) mod served;
pub(super) mod watches;
