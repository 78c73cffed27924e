//! The federation phase, per FederatedDomain: create, update or remove the domain's
//! federation, refusing domains that cannot or must not be federated.

use super::certificate::{
    certificate_not_after, certificate_not_after_unix, certificate_thumbprint,
};
use super::context::Ctx;
use super::federation_settings::{desired_settings, diff_settings};
use super::output::{Out, Owner};
use super::preflight::{initial_domain, preflight};
use super::users::UsersOutcome;
use crate::api::{Authentication, DeletionPolicy, Mode};
use crate::model::{Action, AuthenticationType, DesiredDomain, ObservedDomain, Reason};
use crate::resolve::CertificateError;

/// The sign-in smart link for a domain (the guide's step 7): a web-forward DNS record can send
/// users straight to the identity provider with it.
pub fn sign_in_link(domain: &str) -> String {
    format!(
        "https://login.microsoftonline.com/PostToIDP.srf?msg=AuthnReq&realm={}&wa=wsignin1.0&wtrealm=urn:federation:MicrosoftOnline",
        domain.to_lowercase()
    )
}

/// Plans the federation phase of every FederatedDomain.
pub(crate) fn plan_federation(ctx: &Ctx, users: &UsersOutcome, out: &mut Out) {
    for &di in &ctx.domain_order {
        plan_domain(ctx, di, users, out);
    }
}

fn plan_domain(ctx: &Ctx, di: usize, users: &UsersOutcome, out: &mut Out) {
    let d = &ctx.desired.domains[di];
    let owner = Owner::Domain(di);
    if let Err(reason) = ctx.domains {
        out.read_failed(owner, "domains", reason);
        return;
    }
    let observed = ctx.observed_domain(&d.spec.domain);
    let federated = observed.is_some_and(|o| o.authentication == AuthenticationType::Federated);
    let enforce = d.mode == Mode::Enforce;
    let revert = |out: &mut Out| {
        out.drift(owner, "authenticationType".into(), "Managed", "Federated");
        if enforce {
            let domain = d.spec.domain.clone();
            out.push(Action::RevertToManaged { domain }, owner, None);
        }
    };
    if d.deleting {
        if d.spec.deletion_policy == DeletionPolicy::RevertToManaged && federated {
            revert(out);
        }
        return;
    }
    let Some(observed) = observed else {
        out.drift(owner, "domain".into(), "present", "absent");
        out.finding(
            owner,
            Reason::DomainNotFound,
            format!(
                "{} is not a domain of the tenant; add and verify it in the Microsoft 365 admin \
                 center first",
                d.spec.domain
            ),
            None,
        );
        return;
    };
    match d.spec.authentication {
        Authentication::Managed if federated => revert(out),
        Authentication::Managed => {}
        Authentication::Federated => federate(ctx, di, observed, users, out),
    }
}

fn federate(ctx: &Ctx, di: usize, observed: &ObservedDomain, users: &UsersOutcome, out: &mut Out) {
    let d = &ctx.desired.domains[di];
    let owner = Owner::Domain(di);
    if refused(ctx, d, observed, owner, out) {
        return;
    }
    let Some(fed) = &d.spec.federation else {
        out.finding(
            owner,
            Reason::FederationMissing,
            "authentication: Federated needs spec.federation (issuerUri, passiveSignInUri, \
             signOutUri and signingCertificate of your identity provider)"
                .to_string(),
            None,
        );
        return;
    };
    let Some(signing) = certificate(
        &d.signing_certificate,
        "signingCertificate",
        owner,
        out,
        true,
    ) else {
        return;
    };
    let next = match &d.next_signing_certificate {
        None => None,
        some => match certificate(some, "nextSigningCertificate", owner, out, false) {
            Some(c) => Some(c),
            None => return,
        },
    };
    if let Some(now) = ctx.observed_at {
        certificate_expiry(
            &d.spec.domain,
            signing,
            next,
            now.unix_timestamp(),
            owner,
            out,
        );
    }
    let want = desired_settings(fed, signing, next);
    let enforce = d.mode == Mode::Enforce;
    let domain = d.spec.domain.clone();
    match (&observed.authentication, &observed.federation) {
        (AuthenticationType::Federated, Some(have)) => {
            let diff = diff_settings(&want, have);
            for (field, desired, observed) in diff.drift.iter().cloned() {
                out.drift(owner, field, desired, observed);
            }
            if enforce && !diff.drift.is_empty() {
                let id = have.id.clone();
                let changes = diff.changes;
                out.push(
                    Action::UpdateFederation {
                        domain,
                        id,
                        changes: Box::new(changes),
                    },
                    owner,
                    None,
                );
            }
        }
        (auth, _) => {
            out.drift(
                owner,
                "authenticationType".into(),
                "Federated",
                auth.as_str(),
            );
            if preflight(ctx, di, &users.immutable_ids_set, out) && enforce {
                let settings = want;
                out.push(
                    Action::CreateFederation {
                        domain,
                        settings: Box::new(settings),
                    },
                    owner,
                    None,
                );
            }
        }
    }
}

/// The refusals: a domain must be in the tenant, verified, not default and not initial.
fn refused(ctx: &Ctx, d: &DesiredDomain, o: &ObservedDomain, owner: Owner, out: &mut Out) -> bool {
    let domain = &d.spec.domain;
    let mut refusals = Vec::new();
    if !o.is_verified {
        refusals.push((
            Reason::DomainNotVerified,
            format!(
                "{domain} is not verified; verify it in the Microsoft 365 admin center first \
                 (an unverified domain cannot be federated)"
            ),
        ));
    }
    if o.is_default {
        refusals.push((
            Reason::DefaultDomain,
            format!(
                "{domain} is the tenant's default domain; make {} the default domain first; a \
                 default domain cannot be federated",
                initial_domain(ctx)
            ),
        ));
    }
    if o.is_initial {
        refusals.push((
            Reason::InitialDomain,
            format!(
                "{domain} is the tenant's initial domain, the break-glass sign-in path; it is \
                 never federated: name a custom domain instead"
            ),
        ));
    }
    let refused = !refusals.is_empty();
    for (reason, message) in refusals {
        out.finding(owner, reason, message, None);
    }
    refused
}

/// A resolved certificate, or `None` with a `CertificateUnavailable` error.
/// Days before the end of validity at which a Warning, then an Error, is reported.
const EXPIRY_WARNING_DAYS: i64 = 30;
const EXPIRY_ERROR_DAYS: i64 = 7;

/// `CertificateExpiring` (Warning, 30 days) or `CertificateExpiringSoon` (Error, 7 days) when
/// the later of the signing and next signing certificate ends soon: with a
/// `nextSigningCertificate` valid for longer, the rollover is arranged and nothing is reported.
fn certificate_expiry(
    domain: &str,
    signing: &str,
    next: Option<&str>,
    now: i64,
    owner: Owner,
    out: &mut Out,
) {
    let Some(signing_end) = certificate_not_after_unix(signing) else {
        return;
    };
    let latest = next
        .and_then(certificate_not_after_unix)
        .map_or(signing_end, |n| n.max(signing_end));
    let days = (latest - now).div_euclid(86_400);
    let reason = if days < EXPIRY_ERROR_DAYS {
        Reason::CertificateExpiringSoon
    } else if days < EXPIRY_WARNING_DAYS {
        Reason::CertificateExpiring
    } else {
        return;
    };
    let when = certificate_not_after(signing).unwrap_or_default();
    let left = if days < 0 {
        "has expired".to_owned()
    } else {
        format!("expires in {days} day(s)")
    };
    out.finding(
        owner,
        reason,
        format!(
            "the signing certificate of {domain} {left} ({when}){}: get the identity provider's              next certificate and set it as spec.federation.nextSigningCertificate (Entra accepts              both during the rollover), then make it the signingCertificate once the identity              provider signs with it",
            if next.is_some() {
                " and nextSigningCertificate ends no later"
            } else {
                ""
            }
        ),
        None,
    );
}

fn certificate<'d>(
    resolved: &'d Option<Result<String, CertificateError>>,
    field: &str,
    owner: Owner,
    out: &mut Out,
    required: bool,
) -> Option<&'d str> {
    let problem = match resolved {
        Some(Ok(b64)) if certificate_thumbprint(b64).is_some() => return Some(b64),
        Some(Ok(_)) => "it is not base64-encoded DER".to_string(),
        Some(Err(reason)) => reason.to_string(),
        None if required => "no certificate was given".to_string(),
        None => return None,
    };
    out.finding(
        owner,
        Reason::CertificateUnavailable,
        format!(
            "spec.federation.{field} could not be used ({problem}); fix the certificate or the \
             Secret/ConfigMap key it names: nothing is federated until then"
        ),
        None,
    );
    None
}
