//! The leaver mark: when the controller disabled a user as a leaver, written into the user
//! itself so the stages that follow (`spec.leaverStages`) are timed from a clock that survives
//! controller restarts, a lost cluster and a reinstall.
//!
//! It lives in `onPremisesExtensionAttributes.extensionAttribute15` as
//! `o365-controller leaver since 2026-12-01T11:37:50Z`. The controller only ever reads values
//! with that prefix as its own and never overwrites a value it did not write.

use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

/// The user property that holds the mark, inside `onPremisesExtensionAttributes`.
pub const LEAVER_MARK_ATTRIBUTE: &str = "extensionAttribute15";

/// What the mark's value starts with.
pub const LEAVER_MARK_PREFIX: &str = "o365-controller leaver since ";

/// What a user's `extensionAttribute15` says about it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LeaverMark {
    /// Empty: the controller never disabled it as a leaver (or it was listed again since).
    None,
    /// The controller disabled it as a leaver at this time.
    Since(OffsetDateTime),
    /// The attribute holds something the controller did not write; it is never overwritten.
    Foreign,
}

impl LeaverMark {
    /// Reads the attribute's value.
    pub fn parse(value: Option<&str>) -> LeaverMark {
        let Some(value) = value.map(str::trim).filter(|v| !v.is_empty()) else {
            return LeaverMark::None;
        };
        value
            .strip_prefix(LEAVER_MARK_PREFIX)
            .and_then(|t| OffsetDateTime::parse(t.trim(), &Rfc3339).ok())
            .map_or(LeaverMark::Foreign, LeaverMark::Since)
    }
}

/// The mark for a user disabled at `at` (whole seconds, UTC).
pub fn leaver_mark(at: OffsetDateTime) -> String {
    format!("{LEAVER_MARK_PREFIX}{}", rfc3339(at))
}

/// `at` as RFC 3339 in UTC, whole seconds (`2026-12-01T11:37:50Z`).
pub fn rfc3339(at: OffsetDateTime) -> String {
    let at = at
        .to_offset(time::UtcOffset::UTC)
        .replace_nanosecond(0)
        .unwrap_or(at);
    at.format(&Rfc3339).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_mark_reads_back_as_the_time_it_was_written_with() {
        let at = OffsetDateTime::from_unix_timestamp(1_796_000_000).unwrap();
        let mark = leaver_mark(at);
        assert!(mark.starts_with(LEAVER_MARK_PREFIX), "{mark}");
        assert_eq!(LeaverMark::parse(Some(&mark)), LeaverMark::Since(at));
    }

    #[test]
    fn a_value_the_controller_did_not_write_is_foreign_and_empty_is_none() {
        assert_eq!(LeaverMark::parse(None), LeaverMark::None);
        assert_eq!(LeaverMark::parse(Some("  ")), LeaverMark::None);
        assert_eq!(
            LeaverMark::parse(Some("cost-centre 42")),
            LeaverMark::Foreign
        );
        assert_eq!(
            LeaverMark::parse(Some("o365-controller leaver since yesterday")),
            LeaverMark::Foreign
        );
    }
}
