//! One reconcile of one Tenant ([`tenant`]) and what it reads and decides with: the shared
//! context, the objects and Secrets from the stores, the revert finalizer, the watch mappers,
//! resync durations and the reconcile error.

pub(super) mod context;
pub(super) mod duration;
pub(super) mod error;
pub(super) mod finalizer;
pub(super) mod keys;
pub(super) mod mappers;
pub(super) mod objects;
pub(super) mod tenant;
