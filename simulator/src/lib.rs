//! Microsoft Graph simulator.
