//! Executes a plan through Microsoft Graph and reports what happened.
