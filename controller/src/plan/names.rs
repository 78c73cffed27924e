//! Small helpers on user principal names and domain names.

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

/// The lower-case form used to match UPNs and domain names.
pub(crate) fn fold(s: &str) -> String {
    s.to_lowercase()
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
