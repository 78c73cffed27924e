//! The federation settings a FederatedDomain asks for, and how they differ from the tenant's.
//! Fields the spec leaves unset are not managed; certificates are compared by thumbprint.

use super::certificate::certificate_thumbprint;
use crate::api::{
    AuthenticationProtocol, FederatedIdpMfaBehavior, Federation, PromptLoginBehavior,
};
use crate::model::FederationSettings;

/// The settings to write, from the spec and the resolved certificates (base64 DER).
pub(crate) fn desired_settings(
    fed: &Federation,
    signing: &str,
    next: Option<&str>,
) -> FederationSettings {
    FederationSettings {
        id: String::new(),
        display_name: fed.display_name.clone(),
        issuer_uri: Some(fed.issuer_uri.clone()),
        passive_sign_in_uri: Some(fed.passive_sign_in_uri.clone()),
        sign_out_uri: Some(fed.sign_out_uri.clone()),
        active_sign_in_uri: fed.active_sign_in_uri.clone(),
        metadata_exchange_uri: fed.metadata_exchange_uri.clone(),
        preferred_authentication_protocol: Some(
            protocol(fed.preferred_authentication_protocol).to_string(),
        ),
        federated_idp_mfa_behavior: Some(mfa(fed.federated_idp_mfa_behavior).to_string()),
        prompt_login_behavior: fed.prompt_login_behavior.map(|p| prompt(p).to_string()),
        is_signed_authentication_request_required: fed.is_signed_authentication_request_required,
        signing_certificate: Some(signing.to_string()),
        next_signing_certificate: next.map(str::to_string),
    }
}

fn protocol(p: AuthenticationProtocol) -> &'static str {
    match p {
        AuthenticationProtocol::WsFed => "wsFed",
        AuthenticationProtocol::Saml => "saml",
    }
}

fn mfa(m: FederatedIdpMfaBehavior) -> &'static str {
    match m {
        FederatedIdpMfaBehavior::AcceptIfMfaDoneByFederatedIdp => "acceptIfMfaDoneByFederatedIdp",
        FederatedIdpMfaBehavior::EnforceMfaByFederatedIdp => "enforceMfaByFederatedIdp",
        FederatedIdpMfaBehavior::RejectMfaByFederatedIdp => "rejectMfaByFederatedIdp",
    }
}

fn prompt(p: PromptLoginBehavior) -> &'static str {
    match p {
        PromptLoginBehavior::TranslateToFreshPasswordAuthentication => {
            "translateToFreshPasswordAuthentication"
        }
        PromptLoginBehavior::NativeSupport => "nativeSupport",
        PromptLoginBehavior::Disabled => "disabled",
    }
}

/// One drifted federation field: `federation.<field>`, desired, observed.
pub(crate) type FieldDrift = (String, String, String);

/// The fields to patch (others `None`) and the drift they correct.
#[derive(Debug, Default)]
pub(crate) struct SettingsDiff {
    pub changes: FederationSettings,
    pub drift: Vec<FieldDrift>,
}

impl SettingsDiff {
    fn text(
        &mut self,
        field: &str,
        want: &Option<String>,
        have: &Option<String>,
        exact: bool,
    ) -> Option<String> {
        let want = want.as_ref()?;
        let same = have.as_ref().is_some_and(|h| {
            if exact {
                h == want
            } else {
                h.eq_ignore_ascii_case(want)
            }
        });
        if same {
            return None;
        }
        self.drift.push((
            format!("federation.{field}"),
            want.clone(),
            have.clone().unwrap_or_default(),
        ));
        Some(want.clone())
    }

    fn certificate(
        &mut self,
        field: &str,
        want: &Option<String>,
        have: &Option<String>,
    ) -> Option<String> {
        let want = want.as_ref()?;
        let want_tp = certificate_thumbprint(want);
        let have_tp = have.as_deref().and_then(certificate_thumbprint);
        if want_tp.is_some() && want_tp == have_tp {
            return None;
        }
        self.drift.push((
            format!("federation.{field}"),
            want_tp.unwrap_or_default(),
            have_tp.unwrap_or_default(),
        ));
        Some(want.clone())
    }
}

/// What differs between the desired settings and the tenant's.
pub(crate) fn diff_settings(want: &FederationSettings, have: &FederationSettings) -> SettingsDiff {
    let mut d = SettingsDiff::default();
    let c = FederationSettings {
        id: String::new(),
        display_name: d.text("displayName", &want.display_name, &have.display_name, true),
        issuer_uri: d.text("issuerUri", &want.issuer_uri, &have.issuer_uri, true),
        passive_sign_in_uri: d.text(
            "passiveSignInUri",
            &want.passive_sign_in_uri,
            &have.passive_sign_in_uri,
            true,
        ),
        sign_out_uri: d.text("signOutUri", &want.sign_out_uri, &have.sign_out_uri, true),
        active_sign_in_uri: d.text(
            "activeSignInUri",
            &want.active_sign_in_uri,
            &have.active_sign_in_uri,
            true,
        ),
        metadata_exchange_uri: d.text(
            "metadataExchangeUri",
            &want.metadata_exchange_uri,
            &have.metadata_exchange_uri,
            true,
        ),
        preferred_authentication_protocol: d.text(
            "preferredAuthenticationProtocol",
            &want.preferred_authentication_protocol,
            &have.preferred_authentication_protocol,
            false,
        ),
        federated_idp_mfa_behavior: d.text(
            "federatedIdpMfaBehavior",
            &want.federated_idp_mfa_behavior,
            &have.federated_idp_mfa_behavior,
            false,
        ),
        prompt_login_behavior: d.text(
            "promptLoginBehavior",
            &want.prompt_login_behavior,
            &have.prompt_login_behavior,
            false,
        ),
        is_signed_authentication_request_required: None,
        signing_certificate: d.certificate(
            "signingCertificate",
            &want.signing_certificate,
            &have.signing_certificate,
        ),
        next_signing_certificate: d.certificate(
            "nextSigningCertificate",
            &want.next_signing_certificate,
            &have.next_signing_certificate,
        ),
    };
    let mut changes = c;
    if let Some(want_signed) = want.is_signed_authentication_request_required
        && have.is_signed_authentication_request_required != Some(want_signed)
    {
        d.drift.push((
            "federation.isSignedAuthenticationRequestRequired".to_string(),
            want_signed.to_string(),
            have.is_signed_authentication_request_required
                .map(|b| b.to_string())
                .unwrap_or_default(),
        ));
        changes.is_signed_authentication_request_required = Some(want_signed);
    }
    d.changes = changes;
    d
}
