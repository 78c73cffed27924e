//! Builders for small desired and observed tenants (tests only).
//!
//! `World::new()` is a tenant with the initial domain `contoso.onmicrosoft.com` (default), a
//! verified managed `corp.example.com`, a break-glass Global Administrator on the initial
//! domain, one SKU (ENTERPRISEPACK, 100 free seats), a FederatedDomain `corp` that asks for
//! `Managed` and an empty AppAssignment `team-a`. Tests change what they need.

pub(crate) use crate::model::Reason;
use std::collections::BTreeMap;

use crate::api::{
    AppAssignmentSpec, AppliesTo, AssignedUser, Authentication, AuthenticationProtocol,
    CertificateSource, ChangeBudget, DeletionPolicy, DomainRef, FederatedDomainSpec,
    FederatedIdpMfaBehavior, Federation, License, LicensePolicySpec, LocalRef, Mode, Provisioning,
    Safety, UnassignedUsers,
};
use crate::model::{
    Action, AuthenticationType, DesiredAssignment, DesiredDomain, DesiredPolicy, DesiredTenant,
    Finding, GLOBAL_ADMINISTRATOR, Kind, ObjectKey, ObjectPlan, ObservedDomain, ObservedLicense,
    ObservedSku, ObservedTenant, ObservedUser, Plan, Read, Severity,
};

pub(crate) const NS: &str = "it";
pub(crate) const DOMAIN: &str = "corp.example.com";
pub(crate) const INITIAL: &str = "contoso.onmicrosoft.com";
pub(crate) const E3: &str = "6fd2c87f-b296-42f0-b197-1e91e994b900";
pub(crate) const E5: &str = "c7df2760-2c81-4ef7-b578-5b5392b571df";
pub(crate) const EXCHANGE: &str = "efb87545-963c-4e0d-99df-69c6916d9eb0";
pub(crate) const YAMMER: &str = "7547a3fe-08ee-4ccb-b430-5077c5041653";
/// base64 of "certificate A" / "certificate B" (the planner only hashes the DER bytes).
pub(crate) const CERT_A: &str = "Y2VydGlmaWNhdGUgQQ==";
pub(crate) const CERT_B: &str = "Y2VydGlmaWNhdGUgQg==";
pub(crate) const ADMIN_ID: &str = "id-admin";

pub(crate) fn key(kind: Kind, name: &str) -> ObjectKey {
    ObjectKey::new(kind, NS, name)
}

pub(crate) fn domain_key(name: &str) -> ObjectKey {
    key(Kind::FederatedDomain, name)
}

pub(crate) fn assignment_key(name: &str) -> ObjectKey {
    key(Kind::AppAssignment, name)
}

pub(crate) fn policy_key(name: &str) -> ObjectKey {
    key(Kind::LicensePolicy, name)
}

pub(crate) fn federation() -> Federation {
    Federation {
        issuer_uri: "https://idp.example.com/issuer".into(),
        passive_sign_in_uri: "https://idp.example.com/sso".into(),
        sign_out_uri: "https://idp.example.com/logout".into(),
        active_sign_in_uri: None,
        metadata_exchange_uri: None,
        display_name: Some("Example IdP".into()),
        preferred_authentication_protocol: AuthenticationProtocol::WsFed,
        federated_idp_mfa_behavior: FederatedIdpMfaBehavior::AcceptIfMfaDoneByFederatedIdp,
        prompt_login_behavior: None,
        is_signed_authentication_request_required: None,
        signing_certificate: CertificateSource {
            value: Some(CERT_A.into()),
            secret_key_ref: None,
            config_map_key_ref: None,
        },
        next_signing_certificate: None,
    }
}

/// A FederatedDomain asking for `Managed`.
pub(crate) fn domain(name: &str, fqdn: &str) -> DesiredDomain {
    DesiredDomain {
        key: domain_key(name),
        spec: FederatedDomainSpec {
            tenant_ref: LocalRef {
                name: "contoso".into(),
            },
            domain: fqdn.into(),
            authentication: Authentication::Managed,
            federation: None,
            safety: Safety::default(),
            unassigned_users: UnassignedUsers::Ignore,
            leaver_stages: None,
            protected_users: Vec::new(),
            change_budget: ChangeBudget::default(),
            deletion_policy: DeletionPolicy::Orphan,
            mode: None,
            allowed_assignments: Default::default(),
        },
        mode: Mode::Enforce,
        signing_certificate: None,
        next_signing_certificate: None,
        approved_plan: None,
        deleting: false,
    }
}

/// Turns a desired domain into one asking for `Federated` with [`federation`] and `CERT_A`.
pub(crate) fn federated(mut d: DesiredDomain) -> DesiredDomain {
    d.spec.authentication = Authentication::Federated;
    d.spec.federation = Some(federation());
    d.signing_certificate = Some(Ok(CERT_A.into()));
    d
}

pub(crate) fn user(upn: &str) -> AssignedUser {
    AssignedUser {
        user_principal_name: upn.into(),
        display_name: format!("User {upn}"),
        given_name: None,
        surname: None,
        mail_nickname: None,
        immutable_id: None,
        usage_location: None,
        account_enabled: None,
        manager: None,
        attributes: Default::default(),
    }
}

pub(crate) fn assignment(
    name: &str,
    domain_ref: &str,
    users: Vec<AssignedUser>,
) -> DesiredAssignment {
    DesiredAssignment {
        key: assignment_key(name),
        domain_namespace: NS.into(),
        not_permitted: None,
        labels: BTreeMap::new(),
        spec: AppAssignmentSpec {
            domain_ref: DomainRef {
                name: domain_ref.into(),
                namespace: None,
            },
            users,
            provisioning: Provisioning::Auto,
            adopt_existing: true,
            mode: None,
            defaults: None,
        }
        .into(),
        mode: Mode::Enforce,
        export_requested: false,
    }
}

pub(crate) fn license(part: &str, disabled: &[&str]) -> License {
    License {
        sku_part_number: Some(part.into()),
        sku_id: None,
        disabled_plans: disabled.iter().map(|s| s.to_string()).collect(),
    }
}

/// A LicensePolicy covering the users of the named FederatedDomains.
pub(crate) fn policy(name: &str, domain_refs: &[&str], licenses: Vec<License>) -> DesiredPolicy {
    DesiredPolicy {
        key: policy_key(name),
        spec: LicensePolicySpec {
            tenant_ref: LocalRef {
                name: "contoso".into(),
            },
            applies_to: AppliesTo {
                domain_refs: domain_refs
                    .iter()
                    .map(|d| LocalRef {
                        name: d.to_string(),
                    })
                    .collect(),
                assignment_selector: None,
            },
            licenses,
            usage_location: Some("US".into()),
            remove_unlisted: false,
            mode: None,
            assignment: Default::default(),
            group_id: None,
        },
        mode: Mode::Enforce,
    }
}

pub(crate) fn observed_domain(name: &str) -> ObservedDomain {
    ObservedDomain {
        name: name.into(),
        is_verified: true,
        is_default: false,
        is_initial: false,
        authentication: AuthenticationType::Managed,
        federation: None,
    }
}

/// A tenant user as `user(upn)` would create it (in sync), with an immutable ID.
pub(crate) fn tenant_user(upn: &str) -> ObservedUser {
    ObservedUser {
        id: format!("id-{upn}"),
        user_principal_name: upn.into(),
        display_name: Some(format!("User {upn}")),
        given_name: None,
        surname: None,
        mail_nickname: upn.split('@').next().map(str::to_string),
        immutable_id: Some(crate::plan::derive_immutable_id(upn)),
        usage_location: Some("US".into()),
        account_enabled: true,
        leaver_mark: None,
        synced: false,
        attributes: Default::default(),
        manager: None,
        sessions_valid_from: None,
        licenses: Vec::new(),
    }
}

/// A tenant user synced from on-premises AD: its immutable ID is the sync's source anchor (not
/// the one the controller would derive), and AD masters its name.
pub(crate) fn synced_user(upn: &str) -> ObservedUser {
    ObservedUser {
        immutable_id: Some(format!("anchor-{upn}")),
        display_name: Some(format!("AD {upn}")),
        synced: true,
        ..tenant_user(upn)
    }
}

pub(crate) fn direct(sku: &str, disabled: &[&str]) -> ObservedLicense {
    ObservedLicense::direct(sku, disabled.iter().map(|s| s.to_string()).collect())
}

pub(crate) fn inherited(sku: &str, group: &str) -> ObservedLicense {
    ObservedLicense::inherited(sku, vec![group.into()])
}

pub(crate) fn sku(part: &str, id: &str, enabled: i32, consumed: i32) -> ObservedSku {
    ObservedSku {
        sku_id: id.into(),
        sku_part_number: part.into(),
        service_plans: vec![
            (EXCHANGE.into(), "EXCHANGE_S_ENTERPRISE".into()),
            (YAMMER.into(), "YAMMER_ENTERPRISE".into()),
        ],
        enabled,
        consumed,
    }
}

/// A desired and an observed tenant, planned together.
#[derive(Debug, Clone)]
pub(crate) struct World {
    pub desired: DesiredTenant,
    pub observed: ObservedTenant,
}

impl World {
    pub(crate) fn new() -> Self {
        let mut initial = observed_domain(INITIAL);
        initial.is_initial = true;
        initial.is_default = true;
        let mut admin = tenant_user(&format!("admin@{INITIAL}"));
        admin.id = ADMIN_ID.into();
        let roles =
            BTreeMap::from([(ADMIN_ID.to_string(), vec![GLOBAL_ADMINISTRATOR.to_string()])]);
        Self {
            desired: DesiredTenant {
                tenant: Some(key(Kind::Tenant, "contoso")),
                mode: Mode::Enforce,
                same_tenant: Vec::new(),
                domains: vec![domain("corp", DOMAIN)],
                assignments: vec![assignment("team-a", "corp", Vec::new())],
                policies: Vec::new(),
            },
            observed: ObservedTenant {
                display_name: Some("Contoso".into()),
                domains: Read::Known(vec![initial, observed_domain(DOMAIN)]),
                users: Read::Known(vec![admin]),
                deleted_users: Read::Known(Vec::new()),
                role_holders: Read::Known(roles),
                skus: Read::Known(vec![
                    sku("ENTERPRISEPACK", E3, 100, 0),
                    sku("ENTERPRISEPREMIUM", E5, 100, 0),
                ]),
                observed_at: None,
                groups: Read::Known(Vec::new()),
                directory_sync: None,
            },
        }
    }

    pub(crate) fn plan(&self) -> Plan {
        crate::plan::plan(&self.desired, &self.observed)
    }

    /// The first AppAssignment (`team-a`).
    pub(crate) fn assignment(&mut self) -> &mut DesiredAssignment {
        &mut self.desired.assignments[0]
    }

    /// The first FederatedDomain (`corp`).
    pub(crate) fn domain(&mut self) -> &mut DesiredDomain {
        &mut self.desired.domains[0]
    }

    /// Lists users in `team-a`.
    pub(crate) fn listing(mut self, upns: &[&str]) -> Self {
        self.assignment()
            .spec
            .users
            .extend(upns.iter().map(|u| user(u)));
        self
    }

    /// Adds tenant users.
    pub(crate) fn with_users(mut self, users: impl IntoIterator<Item = ObservedUser>) -> Self {
        if let Read::Known(list) = &mut self.observed.users {
            list.extend(users);
        }
        self
    }

    pub(crate) fn users_mut(&mut self) -> &mut Vec<ObservedUser> {
        match &mut self.observed.users {
            Read::Known(list) => list,
            Read::Unknown(_) => panic!("users are unknown"),
        }
    }

    /// The observed `corp.example.com`.
    pub(crate) fn observed_corp(&mut self) -> &mut ObservedDomain {
        match &mut self.observed.domains {
            Read::Known(list) => list
                .iter_mut()
                .find(|d| d.name == DOMAIN)
                .unwrap_or_else(|| panic!("no {DOMAIN}")),
            Read::Unknown(_) => panic!("domains are unknown"),
        }
    }

    pub(crate) fn grant_role(mut self, user_id: &str, role: &str) -> Self {
        if let Read::Known(roles) = &mut self.observed.role_holders {
            roles.entry(user_id.into()).or_default().push(role.into());
        }
        self
    }
}

/// Findings of one reason.
pub(crate) fn findings(plan: &Plan, reason: Reason) -> Vec<&Finding> {
    plan.findings
        .iter()
        .filter(|f| f.reason == reason)
        .collect()
}

/// The single finding of that reason, or a panic listing them all.
pub(crate) fn finding(plan: &Plan, reason: Reason) -> &Finding {
    let found = findings(plan, reason);
    assert_eq!(
        found.len(),
        1,
        "want one {reason}, findings: {:#?}",
        plan.findings
    );
    found[0]
}

pub(crate) fn has_finding(
    plan: &Plan,
    reason: Reason,
    severity: Severity,
    object: &ObjectKey,
) -> bool {
    plan.findings
        .iter()
        .any(|f| f.reason == reason && f.severity == severity && f.object == *object)
}

pub(crate) fn object<'p>(plan: &'p Plan, key: &ObjectKey) -> &'p ObjectPlan {
    plan.objects
        .get(key)
        .unwrap_or_else(|| panic!("no object {key} in {:#?}", plan.objects.keys()))
}

/// Actions of the plan whose subject is `subject`.
pub(crate) fn actions_for<'p>(plan: &'p Plan, subject: &str) -> Vec<&'p Action> {
    plan.actions
        .iter()
        .filter(|a| a.subject() == subject)
        .collect()
}
