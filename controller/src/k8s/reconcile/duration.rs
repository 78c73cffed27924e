//! Durations as the CRDs write them: `30s`, `10m`, `1h30m`, `500ms`. Parsed with checked
//! arithmetic (a hostile value is `None`, never a panic) and bounded: admission (CEL) and the
//! loader refuse a `resyncInterval` outside [`MIN_RESYNC`]..=[`MAX_RESYNC`], and the
//! controller clamps objects stored before those rules existed.

use std::time::Duration;

/// The shortest `resyncInterval` accepted: below it a tenant would spend its Graph budget on
/// drift checks.
pub const MIN_RESYNC: Duration = Duration::from_secs(30);

/// The longest `resyncInterval` accepted (one day).
pub const MAX_RESYNC: Duration = Duration::from_secs(24 * 3600);

/// Parses a duration such as `1h30m`; `None` when it is not one or does not fit a `Duration`.
pub fn parse_duration(text: &str) -> Option<Duration> {
    let mut total = Duration::ZERO;
    let mut rest = text.trim();
    if rest.is_empty() {
        return None;
    }
    while !rest.is_empty() {
        let digits = rest.find(|c: char| !c.is_ascii_digit())?;
        if digits == 0 {
            return None;
        }
        let n: u64 = rest[..digits].parse().ok()?;
        rest = &rest[digits..];
        let unit_len = rest
            .find(|c: char| c.is_ascii_digit())
            .unwrap_or(rest.len());
        let unit = &rest[..unit_len];
        rest = &rest[unit_len..];
        let part = match unit {
            "ms" => Duration::from_millis(n),
            "s" => Duration::from_secs(n),
            "m" => Duration::from_secs(n.checked_mul(60)?),
            "h" => Duration::from_secs(n.checked_mul(3600)?),
            _ => return None,
        };
        total = total.checked_add(part)?;
    }
    Some(total)
}

/// `resyncInterval` as the controller uses it: parsed, and kept within the admission bounds
/// (an object stored before the bounds existed may hold `1ms` or `99999h`); `None` when it
/// does not parse.
pub fn bounded_resync(text: &str) -> Option<Duration> {
    parse_duration(text).map(|d| d.clamp(MIN_RESYNC, MAX_RESYNC))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn durations_of_the_crds_parse() {
        assert_eq!(parse_duration("30s"), Some(Duration::from_secs(30)));
        assert_eq!(parse_duration("10m"), Some(Duration::from_secs(600)));
        assert_eq!(parse_duration("1h30m"), Some(Duration::from_secs(5400)));
        assert_eq!(parse_duration("500ms"), Some(Duration::from_millis(500)));
        assert_eq!(parse_duration("10"), None);
        assert_eq!(parse_duration("m"), None);
        assert_eq!(parse_duration("5d"), None);
    }

    #[test]
    fn a_sum_that_overflows_is_not_a_duration_instead_of_a_panic() {
        assert_eq!(parse_duration("18446744073709551615s1s"), None);
        assert_eq!(parse_duration("18446744073709551615h"), None);
        assert_eq!(parse_duration("99999999999999999999s"), None);
        assert_eq!(
            parse_duration("18446744073709551615s"),
            Some(Duration::from_secs(u64::MAX))
        );
    }

    #[test]
    fn the_controller_keeps_resync_within_30s_and_24h() {
        assert_eq!(bounded_resync("1ms"), Some(MIN_RESYNC));
        assert_eq!(bounded_resync("0s"), Some(MIN_RESYNC));
        assert_eq!(bounded_resync("99999h"), Some(MAX_RESYNC));
        assert_eq!(bounded_resync("10m"), Some(Duration::from_secs(600)));
        assert_eq!(bounded_resync("18446744073709551615s1s"), None);
    }

    proptest! {
        #[test]
        fn any_string_parses_or_is_refused_without_panicking(text in any::<String>()) {
            let _ = parse_duration(&text);
            let _ = bounded_resync(&text);
        }

        #[test]
        fn duration_shaped_strings_with_huge_numbers_never_panic(
            parts in proptest::collection::vec(("[0-9]{1,25}", "(ms|s|m|h)"), 1..8)
        ) {
            let text: String = parts.iter().map(|(n, u)| format!("{n}{u}")).collect();
            if let Some(d) = bounded_resync(&text) {
                prop_assert!((MIN_RESYNC..=MAX_RESYNC).contains(&d));
            }
        }

        #[test]
        fn well_formed_durations_add_up(h in 0u64..100, m in 0u64..60, s in 0u64..60, ms in 0u64..1000) {
            let text = format!("{h}h{m}m{s}s{ms}ms");
            let want = Duration::from_millis(((h * 60 + m) * 60 + s) * 1000 + ms);
            prop_assert_eq!(parse_duration(&text), Some(want));
        }
    }
}
