//! Small helpers on user principal names and domain names.

use crate::model::DesiredTenant;

/// The domain part of a UPN (after the last `@`), or `""` when there is none.
pub(crate) fn upn_domain(upn: &str) -> &str {
    upn.rsplit_once('@').map_or("", |(_, domain)| domain)
}

/// The local part of a UPN (before the last `@`), or the whole string when there is no `@`.
pub(crate) fn local_part(upn: &str) -> &str {
    upn.rsplit_once('@').map_or(upn, |(local, _)| local)
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

/// Orders UPNs ignoring ASCII case (ties broken by the exact bytes), without allocating.
pub(crate) fn cmp_folded(a: &str, b: &str) -> std::cmp::Ordering {
    ascii_lower(a).cmp(ascii_lower(b)).then_with(|| a.cmp(b))
}

fn ascii_lower(s: &str) -> impl Iterator<Item = u8> + '_ {
    s.bytes().map(|b| b.to_ascii_lowercase())
}

/// The folded UPNs of every AppAssignment's users, in spec order (computed once per plan).
pub(crate) fn fold_listed(desired: &DesiredTenant) -> Vec<Vec<String>> {
    desired
        .assignments
        .iter()
        .map(|a| {
            a.spec
                .users
                .iter()
                .map(|u| fold(&u.user_principal_name))
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
    }
}
