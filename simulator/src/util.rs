//! Small helpers: timestamps in Graph's formats, identifiers, opaque tokens.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rand::RngCore;
use time::OffsetDateTime;
use time::macros::format_description;

/// `2025-01-06T12:25:59` — the `innerError.date` format (no fractional seconds, no `Z`).
pub fn inner_error_date() -> String {
    let fmt = format_description!("[year]-[month]-[day]T[hour]:[minute]:[second]");
    OffsetDateTime::now_utc().format(&fmt).unwrap_or_default()
}

/// `2025-01-06T12:25:59Z` — an `Edm.DateTimeOffset` value.
pub fn now_rfc3339() -> String {
    let fmt = format_description!("[year]-[month]-[day]T[hour]:[minute]:[second]Z");
    OffsetDateTime::now_utc().format(&fmt).unwrap_or_default()
}

/// `2025-01-06 12:25:59Z` — the identity platform's `timestamp` format.
pub fn login_timestamp() -> String {
    let fmt = format_description!("[year]-[month]-[day] [hour]:[minute]:[second]Z");
    OffsetDateTime::now_utc().format(&fmt).unwrap_or_default()
}

/// How long ago an `Edm.DateTimeOffset` (RFC 3339) was; None when unparsable or in the future.
pub fn age_of(rfc3339: &str) -> Option<std::time::Duration> {
    let t = OffsetDateTime::parse(rfc3339, &time::format_description::well_known::Rfc3339).ok()?;
    let age = OffsetDateTime::now_utc() - t;
    std::time::Duration::try_from(age).ok()
}

/// Seconds since the Unix epoch.
pub fn unix_now() -> i64 {
    OffsetDateTime::now_utc().unix_timestamp()
}

pub fn new_guid() -> String {
    uuid::Uuid::new_v4().to_string()
}

/// A GUID derived from a name, so generated ids are stable across runs.
pub fn stable_guid(namespace: &str, name: &str) -> String {
    let ns = uuid::Uuid::new_v5(&uuid::Uuid::NAMESPACE_URL, namespace.as_bytes());
    uuid::Uuid::new_v5(&ns, name.as_bytes()).to_string()
}

/// An opaque random token (URL safe).
pub fn random_token(bytes: usize) -> String {
    let mut buf = vec![0u8; bytes];
    rand::rng().fill_bytes(&mut buf);
    URL_SAFE_NO_PAD.encode(buf)
}

pub fn b64url_encode(data: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(data)
}

pub fn b64url_decode(text: &str) -> Option<Vec<u8>> {
    URL_SAFE_NO_PAD.decode(text.trim_end_matches('=')).ok()
}

/// True when `s` looks like a GUID (8-4-4-4-12 hex digits).
pub fn is_guid(s: &str) -> bool {
    uuid::Uuid::parse_str(s).is_ok() && s.len() == 36
}
