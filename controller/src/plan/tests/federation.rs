//! Rules 6–8: federation create/update/revert, refusals and pre-flights.

use crate::api::{DeletionPolicy, PromptLoginBehavior};
use crate::model::{
    Action, AuthenticationType, Drift, FederationSettings, GLOBAL_ADMINISTRATOR, Plan, Severity,
    State,
};
use crate::plan::testing::*;
use crate::plan::{certificate_thumbprint, sign_in_link};
use crate::resolve::{CertificateError, KeyError, KeyKind};

/// A world whose `corp` FederatedDomain asks for `Federated` (the tenant's is Managed).
fn federating() -> World {
    let mut w = World::new();
    w.desired.domains[0] = federated(w.desired.domains[0].clone());
    w
}

/// The settings the builders' spec asks for, as the tenant would report them.
fn observed_settings() -> FederationSettings {
    FederationSettings {
        id: "fed-1".into(),
        display_name: Some("Example IdP".into()),
        issuer_uri: Some("https://idp.example.com/issuer".into()),
        passive_sign_in_uri: Some("https://idp.example.com/sso".into()),
        sign_out_uri: Some("https://idp.example.com/logout".into()),
        active_sign_in_uri: None,
        metadata_exchange_uri: None,
        preferred_authentication_protocol: Some("wsFed".into()),
        federated_idp_mfa_behavior: Some("acceptIfMfaDoneByFederatedIdp".into()),
        prompt_login_behavior: None,
        is_signed_authentication_request_required: None,
        signing_certificate: Some(CERT_A.into()),
        next_signing_certificate: None,
    }
}

/// A world where corp.example.com is already federated with the spec's settings.
fn already_federated() -> World {
    let mut w = federating();
    let corp = w.observed_corp();
    corp.authentication = AuthenticationType::Federated;
    corp.federation = Some(observed_settings());
    w
}

fn federation_actions(plan: &Plan) -> Vec<&Action> {
    actions_for(plan, DOMAIN)
}

fn refused(plan: &Plan, reason: Reason) {
    assert!(federation_actions(plan).is_empty(), "{:#?}", plan.actions);
    let f = finding(plan, reason);
    assert_eq!(f.severity, Severity::Error);
    assert_eq!(f.object, domain_key("corp"));
    assert_eq!(object(plan, &domain_key("corp")).state, State::Blocked);
    assert!(!plan.is_in_sync());
}

#[test]
fn federated_spec_on_managed_domain_creates_federation() {
    let plan = federating().plan();
    let mut want = observed_settings();
    want.id = String::new();
    assert_eq!(
        plan.actions,
        [Action::CreateFederation {
            domain: DOMAIN.into(),
            settings: Box::new(want),
        }]
    );
    let o = object(&plan, &domain_key("corp"));
    assert_eq!(o.drift, Drift::Drifted);
    assert_eq!(o.drift_entries[0].field, "authenticationType");
    assert_eq!(o.actions, 1);
}

#[test]
fn federation_settings_carry_every_spec_field() {
    let mut w = federating();
    let d = w.domain();
    let fed = d.spec.federation.as_mut().unwrap();
    fed.active_sign_in_uri = Some("https://idp.example.com/active".into());
    fed.metadata_exchange_uri = Some("https://idp.example.com/mex".into());
    fed.prompt_login_behavior = Some(PromptLoginBehavior::NativeSupport);
    fed.is_signed_authentication_request_required = Some(true);
    d.next_signing_certificate = Some(Ok(CERT_B.into()));
    let plan = w.plan();
    let Action::CreateFederation { settings, .. } = &plan.actions[0] else {
        panic!("{:#?}", plan.actions)
    };
    assert_eq!(
        settings.active_sign_in_uri.as_deref(),
        Some("https://idp.example.com/active")
    );
    assert_eq!(
        settings.metadata_exchange_uri.as_deref(),
        Some("https://idp.example.com/mex")
    );
    assert_eq!(
        settings.prompt_login_behavior.as_deref(),
        Some("nativeSupport")
    );
    assert_eq!(
        settings.is_signed_authentication_request_required,
        Some(true)
    );
    assert_eq!(settings.next_signing_certificate.as_deref(), Some(CERT_B));
}

#[test]
fn federation_in_sync_gives_no_action() {
    let plan = already_federated().plan();
    assert!(plan.actions.is_empty(), "{:#?}", plan.actions);
    assert_eq!(object(&plan, &domain_key("corp")).drift, Drift::InSync);
}

#[test]
fn federation_update_patches_only_changed_fields() {
    let mut w = already_federated();
    let have = w.observed_corp().federation.as_mut().unwrap();
    have.passive_sign_in_uri = Some("https://old.example.com/sso".into());
    have.federated_idp_mfa_behavior = Some("rejectMfaByFederatedIdp".into());
    let plan = w.plan();
    let changes = FederationSettings {
        passive_sign_in_uri: Some("https://idp.example.com/sso".into()),
        federated_idp_mfa_behavior: Some("acceptIfMfaDoneByFederatedIdp".into()),
        ..FederationSettings::default()
    };
    assert_eq!(
        plan.actions,
        [Action::UpdateFederation {
            domain: DOMAIN.into(),
            id: "fed-1".into(),
            changes: Box::new(changes),
        }]
    );
    let entries = &object(&plan, &domain_key("corp")).drift_entries;
    let fields: Vec<_> = entries.iter().map(|e| e.field.as_str()).collect();
    assert_eq!(
        fields,
        [
            "federation.passiveSignInUri",
            "federation.federatedIdpMfaBehavior"
        ]
    );
    assert_eq!(entries[0].observed, "https://old.example.com/sso");
}

#[test]
fn certificates_are_compared_by_thumbprint_not_text() {
    let mut w = already_federated();
    // The same DER, base64 with line breaks: not a change.
    w.observed_corp()
        .federation
        .as_mut()
        .unwrap()
        .signing_certificate = Some("Y2VydGlm\naWNhdGUgQQ==\n".into());
    let plan = w.plan();
    assert!(plan.actions.is_empty(), "{:#?}", plan.actions);
}

#[test]
fn changed_certificate_is_updated_and_drift_shows_thumbprints() {
    let mut w = already_federated();
    w.observed_corp()
        .federation
        .as_mut()
        .unwrap()
        .signing_certificate = Some(CERT_B.into());
    let plan = w.plan();
    let Action::UpdateFederation { changes, .. } = &plan.actions[0] else {
        panic!("{:#?}", plan.actions)
    };
    assert_eq!(changes.signing_certificate.as_deref(), Some(CERT_A));
    assert_eq!(changes.issuer_uri, None);
    let entry = &object(&plan, &domain_key("corp")).drift_entries[0];
    assert_eq!(entry.field, "federation.signingCertificate");
    assert_eq!(
        Some(entry.desired.to_string()),
        certificate_thumbprint(CERT_A)
    );
    assert_eq!(
        Some(entry.observed.to_string()),
        certificate_thumbprint(CERT_B)
    );
}

#[test]
fn unavailable_certificate_blocks_federation() {
    let mut w = federating();
    w.domain().signing_certificate = Some(Err(CertificateError::Key(KeyError::MissingKey {
        kind: KeyKind::Secret,
        name: "idp-cert".into(),
        key: "tls.crt".into(),
    })));
    let plan = w.plan();
    refused(&plan, Reason::CertificateUnavailable);
    assert!(
        finding(&plan, Reason::CertificateUnavailable)
            .message
            .contains("tls.crt")
    );
}

#[test]
fn unavailable_next_certificate_blocks_federation() {
    let mut w = federating();
    w.domain().next_signing_certificate = Some(Err(CertificateError::Key(KeyError::NotFound {
        kind: KeyKind::ConfigMap,
        namespace: "it".into(),
        name: "next".into(),
    })));
    refused(&w.plan(), Reason::CertificateUnavailable);
}

#[test]
fn managed_spec_on_federated_domain_reverts_to_managed() {
    let mut w = World::new();
    w.observed_corp().authentication = AuthenticationType::Federated;
    let plan = w.plan();
    assert_eq!(
        plan.actions,
        [Action::RevertToManaged {
            domain: DOMAIN.into()
        }]
    );
    let entry = &object(&plan, &domain_key("corp")).drift_entries[0];
    assert_eq!(
        (entry.field.as_str(), &*entry.desired, &*entry.observed),
        ("authenticationType", "Managed", "Federated")
    );
}

#[test]
fn managed_spec_on_managed_domain_is_in_sync() {
    let plan = World::new().plan();
    assert!(plan.actions.is_empty());
    assert_eq!(object(&plan, &domain_key("corp")).drift, Drift::InSync);
}

#[test]
fn deleting_with_revert_policy_reverts_to_managed() {
    let mut w = already_federated();
    w.domain().deleting = true;
    w.domain().spec.deletion_policy = DeletionPolicy::RevertToManaged;
    let plan = w.plan();
    assert_eq!(
        plan.actions,
        [Action::RevertToManaged {
            domain: DOMAIN.into()
        }]
    );
}

#[test]
fn deleting_with_orphan_policy_does_nothing() {
    let mut w = already_federated();
    w.domain().deleting = true;
    w.observed_corp().federation.as_mut().unwrap().issuer_uri = Some("https://drifted".into());
    let plan = w.plan();
    assert!(plan.actions.is_empty(), "{:#?}", plan.actions);
}

#[test]
fn sign_in_link_names_the_domain() {
    assert_eq!(
        sign_in_link("Corp.Example.com"),
        "https://login.microsoftonline.com/PostToIDP.srf?msg=AuthnReq&realm=corp.example.com&wa=wsignin1.0&wtrealm=urn:federation:MicrosoftOnline"
    );
}

#[test]
fn domain_missing_from_tenant_is_refused() {
    let mut w = federating();
    w.domain().spec.domain = "missing.example.com".into();
    refused(&w.plan(), Reason::DomainNotFound);
}

#[test]
fn unverified_domain_is_not_federated() {
    let mut w = federating();
    w.observed_corp().is_verified = false;
    let plan = w.plan();
    refused(&plan, Reason::DomainNotVerified);
    assert!(
        finding(&plan, Reason::DomainNotVerified)
            .message
            .contains("verify it in the Microsoft 365 admin center first")
    );
}

#[test]
fn default_domain_is_not_federated() {
    let mut w = federating();
    w.observed_corp().is_default = true;
    let plan = w.plan();
    refused(&plan, Reason::DefaultDomain);
    assert!(
        finding(&plan, Reason::DefaultDomain)
            .message
            .contains("make contoso.onmicrosoft.com the default domain first; a default domain cannot be federated")
    );
}

#[test]
fn initial_domain_is_not_federated() {
    let mut w = federating();
    w.observed_corp().is_initial = true;
    refused(&w.plan(), Reason::InitialDomain);
}

#[test]
fn federation_needs_an_enabled_break_glass_admin_outside_the_domain() {
    // The only Global Administrator is disabled.
    let mut w = federating();
    w.users_mut()[0].account_enabled = false;
    let plan = w.plan();
    refused(&plan, Reason::NoBreakGlassAdmin);
    assert!(
        finding(&plan, Reason::NoBreakGlassAdmin)
            .message
            .contains("contoso.onmicrosoft.com")
    );

    // The only enabled Global Administrator is inside the domain being federated.
    let mut w = federating().with_users([tenant_user("root@corp.example.com")]);
    w.users_mut()[0].account_enabled = false;
    let w = w.grant_role("id-root@corp.example.com", GLOBAL_ADMINISTRATOR);
    refused(&w.plan(), Reason::NoBreakGlassAdmin);

    // An enabled one outside: federation goes ahead.
    let plan = federating().plan();
    assert!(findings(&plan, Reason::NoBreakGlassAdmin).is_empty());
    assert_eq!(federation_actions(&plan).len(), 1);
}

#[test]
fn break_glass_check_can_be_turned_off() {
    let mut w = federating();
    w.users_mut()[0].account_enabled = false;
    w.domain().spec.safety.require_break_glass_admin = false;
    let plan = w.plan();
    assert!(findings(&plan, Reason::NoBreakGlassAdmin).is_empty());
    assert_eq!(federation_actions(&plan).len(), 1);
}

#[test]
fn federation_needs_immutable_ids_on_every_user_of_the_domain() {
    let mut a = tenant_user("zed@corp.example.com");
    a.immutable_id = None;
    let mut b = tenant_user("amy@corp.example.com");
    b.immutable_id = None;
    let plan = federating()
        .with_users([a, b, tenant_user("ok@corp.example.com")])
        .plan();
    refused(&plan, Reason::MissingImmutableIds);
    let f = finding(&plan, Reason::MissingImmutableIds);
    assert!(f.message.contains("2 users"), "{}", f.message);
    assert!(
        f.message.contains("first: amy@corp.example.com"),
        "{}",
        f.message
    );
    assert!(f.message.contains("adoptExisting"));
}

#[test]
fn users_adopted_in_the_same_plan_count_as_having_immutable_ids() {
    let mut a = tenant_user("amy@corp.example.com");
    a.immutable_id = None;
    let plan = federating()
        .listing(&["amy@corp.example.com"])
        .with_users([a])
        .plan();
    assert!(
        findings(&plan, Reason::MissingImmutableIds).is_empty(),
        "{:#?}",
        plan.findings
    );
    let phases: Vec<_> = plan.actions.iter().map(|a| a.phase()).collect();
    assert_eq!(
        phases,
        [crate::model::Phase::Users, crate::model::Phase::Federation]
    );
}

/// A real X.509 certificate (`openssl req -x509`), valid until 2036-11-24T11:13:36Z.
const X509: &str = "MIIBejCCASGgAwIBAgIUXybojbEC4R6ogeypvrZoLTrM34swCgYIKoZIzj0EAwIwEzERMA8GA1UEAwwIaWRwLnRlc3QwHhcNMjYxMTI3MTExMzM2WhcNMzYxMTI0MTExMzM2WjATMREwDwYDVQQDDAhpZHAudGVzdDBZMBMGByqGSM49AgEGCCqGSM49AwEHA0IABL5gVt7uiELaGTHqX8o1x+NiDIsOCGqlddyAGW7hszZbmj+Y2IGNyHSwZzcNH1TpJdi0L6ENrWiLRAMBuFrha3CjUzBRMB0GA1UdDgQWBBR+LvW8LR7SJoV3QlDbtxWNQnlDdzAfBgNVHSMEGDAWgBR+LvW8LR7SJoV3QlDbtxWNQnlDdzAPBgNVHRMBAf8EBTADAQH/MAoGCCqGSM49BAMCA0cAMEQCIFIQYXZjrarM25RynKtBOwi9hAxm1VdyhQxSIphY8UQGAiBS+HofqRiO9CxRJuY0ScqeZIcvzvtzVN7iOC0fXto7dw==";

/// The plan of a federating domain whose signing certificate (and optional next one, given as
/// days of validity beyond the signing one's end) ends `days` days after the tenant was read.
fn signing_certificate_ending_in(days: i64, next: Option<&str>) -> Plan {
    let mut w = federating();
    w.domain().signing_certificate = Some(Ok(X509.into()));
    w.domain().next_signing_certificate = next.map(|n| Ok(n.to_owned()));
    let end = crate::plan::certificate_not_after_unix(X509).unwrap();
    w.observed.observed_at =
        Some(time::OffsetDateTime::from_unix_timestamp(end - days * 86_400 - 60).unwrap());
    w.plan()
}

#[test]
fn a_signing_certificate_valid_for_more_than_30_days_is_not_reported() {
    let plan = signing_certificate_ending_in(45, None);
    assert!(findings(&plan, Reason::CertificateExpiring).is_empty());
    assert!(findings(&plan, Reason::CertificateExpiringSoon).is_empty());
}

#[test]
fn a_signing_certificate_ending_within_30_days_is_a_warning() {
    let plan = signing_certificate_ending_in(20, None);
    let f = finding(&plan, Reason::CertificateExpiring);
    assert_eq!(f.severity, Severity::Warning);
    assert!(f.message.contains("expires in 20 day(s)"), "{}", f.message);
    assert!(
        f.message.contains("nextSigningCertificate"),
        "{}",
        f.message
    );
    // A warning: the federation still goes ahead and the domain is not Blocked.
    assert!(!federation_actions(&plan).is_empty());
    assert_ne!(object(&plan, &domain_key("corp")).state, State::Blocked);
}

#[test]
fn a_signing_certificate_ending_within_7_days_blocks_the_domain_but_is_still_pushed() {
    let plan = signing_certificate_ending_in(3, None);
    let f = finding(&plan, Reason::CertificateExpiringSoon);
    assert_eq!(f.severity, Severity::Error);
    assert_eq!(object(&plan, &domain_key("corp")).state, State::Blocked);
    // Blocked asks for a person; the federation is still written (an old certificate in the
    // tenant would be worse).
    assert!(!federation_actions(&plan).is_empty());
    let expired = signing_certificate_ending_in(-2, None);
    assert!(
        finding(&expired, Reason::CertificateExpiringSoon)
            .message
            .contains("has expired")
    );
}

#[test]
fn a_next_signing_certificate_that_ends_no_later_does_not_cover_the_rollover() {
    // The same certificate as next: the latest end is still 3 days away.
    let plan = signing_certificate_ending_in(3, Some(X509));
    assert!(!findings(&plan, Reason::CertificateExpiringSoon).is_empty());
}

#[test]
fn without_a_read_time_expiry_is_not_checked() {
    let mut w = federating();
    w.domain().signing_certificate = Some(Ok(X509.into()));
    w.observed.observed_at = None;
    assert!(findings(&w.plan(), Reason::CertificateExpiringSoon).is_empty());
}
