//! Certificates are compared by what they are, not how they are spelled: the SHA-256
//! thumbprint of the DER bytes (line breaks and other whitespace in the base64 are ignored).

use std::fmt::Write as _;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use sha2::{Digest, Sha256};

/// The SHA-256 thumbprint (upper-case hex) of a base64-encoded DER certificate, or `None`
/// when the text is not base64.
pub fn certificate_thumbprint(base64_der: &str) -> Option<String> {
    let compact: String = base64_der.chars().filter(|c| !c.is_whitespace()).collect();
    let der = STANDARD.decode(compact.as_bytes()).ok()?;
    if der.is_empty() {
        return None;
    }
    Some(upper_hex(&Sha256::digest(&der)))
}

/// The end of validity (RFC 3339) of a base64-encoded DER certificate, or `None` when it
/// does not parse as X.509.
pub fn certificate_not_after(base64_der: &str) -> Option<String> {
    let seconds = certificate_not_after_unix(base64_der)?;
    let at = time::OffsetDateTime::from_unix_timestamp(seconds).ok()?;
    at.format(&time::format_description::well_known::Rfc3339)
        .ok()
}

/// The end of validity (Unix seconds) of a base64-encoded DER certificate, or `None` when it
/// does not parse as X.509.
pub fn certificate_not_after_unix(base64_der: &str) -> Option<i64> {
    let compact: String = base64_der.chars().filter(|c| !c.is_whitespace()).collect();
    let der = STANDARD.decode(compact.as_bytes()).ok()?;
    let (_, cert) = x509_parser::parse_x509_certificate(&der).ok()?;
    Some(cert.validity().not_after.timestamp())
}

/// Upper-case hex of some bytes.
pub(crate) fn upper_hex(bytes: &[u8]) -> String {
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        let _ = write!(s, "{b:02X}");
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A self-signed certificate valid until 2036-11-24T11:13:36Z (`openssl req -x509`).
    const CERT: &str = "MIIBejCCASGgAwIBAgIUXybojbEC4R6ogeypvrZoLTrM34swCgYIKoZIzj0EAwIwEzERMA8GA1UEAwwIaWRwLnRlc3QwHhcNMjYxMTI3MTExMzM2WhcNMzYxMTI0MTExMzM2WjATMREwDwYDVQQDDAhpZHAudGVzdDBZMBMGByqGSM49AgEGCCqGSM49AwEHA0IABL5gVt7uiELaGTHqX8o1x+NiDIsOCGqlddyAGW7hszZbmj+Y2IGNyHSwZzcNH1TpJdi0L6ENrWiLRAMBuFrha3CjUzBRMB0GA1UdDgQWBBR+LvW8LR7SJoV3QlDbtxWNQnlDdzAfBgNVHSMEGDAWgBR+LvW8LR7SJoV3QlDbtxWNQnlDdzAPBgNVHRMBAf8EBTADAQH/MAoGCCqGSM49BAMCA0cAMEQCIFIQYXZjrarM25RynKtBOwi9hAxm1VdyhQxSIphY8UQGAiBS+HofqRiO9CxRJuY0ScqeZIcvzvtzVN7iOC0fXto7dw==";

    #[test]
    fn not_after_is_read_from_the_certificate() {
        assert_eq!(
            certificate_not_after(CERT).as_deref(),
            Some("2036-11-24T11:13:36Z")
        );
        assert_eq!(certificate_not_after("YWJj"), None);
    }

    #[test]
    fn thumbprint_is_sha256_of_the_der_bytes() {
        // "abc" in base64; SHA-256("abc") is a published test vector.
        assert_eq!(
            certificate_thumbprint("YWJj").as_deref(),
            Some("BA7816BF8F01CFEA414140DE5DAE2223B00361A396177A9CB410FF61F20015AD")
        );
    }

    #[test]
    fn thumbprint_ignores_line_breaks_in_the_base64() {
        assert_eq!(
            certificate_thumbprint("YW\nJj\r\n"),
            certificate_thumbprint("YWJj")
        );
    }

    #[test]
    fn thumbprint_of_text_that_is_not_base64_is_none() {
        assert_eq!(certificate_thumbprint("not base64 at all!"), None);
        assert_eq!(certificate_thumbprint(""), None);
    }
}
