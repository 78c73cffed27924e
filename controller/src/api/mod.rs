//! The API: four namespaced kinds in group `o365-controller.io`, version `v1alpha1`.
//!
//! Every field carries a doc comment (it is what `kubectl explain` shows) and the CEL rules that
//! reject bad specs at admission live next to the field they guard.

mod app_assignment;
mod attributes;
mod common;
mod federated_domain;
mod grants;
mod leavers;
mod license_policy;
mod tenant;

pub use app_assignment::*;
pub use attributes::*;
pub use common::*;
pub use federated_domain::*;
pub use grants::*;
pub use leavers::*;
pub use license_policy::*;
pub use tenant::*;

use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::CustomResourceExt;

/// Every CRD of the controller, ordered by name (the order of the files in `crds/`).
pub fn crds() -> Vec<CustomResourceDefinition> {
    vec![
        AppAssignment::crd(),
        FederatedDomain::crd(),
        LicensePolicy::crd(),
        Tenant::crd(),
    ]
}

/// One CRD as a YAML document (starting with `---`), the form committed under `crds/`.
pub fn crd_yaml(crd: &CustomResourceDefinition) -> Result<String, serde_saphyr::ser::Error> {
    Ok(format!("---\n{}", serde_saphyr::to_string(crd)?))
}

/// The file name of a CRD under `crds/`: `<plural>.<group>.yaml`.
pub fn crd_file_name(crd: &CustomResourceDefinition) -> String {
    format!("{}.yaml", crd.metadata.name.as_deref().unwrap_or("unnamed"))
}
