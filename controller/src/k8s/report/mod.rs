//! What a reconcile tells the cluster: status of the four kinds, their conditions, and Events.

pub(super) mod conditions;
pub(super) mod events;
pub(super) mod status;
