//! Certificates arrive as PEM or as base64 DER; Graph wants base64 DER.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;

/// Normalises a certificate given as PEM (the first `CERTIFICATE` block) or base64 DER to
/// base64 DER without line breaks, checking that it decodes.
pub fn to_base64_der(text: &str) -> Result<String, String> {
    let body: String = if let Some(start) = text.find("-----BEGIN CERTIFICATE-----") {
        let rest = &text[start + "-----BEGIN CERTIFICATE-----".len()..];
        let end = rest
            .find("-----END CERTIFICATE-----")
            .ok_or("the PEM certificate has no -----END CERTIFICATE----- line")?;
        rest[..end].split_whitespace().collect()
    } else {
        text.split_whitespace().collect()
    };
    if body.is_empty() {
        return Err("the certificate is empty".into());
    }
    let der = STANDARD
        .decode(body.as_bytes())
        .map_err(|e| format!("the certificate is neither PEM nor base64 DER: {e}"))?;
    if der.first() != Some(&0x30) {
        return Err(
            "the certificate does not decode to DER (an X.509 certificate starts with a SEQUENCE)"
                .into(),
        );
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
        assert!(
            to_base64_der("not a certificate!")
                .unwrap_err()
                .contains("neither PEM nor base64")
        );
        assert!(
            to_base64_der("-----BEGIN CERTIFICATE-----\nMAMC")
                .unwrap_err()
                .contains("END CERTIFICATE")
        );
        assert!(to_base64_der("aGVsbG8=").unwrap_err().contains("DER"));
    }
}
