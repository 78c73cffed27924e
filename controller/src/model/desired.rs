//! What the tenant should look like: the four kinds, resolved into one tenant's view.
//!
//! References are already resolved by whoever builds this (CLI from files, controller from the
//! API server): certificates are read from their Secrets/ConfigMaps, annotations are decoded.
//! Problems found while resolving (a missing Secret, a domainRef to nothing) are carried in
//! `problems` so `plan` can report them next to the object they belong to.

use std::collections::BTreeMap;
use std::fmt;
use std::ops::{Deref, DerefMut};
use std::sync::Arc;

use crate::api::{AppAssignment, AppAssignmentSpec, FederatedDomainSpec, LicensePolicySpec, Mode};
use crate::resolve::CertificateError;

/// The four kinds of this controller.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
pub enum Kind {
    /// `Tenant`.
    Tenant,
    /// `FederatedDomain`.
    FederatedDomain,
    /// `AppAssignment`.
    AppAssignment,
    /// `LicensePolicy`.
    LicensePolicy,
}

impl Kind {
    /// The kind's name.
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Tenant => "Tenant",
            Kind::FederatedDomain => "FederatedDomain",
            Kind::AppAssignment => "AppAssignment",
            Kind::LicensePolicy => "LicensePolicy",
        }
    }
}

/// Identifies one object: kind, namespace (empty in CLI mode without namespaces) and name.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
pub struct ObjectKey {
    /// The kind.
    pub kind: Kind,
    /// The namespace, or empty.
    pub namespace: String,
    /// The name.
    pub name: String,
}

impl ObjectKey {
    /// A key.
    pub fn new(kind: Kind, namespace: impl Into<String>, name: impl Into<String>) -> Self {
        Self {
            kind,
            namespace: namespace.into(),
            name: name.into(),
        }
    }
}

impl fmt::Display for ObjectKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.namespace.is_empty() {
            write!(f, "{}/{}", self.kind.as_str(), self.name)
        } else {
            write!(f, "{}/{}/{}", self.kind.as_str(), self.namespace, self.name)
        }
    }
}

/// Everything the spec asks of one tenant.
#[derive(Debug, Clone, Default)]
pub struct DesiredTenant {
    /// The Tenant object.
    pub tenant: Option<ObjectKey>,
    /// The Tenant's mode (the other kinds may override it).
    pub mode: Mode,
    /// Other Tenant objects (any namespace) naming the same Entra tenant (`spec.tenantId`).
    /// When there is any, every one of them is Blocked and nothing is written.
    pub same_tenant: Vec<ObjectKey>,
    /// FederatedDomains of the tenant.
    pub domains: Vec<DesiredDomain>,
    /// AppAssignments whose domainRef names one of `domains` (or nothing that exists), from
    /// any namespace; those not admitted carry `not_permitted`.
    pub assignments: Vec<DesiredAssignment>,
    /// LicensePolicies of the tenant.
    pub policies: Vec<DesiredPolicy>,
}

/// A FederatedDomain with its references resolved.
#[derive(Debug, Clone)]
pub struct DesiredDomain {
    /// The object.
    pub key: ObjectKey,
    /// Its spec.
    pub spec: FederatedDomainSpec,
    /// `spec.mode`, or the Tenant's.
    pub mode: Mode,
    /// The signing certificate as base64 DER (resolved from PEM, inline, Secret or ConfigMap),
    /// or why it could not be resolved.
    pub signing_certificate: Option<Result<String, CertificateError>>,
    /// The next signing certificate, likewise.
    pub next_signing_certificate: Option<Result<String, CertificateError>>,
    /// The plan id named by the `o365-controller.io/approve-run` annotation, if any.
    pub approved_plan: Option<String>,
    /// The object is being deleted (deletionTimestamp set) and its finalizer is pending.
    pub deleting: bool,
}

/// An AppAssignment with its domain resolved.
#[derive(Debug, Clone)]
pub struct DesiredAssignment {
    /// The object.
    pub key: ObjectKey,
    /// The namespace of its FederatedDomain (`spec.domainRef.namespace`, or its own).
    pub domain_namespace: String,
    /// Why its FederatedDomain does not admit it (its namespace is not granted in
    /// `spec.allowedAssignments`): it is `Blocked` with `ReferenceNotPermitted` and nothing is
    /// written for it.
    pub not_permitted: Option<String>,
    /// Its labels (for LicensePolicy `assignmentSelector`).
    pub labels: BTreeMap<String, String>,
    /// Its spec, shared with the object.
    pub spec: AssignmentSpec,
    /// `spec.mode`, or the domain's, or the Tenant's.
    pub mode: Mode,
    /// With `provisioning: Manual`: an export was requested and not yet done (the annotation
    /// `o365-controller.io/export-requested-at` differs from the status' last export).
    pub export_requested: bool,
}

/// A LicensePolicy.
#[derive(Debug, Clone)]
pub struct DesiredPolicy {
    /// The object.
    pub key: ObjectKey,
    /// Its spec.
    pub spec: LicensePolicySpec,
    /// `spec.mode`, or the Tenant's.
    pub mode: Mode,
}

/// An AppAssignment's spec, shared with the object it was resolved from: resolving copies no
/// user (an AppAssignment lists up to 5,000, some 2 MB). Read through `Deref`; changing it
/// (tests do) copies the object first unless nothing else holds it.
#[derive(Clone)]
pub struct AssignmentSpec(Arc<AppAssignment>);

impl AssignmentSpec {
    /// The spec of `assignment`, shared.
    pub fn of(assignment: Arc<AppAssignment>) -> Self {
        AssignmentSpec(assignment)
    }

    /// Lets go of the shared object once its users are planned, keeping the rest of the spec.
    pub fn release_users(&mut self) {
        self.0 = Arc::new(without_users(&self.0));
    }
}

/// A copy of `assignment` without its users: its metadata, status and the rest of its spec.
pub fn without_users(assignment: &AppAssignment) -> AppAssignment {
    let spec = &assignment.spec;
    AppAssignment {
        metadata: assignment.metadata.clone(),
        spec: AppAssignmentSpec {
            domain_ref: spec.domain_ref.clone(),
            users: Vec::new(),
            provisioning: spec.provisioning,
            adopt_existing: spec.adopt_existing,
            mode: spec.mode,
            defaults: spec.defaults.clone(),
        },
        status: assignment.status.clone(),
    }
}

impl From<AppAssignmentSpec> for AssignmentSpec {
    /// A spec of no object (tests, benchmarks).
    fn from(spec: AppAssignmentSpec) -> Self {
        AssignmentSpec(Arc::new(AppAssignment::new("", spec)))
    }
}

impl Deref for AssignmentSpec {
    type Target = AppAssignmentSpec;

    fn deref(&self) -> &AppAssignmentSpec {
        &self.0.spec
    }
}

impl DerefMut for AssignmentSpec {
    fn deref_mut(&mut self) -> &mut AppAssignmentSpec {
        &mut Arc::make_mut(&mut self.0).spec
    }
}

impl fmt::Debug for AssignmentSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.spec.fmt(f)
    }
}
