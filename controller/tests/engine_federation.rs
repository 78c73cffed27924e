//! Plan + apply of the federation rules against the simulator over HTTP: create, update (drift
//! first, then a PATCH of the changed field), revert to Managed, certificates compared by
//! thumbprint, refusal of default/unverified domains and the two lock-out pre-flights.

mod engine_support;

use engine_support::*;
use o365_controller::model::{Action, Drift, Kind, Severity};
use o365_graph_sim::{Federation, Fixture};

const FED_PATH: &str = "/domains/{id}/federationConfiguration";
const FED_ITEM_PATH: &str = "/domains/{id}/federationConfiguration/{id}";

/// The federation `federated_domain("")` asks for, as the simulator stores it.
fn desired_federation() -> Federation {
    Federation {
        display_name: Some("Corp SSO".into()),
        issuer_uri: Some("https://sso.corp.example.com/idp".into()),
        passive_sign_in_uri: Some("https://sso.corp.example.com/idp/wsfed".into()),
        sign_out_uri: Some("https://sso.corp.example.com/idp/logout".into()),
        preferred_authentication_protocol: Some("wsFed".into()),
        federated_idp_mfa_behavior: Some("acceptIfMfaDoneByFederatedIdp".into()),
        signing_certificate: Some(cert_der_b64()),
        ..Federation::default()
    }
}

/// The fixture with `corp.example.com` already federated with `fed`.
fn federated_fixture(fed: Federation) -> Fixture {
    let mut f = fixture();
    let d = f
        .domains
        .iter_mut()
        .find(|d| d.id == DOMAIN)
        .must("corp domain");
    d.federation = Some(fed);
    d.authentication_type = "Federated".into();
    f
}

#[tokio::test]
async fn federation_is_created_with_the_specs_settings() {
    let sim = start(fixture()).await;
    assert_eq!(sim.domain(DOMAIN).unwrap().authentication_type, "Managed");
    let run = converge(&sim, &federated_domain("")).await;
    run.assert_converged();

    assert_eq!(
        drift_of(&run.plan, Kind::FederatedDomain, "corp"),
        Drift::Drifted
    );
    assert_eq!(actions_named(&run.plan, "CreateFederation").len(), 1);
    let d = sim.domain(DOMAIN).unwrap();
    assert_eq!(d.authentication_type, "Federated");
    let fed = d.federation.unwrap();
    let want = desired_federation();
    assert_eq!(fed.display_name, want.display_name);
    assert_eq!(fed.issuer_uri, want.issuer_uri);
    assert_eq!(fed.passive_sign_in_uri, want.passive_sign_in_uri);
    assert_eq!(fed.sign_out_uri, want.sign_out_uri);
    assert_eq!(
        fed.preferred_authentication_protocol,
        want.preferred_authentication_protocol
    );
    assert_eq!(
        fed.federated_idp_mfa_behavior,
        want.federated_idp_mfa_behavior
    );
    // PEM in the spec, base64 DER in Graph.
    assert_eq!(fed.signing_certificate, want.signing_certificate);
    assert_eq!(
        drift_of(&run.replan, Kind::FederatedDomain, "corp"),
        Drift::InSync
    );
}

#[tokio::test]
async fn changed_passive_sign_in_uri_is_reported_as_drift_then_patched() {
    let mut old = desired_federation();
    old.passive_sign_in_uri = Some("https://old-idp.corp.example.com/wsfed".into());
    let sim = start(federated_fixture(old)).await;
    let fed_id = sim.domain(DOMAIN).unwrap().federation.unwrap().id;
    sim.reset_stats();

    let run = converge(&sim, &federated_domain("")).await;
    run.assert_converged();

    // Drift first: the plan names the field with both values.
    let obj = &run.plan.objects[&key(Kind::FederatedDomain, "corp")];
    assert_eq!(obj.drift, Drift::Drifted);
    let entry = obj
        .drift_entries
        .iter()
        .find(|e| e.field == "federation.passiveSignInUri")
        .must("passiveSignInUri drift");
    assert_eq!(entry.desired, "https://sso.corp.example.com/idp/wsfed");
    assert_eq!(entry.observed, "https://old-idp.corp.example.com/wsfed");
    assert_eq!(obj.drift_entries.len(), 1, "{:?}", obj.drift_entries);

    // Then a PATCH of only that field.
    match actions_named(&run.plan, "UpdateFederation").as_slice() {
        [Action::UpdateFederation { id, changes, .. }] => {
            assert_eq!(id, &fed_id);
            assert_eq!(
                changes.passive_sign_in_uri.as_deref(),
                Some("https://sso.corp.example.com/idp/wsfed")
            );
            assert!(changes.issuer_uri.is_none() && changes.signing_certificate.is_none());
        }
        other => panic!("expected one UpdateFederation, got {other:?}"),
    }
    let stats = sim.stats();
    assert_eq!(stats.count_status("PATCH", FED_ITEM_PATH, 200), 1);
    assert_eq!(stats.count("POST", FED_PATH), 0);
    assert_eq!(stats.writes, 1);
    let fed = sim.domain(DOMAIN).unwrap().federation.unwrap();
    assert_eq!(
        fed.passive_sign_in_uri.as_deref(),
        Some("https://sso.corp.example.com/idp/wsfed")
    );
    assert_eq!(fed.id, fed_id, "updated in place, not recreated");
}

#[tokio::test]
async fn authentication_managed_reverts_a_federated_domain() {
    let sim = start(federated_fixture(desired_federation())).await;
    let run = converge(&sim, &managed_domain("corp", DOMAIN, "")).await;
    run.assert_converged();

    let entry = &run.plan.objects[&key(Kind::FederatedDomain, "corp")].drift_entries;
    assert!(
        entry
            .iter()
            .any(|e| e.field == "authenticationType" && e.desired == "Managed"),
        "{entry:?}"
    );
    assert_eq!(actions_named(&run.plan, "RevertToManaged").len(), 1);
    let d = sim.domain(DOMAIN).unwrap();
    assert_eq!(d.authentication_type, "Managed");
    assert!(d.federation.is_none());
}

#[tokio::test]
async fn certificate_given_as_pem_matches_the_same_certificate_as_base64_der() {
    // The tenant holds the certificate as base64 DER; the spec gives it as PEM.
    let sim = start(federated_fixture(desired_federation())).await;
    sim.reset_stats();
    let run = converge(&sim, &federated_domain("")).await;
    assert!(run.plan.is_in_sync(), "{:#?}", run.plan);
    assert_eq!(writes(&sim), 0);

    // And the other way round: the spec gives base64 DER on one line, the tenant holds the
    // base64 wrapped over lines (as PEM bodies are).
    let wrapped: String = cert_der_b64()
        .as_bytes()
        .chunks(64)
        .map(|c| format!("{}\n", String::from_utf8_lossy(c)))
        .collect();
    let mut fed = desired_federation();
    fed.signing_certificate = Some(wrapped);
    let sim = start(federated_fixture(fed)).await;
    sim.reset_stats();
    let spec = federated_domain("").replace(
        &CERT_PEM
            .lines()
            .map(|l| format!("        {l}\n"))
            .collect::<String>(),
        &format!("        {}\n", cert_der_b64()),
    );
    assert!(!spec.contains("BEGIN CERTIFICATE"));
    let run = converge(&sim, &spec).await;
    assert!(
        actions_named(&run.plan, "UpdateFederation").is_empty(),
        "{:#?}",
        run.plan.actions
    );
    assert_eq!(writes(&sim), 0);
}

#[tokio::test]
async fn default_domain_is_not_federated_and_says_why() {
    let mut f = fixture();
    for d in &mut f.domains {
        d.is_default = d.id == DOMAIN;
    }
    let sim = start(f).await;
    sim.reset_stats();
    let run = converge(&sim, &federated_domain("")).await;

    assert_eq!(writes(&sim), 0);
    assert!(run.plan.actions.is_empty());
    assert_eq!(sim.domain(DOMAIN).unwrap().authentication_type, "Managed");
    let f = finding(&run.plan, Reason::DefaultDomain);
    assert_eq!(f.severity, Severity::Error);
    assert_eq!(f.object, key(Kind::FederatedDomain, "corp"));
    assert!(
        f.message.contains("default domain") && f.message.contains("corp.onmicrosoft.com"),
        "the reason and the fix: {}",
        f.message
    );
}

#[tokio::test]
async fn unverified_domain_is_not_federated_and_says_why() {
    let sim = start(fixture()).await;
    sim.reset_stats();
    let run = converge(
        &sim,
        &federated_domain_named("unverified", "unverified.example.com", ""),
    )
    .await;

    assert_eq!(writes(&sim), 0);
    assert!(run.plan.actions.is_empty());
    assert_eq!(
        sim.domain("unverified.example.com")
            .unwrap()
            .authentication_type,
        "Managed"
    );
    let f = finding(&run.plan, Reason::DomainNotVerified);
    assert_eq!(f.severity, Severity::Error);
    assert!(f.message.contains("verify it"), "{}", f.message);
}

#[tokio::test]
async fn federation_is_refused_without_a_break_glass_global_administrator() {
    let mut f = fixture();
    f.users.retain(|u| u.user_principal_name != BREAK_GLASS);
    let sim = start(f).await;
    sim.reset_stats();
    let run = converge(&sim, &federated_domain("")).await;

    assert_eq!(writes(&sim), 0);
    assert_eq!(sim.stats().count("POST", FED_PATH), 0);
    assert_eq!(sim.domain(DOMAIN).unwrap().authentication_type, "Managed");
    let f = finding(&run.plan, Reason::NoBreakGlassAdmin);
    assert_eq!(f.severity, Severity::Error);
    assert!(f.message.contains("Global Administrator"), "{}", f.message);
}

#[tokio::test]
async fn a_disabled_global_administrator_is_no_break_glass() {
    let mut f = fixture();
    for u in &mut f.users {
        if u.user_principal_name == BREAK_GLASS {
            u.account_enabled = false;
        }
    }
    let sim = start(f).await;
    let run = converge(&sim, &federated_domain("")).await;
    assert_eq!(findings(&run.plan, Reason::NoBreakGlassAdmin).len(), 1);
    assert_eq!(sim.domain(DOMAIN).unwrap().authentication_type, "Managed");
}

#[tokio::test]
async fn federation_is_refused_while_an_unlisted_user_lacks_an_immutable_id() {
    let sim = start(fixture_with(vec![
        user("ghost@corp.example.com"),
        user("zed@corp.example.com"),
    ]))
    .await;
    sim.reset_stats();
    // zed is listed (adopted, so it gets an immutable ID); ghost is not.
    let objects = docs(&[
        &federated_domain(""),
        &assignment("team", "corp", &["zed@corp.example.com"], ""),
    ]);
    let run = converge(&sim, &objects).await;
    run.assert_no_failures();

    assert_eq!(sim.stats().count("POST", FED_PATH), 0);
    assert_eq!(sim.domain(DOMAIN).unwrap().authentication_type, "Managed");
    let f = finding(&run.plan, Reason::MissingImmutableIds);
    assert_eq!(f.severity, Severity::Error);
    assert_eq!(f.user.as_deref(), Some("ghost@corp.example.com"));
    assert!(
        f.message.contains("ghost@corp.example.com"),
        "{}",
        f.message
    );
    assert!(f.message.contains("1 users"), "{}", f.message);
    // zed was still adopted: the refusal holds back only the federation.
    assert!(
        sim.user("zed@corp.example.com")
            .unwrap()
            .on_premises_immutable_id
            .is_some()
    );
    assert!(!run.replan.is_in_sync());
}
