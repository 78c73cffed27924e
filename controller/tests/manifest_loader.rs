//! Behaviour of the manifest loader on bad input.

use std::path::Path;

use o365_controller::manifest::load_str;

const TENANT: &str = "apiVersion: o365-controller.io/v1alpha1
kind: Tenant
metadata:
  name: t
spec:
  tenantId: 11111111-1111-1111-1111-111111111111
  clientId: 22222222-2222-2222-2222-222222222222
  credentials:
    clientSecret:
      secretName: s
";

fn errors(text: &str) -> Vec<String> {
    match load_str(Path::new("m.yaml"), text) {
        Ok(m) => panic!("accepted: {m:?}"),
        Err(d) => d.iter().map(ToString::to_string).collect(),
    }
}

#[test]
fn a_valid_tenant_loads_with_defaults_applied() {
    let m = load_str(Path::new("m.yaml"), TENANT).unwrap();
    assert_eq!(m.tenants.len(), 1);
    assert_eq!(m.tenants[0].spec.resync_interval, "10m");
    let secret = m.tenants[0]
        .spec
        .credentials
        .client_secret
        .as_ref()
        .unwrap();
    assert_eq!(secret.key, "client-secret");
}

#[test]
fn every_error_in_a_document_is_reported_with_its_location() {
    let text = TENANT.replace("  clientId:", "  colour: blue\n  mode: Fix\n  clientId:");
    let e = errors(&text);
    assert_eq!(e.len(), 2, "{e:#?}");
    assert!(
        e[0].starts_with("m.yaml:7:3: spec.colour: unknown field"),
        "{e:#?}"
    );
    assert!(
        e[1].starts_with("m.yaml:8:3: spec.mode: Unsupported value: \"Fix\""),
        "{e:#?}"
    );
}

#[test]
fn errors_in_several_documents_are_all_reported() {
    let bad_id = TENANT.replace("tenantId: 1111", "tenantId: x1111");
    let text = format!(
        "{bad_id}---\n{}",
        TENANT.replace("clientId: 2222", "clientId: y2222")
    );
    let e = errors(&text);
    assert_eq!(e.len(), 2, "{e:#?}");
    assert!(e[0].starts_with("m.yaml:6:3: spec.tenantId"), "{e:#?}");
    assert!(e[1].starts_with("m.yaml:18:3: spec.clientId"), "{e:#?}");
}

#[test]
fn a_wrong_type_names_the_expected_type() {
    let text = TENANT.replace("  clientId:", "  resyncInterval: [1]\n  clientId:");
    let e = errors(&text);
    assert!(
        e[0].contains("spec.resyncInterval") && e[0].contains("must be of type string"),
        "{e:#?}"
    );
}

#[test]
fn broken_yaml_is_reported_with_a_location() {
    let e = errors("apiVersion: v1\nkind: [Secret\n");
    assert!(
        e[0].starts_with("m.yaml:") && e[0].contains("not valid YAML"),
        "{e:#?}"
    );
}

#[test]
fn an_unsupported_kind_says_which_kinds_are() {
    let e = errors("apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: x\n");
    assert!(
        e[0].contains("unsupported kind \"Deployment\"")
            && e[0].contains("Tenant, FederatedDomain"),
        "{e:#?}"
    );
}

#[test]
fn a_wrong_api_version_says_what_to_write() {
    let e = errors(&TENANT.replace("v1alpha1", "v1"));
    assert!(
        e[0].contains("write apiVersion: o365-controller.io/v1alpha1"),
        "{e:#?}"
    );
}

#[test]
fn a_missing_name_is_required() {
    let e = errors(&TENANT.replace("  name: t\n", "  labels: {}\n"));
    assert!(
        e.iter()
            .any(|e| e.contains("metadata.name: Required value")),
        "{e:#?}"
    );
}

#[test]
fn an_object_defined_twice_is_refused() {
    let e = errors(&format!("{TENANT}---\n{TENANT}"));
    assert!(e[0].contains("Tenant/t is defined twice"), "{e:#?}");
}

#[test]
fn secrets_load_with_string_data() {
    let m = load_str(
        Path::new("m.yaml"),
        "apiVersion: v1\nkind: Secret\nmetadata:\n  name: s\nstringData:\n  client-secret: x\n",
    )
    .unwrap();
    assert_eq!(m.secrets.len(), 1);
}
