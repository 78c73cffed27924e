//! Behaviour tests of the planner, one file per concern; each test is named after the rule it
//! checks.

mod attributes;
mod budget;
mod conflicts;
mod deprovision;
mod federation;
mod groups;
mod identity;
mod leavers;
mod licenses;
mod manager;
mod modes;
mod namespaces;
mod ordering;
mod scale;
mod states;
mod synced;
mod users;
