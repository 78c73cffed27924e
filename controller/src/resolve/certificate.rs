//! Certificates arrive as PEM or as base64 DER; Graph wants base64 DER.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;

use super::CertificateError;

/// Normalises a certificate given as PEM (the first `CERTIFICATE` block) or base64 DER to
/// base64 DER without line breaks, checking that it decodes.
pub fn to_base64_der(text: &str) -> Result<String, CertificateError> {
    let body: String = if let Some(start) = text.find("-----BEGIN CERTIFICATE-----") {
        let rest = &text[start + "-----BEGIN CERTIFICATE-----".len()..];
        let end = rest
            .find("-----END CERTIFICATE-----")
            .ok_or(CertificateError::Unterminated)?;
        rest[..end].split_whitespace().collect()
    } else {
        text.split_whitespace().collect()
    };
    if body.is_empty() {
        return Err(CertificateError::Empty);
    }
    let der = STANDARD
        .decode(body.as_bytes())
        .map_err(|e| CertificateError::NotBase64(e.to_string()))?;
    if der.first() != Some(&0x30) {
        return Err(CertificateError::NotDer);
    }
    Ok(STANDARD.encode(der))
}

#[cfg(test)]
mod tests {
    use super::*;

    const DER_B64: &str = "MAMCAQE=";

    #[test]
    fn pem_and_base64_der_give_the_same_value() {
        let pem = "-----BEGIN CERTIFICATE-----\nMAMC\nAQE=\n-----END CERTIFICATE-----\n";
        assert_eq!(to_base64_der(pem).unwrap(), DER_B64);
        assert_eq!(to_base64_der(" MAMCAQE= \n").unwrap(), DER_B64);
    }

    #[test]
    fn garbage_is_refused_with_a_reason() {
        assert!(matches!(
            to_base64_der("not a certificate!"),
            Err(CertificateError::NotBase64(_))
        ));
        assert_eq!(
            to_base64_der("-----BEGIN CERTIFICATE-----\nMAMC"),
            Err(CertificateError::Unterminated)
        );
        assert_eq!(to_base64_der("aGVsbG8="), Err(CertificateError::NotDer));
        assert_eq!(to_base64_der("  \n"), Err(CertificateError::Empty));
        assert!(
            CertificateError::NotDer
                .to_string()
                .contains("starts with a SEQUENCE")
        );
    }
}
