//! The FederatedDomain of an imported domain: its authentication and, when federated, the
//! federation settings and signing certificates exactly as Entra holds them.

use crate::api::{
    Authentication, AuthenticationProtocol, CertificateSource, FederatedDomainSpec,
    FederatedIdpMfaBehavior, Federation, LocalRef, PromptLoginBehavior,
};
use crate::model::{AuthenticationType, FederationSettings, ObservedDomain};
use crate::plan::{certificate_not_after, certificate_thumbprint};

/// The spec, the comments to put above it, and what could not be expressed (each also a
/// comment). `None` spec: the domain cannot be written at all (the reason is in `lossy`).
pub struct ImportedDomain {
    pub spec: Option<FederatedDomainSpec>,
    pub comments: Vec<String>,
    pub lossy: Vec<String>,
}

/// The FederatedDomain spec for `d` of tenant `tenant`.
pub fn domain_spec(d: &ObservedDomain, tenant: &str) -> ImportedDomain {
    let mut out = ImportedDomain {
        spec: None,
        comments: Vec::new(),
        lossy: Vec::new(),
    };
    let mut spec = FederatedDomainSpec {
        tenant_ref: LocalRef {
            name: tenant.to_string(),
        },
        domain: d.name.to_ascii_lowercase(),
        authentication: Authentication::Managed,
        federation: None,
        safety: Default::default(),
        unassigned_users: Default::default(),
        leaver_stages: None,
        protected_users: Vec::new(),
        change_budget: Default::default(),
        deletion_policy: Default::default(),
        mode: None,
        allowed_assignments: Default::default(),
    };
    if d.authentication == AuthenticationType::Managed {
        out.comments.push(format!(
            "{}: Managed (cloud authentication) in the tenant; authentication: Managed keeps it so",
            d.name
        ));
        out.spec = Some(spec);
        return out;
    }
    let Some(settings) = &d.federation else {
        out.lossy.push(format!(
            "{} is federated but its federation configuration could not be read: the \
             FederatedDomain and its users are not written (authentication: Managed would \
             convert it back)",
            d.name
        ));
        return out;
    };
    match federation(settings, &mut out) {
        Some(f) => {
            spec.authentication = Authentication::Federated;
            spec.federation = Some(f);
            out.spec = Some(spec);
        }
        None => out.lossy.push(format!(
            "{} is federated but lacks a setting spec.federation requires (issuerUri, \
             passiveSignInUri, signOutUri, signingCertificate): the FederatedDomain and its \
             users are not written",
            d.name
        )),
    }
    out
}

fn federation(s: &FederationSettings, out: &mut ImportedDomain) -> Option<Federation> {
    let signing = certificate(s.signing_certificate.as_deref()?, "signingCertificate", out)?;
    let next = match s.next_signing_certificate.as_deref() {
        Some(c) => Some(certificate(c, "nextSigningCertificate", out)?),
        None => None,
    };
    let protocol = match s.preferred_authentication_protocol.as_deref() {
        Some(p) if p.eq_ignore_ascii_case("saml") => AuthenticationProtocol::Saml,
        Some(p) if p.eq_ignore_ascii_case("wsFed") => AuthenticationProtocol::WsFed,
        other => {
            out.lossy.push(format!(
                "preferredAuthenticationProtocol is {} in the tenant; the API knows wsFed and \
                 saml and writes wsFed (the plan will set it)",
                other.map_or("unset".to_string(), |p| format!("{p:?}"))
            ));
            AuthenticationProtocol::WsFed
        }
    };
    let mfa = match s.federated_idp_mfa_behavior.as_deref() {
        Some(m) if m.eq_ignore_ascii_case("acceptIfMfaDoneByFederatedIdp") => {
            FederatedIdpMfaBehavior::AcceptIfMfaDoneByFederatedIdp
        }
        Some(m) if m.eq_ignore_ascii_case("enforceMfaByFederatedIdp") => {
            FederatedIdpMfaBehavior::EnforceMfaByFederatedIdp
        }
        Some(m) if m.eq_ignore_ascii_case("rejectMfaByFederatedIdp") => {
            FederatedIdpMfaBehavior::RejectMfaByFederatedIdp
        }
        other => {
            out.lossy.push(format!(
                "federatedIdpMfaBehavior is {} in the tenant; the API writes the default \
                 acceptIfMfaDoneByFederatedIdp (the plan will set it)",
                other.map_or("unset".to_string(), |p| format!("{p:?}"))
            ));
            FederatedIdpMfaBehavior::AcceptIfMfaDoneByFederatedIdp
        }
    };
    let prompt = match s.prompt_login_behavior.as_deref() {
        None => None,
        Some(p) if p.eq_ignore_ascii_case("translateToFreshPasswordAuthentication") => {
            Some(PromptLoginBehavior::TranslateToFreshPasswordAuthentication)
        }
        Some(p) if p.eq_ignore_ascii_case("nativeSupport") => {
            Some(PromptLoginBehavior::NativeSupport)
        }
        Some(p) if p.eq_ignore_ascii_case("disabled") => Some(PromptLoginBehavior::Disabled),
        Some(p) => {
            out.lossy.push(format!(
                "promptLoginBehavior is {p:?} in the tenant, a value the API does not know: \
                 left unset (not managed)"
            ));
            None
        }
    };
    let https = |field: &str, v: &Option<String>, out: &mut ImportedDomain| {
        let v = v.as_ref()?;
        if v.starts_with("https://") {
            Some(v.clone())
        } else {
            out.lossy.push(format!(
                "{field} {v:?} is not an https:// URL, which the API requires: not written \
                 (not managed)"
            ));
            None
        }
    };
    let required = |v: Option<String>| v.filter(|v| v.starts_with("https://"));
    let issuer_uri = required(https("issuerUri", &s.issuer_uri, out))?;
    let passive_sign_in_uri = required(https("passiveSignInUri", &s.passive_sign_in_uri, out))?;
    let sign_out_uri = required(https("signOutUri", &s.sign_out_uri, out))?;
    Some(Federation {
        issuer_uri,
        passive_sign_in_uri,
        sign_out_uri,
        active_sign_in_uri: https("activeSignInUri", &s.active_sign_in_uri, out),
        metadata_exchange_uri: https("metadataExchangeUri", &s.metadata_exchange_uri, out),
        display_name: s.display_name.clone().filter(|n| {
            let ok = n.chars().count() <= 256;
            if !ok {
                out.lossy
                    .push("displayName is longer than 256 characters: not written".into());
            }
            ok
        }),
        preferred_authentication_protocol: protocol,
        federated_idp_mfa_behavior: mfa,
        prompt_login_behavior: prompt,
        is_signed_authentication_request_required: s.is_signed_authentication_request_required,
        signing_certificate: signing,
        next_signing_certificate: next,
    })
}

/// A certificate inline as PEM, with a comment naming its thumbprint and end of validity.
fn certificate(b64: &str, field: &str, out: &mut ImportedDomain) -> Option<CertificateSource> {
    let compact: String = b64.chars().filter(|c| !c.is_whitespace()).collect();
    let Some(thumbprint) = certificate_thumbprint(&compact) else {
        out.lossy.push(format!(
            "{field} in the tenant is not a base64 DER certificate: it cannot be written"
        ));
        return None;
    };
    let until = certificate_not_after(&compact)
        .map(|t| format!(", valid until {t}"))
        .unwrap_or_default();
    out.comments.push(format!(
        "federation.{field}: SHA-256 {thumbprint}{until} (the certificate is public; keep it \
         inline or move it to a Secret or ConfigMap key)"
    ));
    Some(CertificateSource {
        value: Some(pem(&compact)),
        secret_key_ref: None,
        config_map_key_ref: None,
    })
}

/// Base64 DER as a PEM certificate.
fn pem(b64: &str) -> String {
    let mut out = String::from("-----BEGIN CERTIFICATE-----\n");
    let bytes = b64.as_bytes();
    for chunk in bytes.chunks(64) {
        out.push_str(&String::from_utf8_lossy(chunk));
        out.push('\n');
    }
    out.push_str("-----END CERTIFICATE-----\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn domain(fed: Option<FederationSettings>) -> ObservedDomain {
        ObservedDomain {
            name: "corp.example.com".into(),
            is_verified: true,
            is_default: false,
            is_initial: false,
            authentication: if fed.is_some() {
                AuthenticationType::Federated
            } else {
                AuthenticationType::Managed
            },
            federation: fed,
        }
    }

    #[test]
    fn a_managed_domain_stays_managed() {
        let d = domain_spec(&domain(None), "corp");
        let spec = d.spec.unwrap();
        assert_eq!(spec.authentication, Authentication::Managed);
        assert!(spec.federation.is_none() && d.lossy.is_empty());
    }

    #[test]
    fn a_federated_domain_without_readable_settings_is_not_written() {
        let mut d = domain(Some(FederationSettings::default()));
        let out = domain_spec(&d, "corp");
        assert!(out.spec.is_none() && !out.lossy.is_empty());
        d.federation = None;
        d.authentication = AuthenticationType::Federated;
        assert!(domain_spec(&d, "corp").spec.is_none());
    }

    #[test]
    fn pem_wraps_at_64_characters() {
        let p = pem(&"A".repeat(130));
        let lines: Vec<&str> = p.lines().collect();
        assert_eq!(lines.len(), 5);
        assert_eq!(lines[1].len(), 64);
        assert_eq!(lines[3], "AA");
    }
}
