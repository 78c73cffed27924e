//! Every reason the controller reports — on a plan finding, a condition or an Event — as one
//! enum with its severity, so the compiler lists every place a new reason must be handled and
//! nothing matches reasons by string.

use std::fmt;

use serde::{Deserialize, Serialize};

/// How serious a finding is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum Severity {
    /// For information (e.g. a user matched, a user skipped because its domain differs).
    Info,
    /// Something the user should look at; other work goes on.
    Warning,
    /// The object cannot be converged until the spec or the tenant changes (e.g. a default
    /// domain named for federation, the change budget exceeded): it is `Blocked`.
    Error,
}

macro_rules! reasons {
    ($( $(#[$doc:meta])* $name:ident => $severity:ident, )*) => {
        /// A CamelCase reason, used as condition reason, Event reason and in CLI/JSON output.
        /// Each has one severity; an [`Severity::Error`] reason makes its object `Blocked`.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
        pub enum Reason {
            $( $(#[$doc])* $name, )*
        }

        impl Reason {
            /// Every reason, in declaration order.
            pub const ALL: &'static [Reason] = &[$(Reason::$name,)*];

            /// The reason as written in conditions, Events and output.
            pub fn as_str(self) -> &'static str {
                match self {
                    $( Reason::$name => stringify!($name), )*
                }
            }

            /// How serious a finding with this reason is.
            pub fn severity(self) -> Severity {
                match self {
                    $( Reason::$name => Severity::$severity, )*
                }
            }
        }
    };
}

reasons! {
    // ---- plan findings: domains and federation ----
    /// The domain is not in the tenant, or a `domainRef` names no FederatedDomain.
    DomainNotFound => Error,
    /// An AppAssignment's `domainRef` names a FederatedDomain of another namespace that does
    /// not admit it (`spec.allowedAssignments`).
    ReferenceNotPermitted => Error,
    /// The domain is not verified, so it cannot be federated.
    DomainNotVerified => Error,
    /// The tenant's default domain cannot be federated.
    DefaultDomain => Error,
    /// The initial `*.onmicrosoft.com` domain is never federated.
    InitialDomain => Error,
    /// `authentication: Federated` without `spec.federation`.
    FederationMissing => Error,
    /// No enabled Global Administrator outside the domain.
    NoBreakGlassAdmin => Error,
    /// Users of the domain have no immutable ID.
    MissingImmutableIds => Error,
    /// The signing certificate could not be read or parsed.
    CertificateUnavailable => Error,
    /// The federation's signing certificates (the later of signingCertificate and
    /// nextSigningCertificate) expire within 30 days.
    CertificateExpiring => Warning,
    /// ... within 7 days (or have expired): sign-ins through the identity provider stop then.
    CertificateExpiringSoon => Error,
    /// The run would exceed the change budget; the destructive actions are held.
    ChangeBudgetExceeded => Error,
    /// The held plan was approved and goes ahead.
    ChangeBudgetApproved => Info,
    /// Deprovisioning waits because an AppAssignment's `domainRef` names nothing.
    DeprovisioningPaused => Warning,
    // ---- plan findings: users ----
    /// One UPN listed by two AppAssignments with different attributes.
    ConflictingAssignments => Error,
    /// Another tenant user already holds this immutable ID.
    ImmutableIdInUse => Error,
    /// Two listed users would get the same immutable ID.
    DuplicateImmutableId => Error,
    /// A tenant user has this UPN and `adoptExisting` is false.
    UserExists => Error,
    /// A user holds a directory role: never adopted, disabled or deleted automatically.
    AdminRoleUser => Warning,
    /// The UPN's domain is not the AppAssignment's domain; the user is skipped.
    UpnOutsideDomain => Warning,
    /// The user is in `spec.protectedUsers`; never created, changed or licensed.
    ProtectedUser => Info,
    /// The tenant user has another immutable ID than the spec says.
    ImmutableIdMismatch => Warning,
    /// Manual provisioning: users wait for an export.
    ExportNotRequested => Info,
    /// A listed user found soft-deleted cannot be restored (its UPN is taken).
    RestoreBlocked => Error,
    /// An account an administrator disabled stays disabled: git does not say `accountEnabled`.
    DisabledOutsideGit => Warning,
    /// A leaver's `extensionAttribute15` holds a value the controller did not write: its leaver
    /// clock cannot be kept there, so only the disable stage applies to it.
    LeaverMarkTaken => Warning,
    /// A user's `manager` names no user: neither listed by an AppAssignment nor in the tenant
    /// (or the user itself). The manager is not set; the rest of the user is.
    InvalidManager => Error,
    /// The user is synced from on-premises AD (Entra Connect), which masters the attribute (or
    /// its existence): the controller does not write it; change it in AD.
    ManagedOnPremises => Info,
    // ---- plan findings: conflicts between objects ----
    /// Two FederatedDomains name the same domain.
    DuplicateDomain => Error,
    /// Two Tenants name the same `tenantId`.
    DuplicateTenant => Error,
    // ---- plan findings: licenses ----
    /// The tenant has no subscription to the SKU.
    UnknownSku => Error,
    /// The SKU has no service plan of that name.
    UnknownServicePlan => Warning,
    /// Not enough seats: some users stay unlicensed (the policy stays `Drifted`).
    InsufficientSeats => Warning,
    /// A covered user has no usage location.
    MissingUsageLocation => Warning,
    /// `assignment: Group`: Entra has not processed the group's licenses for some members yet
    /// (the policy stays `Drifted` until it has).
    GroupLicenseProcessing => Info,
    /// `assignment: Group`: Entra could not license some members through the group
    /// (`CountViolation`, `MutuallyExclusiveViolation`, …); the message says which and why.
    GroupLicenseError => Error,
    /// `assignment: Group`: `groupId` names no group of the tenant.
    LicenseGroupNotFound => Error,
    /// `assignment: Group`: two LicensePolicies name the same group.
    LicenseGroupShared => Error,
    // ---- plan findings: the tenant ----
    /// Licensed users of managed domains that no AppAssignment lists.
    UnmanagedUsers => Info,
    /// A Graph read failed; drift is unknown.
    ReadFailed => Warning,
    // ---- conditions ----
    /// The tenant matches the spec.
    InSync => Info,
    /// The tenant differs from the spec.
    Drifted => Info,
    /// Nothing blocks the object.
    NotBlocked => Info,
    /// Changes are still to apply.
    ActionsPending => Info,
    /// Changes failed and will be retried.
    ActionsFailed => Warning,
    /// No change to apply.
    Converged => Info,
    /// Manual provisioning: waiting for an export request.
    WaitingForExport => Info,
    // ---- reconcile errors (Tenant conditions and Events) ----
    /// The object does not parse as its kind.
    InvalidSpec => Error,
    /// The credentials Secret or key is missing or unreadable.
    InvalidCredentials => Error,
    /// The token endpoint refused the app.
    AuthenticationFailed => Error,
    /// Graph answered 403.
    PermissionDenied => Error,
    /// Graph kept answering 429.
    Throttled => Warning,
    /// Another Graph failure.
    GraphError => Warning,
    /// Graph (or its login endpoint) could not be reached: connection refused, DNS, timeout.
    /// The objects show their last known status until a read succeeds.
    GraphUnreachable => Warning,
    /// The TLS handshake with Graph (or its login endpoint) failed: the message names the
    /// certificate problem (unknown issuer, bad signature, expired, wrong name).
    #[allow(clippy::upper_case_acronyms, reason = "the reason is spelled TLSError in conditions")]
    TLSError => Warning,
    /// Graph (or its login endpoint) answered 5xx: the service is unavailable.
    GraphUnavailable => Warning,
    /// The API server refused or failed a request.
    KubernetesError => Warning,
    /// A bug: the reconcile panicked; contained to this tenant, retried with backoff.
    InternalError => Error,
    /// This replica is not the leader.
    NotLeader => Info,
    /// The Tenant's namespace is not among the namespaces the controller serves.
    NamespaceNotServed => Error,
    /// The Tenant names an endpoint the operator did not allow.
    EndpointNotAllowed => Error,
    /// Graph sent a link to a host other than the configured Graph host.
    UntrustedLink => Error,
    /// The object's Tenant is not ready.
    TenantNotReady => Error,
}

impl Reason {
    /// The reason named `s`, if any.
    pub fn parse(s: &str) -> Option<Reason> {
        Reason::ALL.iter().copied().find(|r| r.as_str() == s)
    }
}

impl fmt::Display for Reason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reasons_round_trip_through_their_names() {
        for r in Reason::ALL {
            assert_eq!(Reason::parse(r.as_str()), Some(*r));
            assert_eq!(
                serde_json::to_value(r).ok(),
                Some(serde_json::json!(r.as_str()))
            );
        }
    }

    #[test]
    fn refusals_are_errors_and_shortfalls_are_warnings() {
        assert_eq!(Reason::DomainNotVerified.severity(), Severity::Error);
        assert_eq!(Reason::UnknownSku.severity(), Severity::Error);
        assert_eq!(Reason::InsufficientSeats.severity(), Severity::Warning);
        assert_eq!(Reason::ProtectedUser.severity(), Severity::Info);
    }

    #[test]
    fn every_reason_is_documented_in_the_readme() {
        let readme = include_str!("../../../README.md");
        let missing: Vec<&str> = Reason::ALL
            .iter()
            .map(|r| r.as_str())
            .filter(|r| !readme.contains(&format!("`{r}`")))
            .collect();
        assert!(
            missing.is_empty(),
            "reasons missing from the README: {missing:?}"
        );
    }
}
