//! Behaviour tests of the planner, one file per concern; each test is named after the rule it
//! checks.

mod budget;
mod deprovision;
mod federation;
mod licenses;
mod modes;
mod ordering;
mod scale;
mod states;
mod users;
