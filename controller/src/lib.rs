//! o365-controller: manage an Office 365 / Microsoft Entra tenant declaratively.
#![forbid(unsafe_code)]
// Data from users, the API server and Graph is never unwrapped; tests may.
#![cfg_attr(not(test), deny(clippy::unwrap_used, clippy::expect_used))]

pub mod api;
pub mod apply;
pub mod cli;
pub mod engine;
pub mod graph;
pub mod k8s;
pub mod manifest;
pub mod model;
pub mod plan;
pub mod resolve;
