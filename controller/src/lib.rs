//! o365-controller: manage an Office 365 / Microsoft Entra tenant declaratively.
#![forbid(unsafe_code)]

pub mod api;
pub mod apply;
pub mod cli;
pub mod graph;
pub mod manifest;
pub mod model;
pub mod plan;
pub mod resolve;
