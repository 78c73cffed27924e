//! The documented, stable derivation of `onPremisesImmutableId` from a UPN.
//!
//! Without an explicit `immutableId`, a user's immutable ID is the standard base64 encoding
//! (RFC 4648 alphabet, with `=` padding) of the UTF-8 bytes of the lower-cased user principal
//! name. An identity provider can compute the same value from the UPN it already has, e.g.
//! `printf %s ann@corp.example.com | base64`. Graph forbids `$` and `_` in the value; the
//! base64 alphabet has neither.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;

/// The immutable ID a user gets when its AppAssignment entry names none: base64 (standard
/// alphabet, padded) of the UTF-8 bytes of the lower-cased UPN.
pub fn derive_immutable_id(upn: &str) -> String {
    STANDARD.encode(upn.to_lowercase().as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn immutable_id_is_base64_of_the_lower_cased_upn() {
        // printf %s ann@corp.example.com | base64
        assert_eq!(
            derive_immutable_id("Ann@Corp.Example.com"),
            "YW5uQGNvcnAuZXhhbXBsZS5jb20="
        );
        assert_eq!(
            derive_immutable_id("ann@corp.example.com"),
            derive_immutable_id("ANN@CORP.EXAMPLE.COM")
        );
    }

    #[test]
    fn immutable_id_never_contains_characters_graph_forbids() {
        for upn in ["a?b>c@x.io", "ÿÿÿ@x.io", "~~~~@example.com", "o'neil@x.io"] {
            let id = derive_immutable_id(upn);
            assert!(!id.contains('$') && !id.contains('_'), "{id}");
        }
    }
}
