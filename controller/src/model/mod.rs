//! The engine's data model, shared by `graph` (which fills [`ObservedTenant`]), `plan` (which
//! turns desired + observed into a [`Plan`]) and `apply` (which executes its [`Action`]s).
//!
//! Nothing here does I/O: desired state is built from objects that were already read (files or
//! the API server) and observed state from what Graph already returned.

mod action;
mod desired;
mod leaver;
mod observed;
mod reason;

pub use action::*;
pub use desired::*;
pub use leaver::*;
pub use observed::*;
pub use reason::{Reason, Severity};
