//! Small helpers on user principal names and domain names.

use std::borrow::Cow;

use crate::model::DesiredTenant;

/// The position of the last `@` (a byte search: `@` is ASCII).
fn last_at(upn: &str) -> Option<usize> {
    upn.bytes().rposition(|b| b == b'@')
}

/// The domain part of a UPN (after the last `@`), or `""` when there is none.
pub(crate) fn upn_domain(upn: &str) -> &str {
    last_at(upn).map_or("", |at| &upn[at + 1..])
}

/// The local part of a UPN (before the last `@`), or the whole string when there is no `@`.
pub(crate) fn local_part(upn: &str) -> &str {
    last_at(upn).map_or(upn, |at| &upn[..at])
}

/// Whether the UPN belongs to the domain (case-insensitive).
pub(crate) fn in_domain(upn: &str, domain: &str) -> bool {
    upn_domain(upn).eq_ignore_ascii_case(domain)
}

/// The lower-case form used to match UPNs and domain names (ASCII fast path: UPNs are ASCII).
pub(crate) fn fold(s: &str) -> String {
    if s.is_ascii() {
        s.to_ascii_lowercase()
    } else {
        s.to_lowercase()
    }
}

/// [`fold`] without allocating when the name is lower case already (most UPNs are).
pub(crate) fn fold_cow(s: &str) -> Cow<'_, str> {
    if s.is_ascii() && !s.bytes().any(|b| b.is_ascii_uppercase()) {
        Cow::Borrowed(s)
    } else {
        Cow::Owned(fold(s))
    }
}

/// Whether two names are equal once folded (`fold(a) == fold(b)`), without allocating for
/// ASCII names.
pub(crate) fn same_folded(a: &str, b: &str) -> bool {
    if a.is_ascii() && b.is_ascii() {
        a.eq_ignore_ascii_case(b)
    } else {
        fold(a) == fold(b)
    }
}

/// Orders UPNs ignoring ASCII case (ties broken by the exact bytes), without allocating.
pub(crate) fn cmp_folded(a: &str, b: &str) -> std::cmp::Ordering {
    ascii_lower(a).cmp(ascii_lower(b)).then_with(|| a.cmp(b))
}

fn ascii_lower(s: &str) -> impl Iterator<Item = u8> + '_ {
    s.bytes().map(|b| b.to_ascii_lowercase())
}

/// The folded UPNs of every AppAssignment's users, in spec order (computed once per plan).
pub(crate) fn fold_listed(desired: &DesiredTenant) -> Vec<Vec<Cow<'_, str>>> {
    desired
        .assignments
        .iter()
        .map(|a| {
            a.spec
                .users
                .iter()
                .map(|u| fold_cow(&u.user_principal_name))
                .collect()
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn upn_parts_split_at_the_last_at_sign() {
        assert_eq!(upn_domain("ann@Corp.Example.com"), "Corp.Example.com");
        assert_eq!(local_part("ann@corp.example.com"), "ann");
        assert_eq!(upn_domain("no-domain"), "");
        assert!(in_domain("ann@CORP.example.com", "corp.example.COM"));
        assert!(!in_domain("ann@sub.corp.example.com", "corp.example.com"));
        assert_eq!(upn_domain("a@b@c.example"), "c.example");
        assert_eq!(local_part("a@b@c.example"), "a@b");
    }

    #[test]
    fn folding_borrows_lower_case_names_and_compares_like_fold() {
        assert!(matches!(fold_cow("ann@corp.example"), Cow::Borrowed(_)));
        assert_eq!(fold_cow("Ann@Corp.example"), "ann@corp.example");
        assert_eq!(fold_cow("ÄNN@corp.example"), fold("ÄNN@corp.example"));
        assert!(same_folded("Ann@Corp.example", "ann@corp.EXAMPLE"));
        assert!(same_folded("ÄNN@corp.example", "änn@corp.example"));
        assert!(!same_folded("ann@corp.example", "anne@corp.example"));
    }
}
