//! Behaviour tests over real HTTP on 127.0.0.1.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "tests unwrap: a panic is a failed test"
)]

mod auth;
mod batch;
mod common;
mod deleted_items;
mod delta;
mod dirsync;
mod domains;
mod faults;
mod fixture;
mod groups;
mod identity;
mod lag;
mod licenses;
mod lost_responses;
mod manager;
mod scale;
mod strict;
mod tenants;
mod throttling;
mod tls;
mod users;
