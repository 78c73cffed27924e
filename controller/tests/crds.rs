//! The committed CRDs match the code, and every schema property is documented.

use std::path::PathBuf;

use o365_controller::api::{crd_file_name, crd_yaml, crds};
use serde_json::Value;

fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

#[test]
fn committed_crds_are_up_to_date() {
    for crd in crds() {
        let path = repo_root().join("crds").join(crd_file_name(&crd));
        let committed = std::fs::read_to_string(&path).unwrap_or_else(|e| {
            panic!(
                "{} is missing ({e}); run `cargo run -p o365-controller -- crds --output-dir crds`",
                path.display()
            )
        });
        let generated = crd_yaml(&crd).expect("CRD serialises");
        assert!(
            committed == generated,
            "{} is stale: run `cargo run -p o365-controller -- crds --output-dir crds` and commit the result",
            path.display()
        );
    }
}

fn undocumented(schema: &Value, path: &str, out: &mut Vec<String>) {
    if let Some(props) = schema.get("properties").and_then(Value::as_object) {
        for (name, prop) in props {
            let child = format!("{path}.{name}");
            if prop
                .get("description")
                .and_then(Value::as_str)
                .is_none_or(str::is_empty)
            {
                out.push(child.clone());
            }
            undocumented(prop, &child, out);
        }
    }
    if let Some(items) = schema.get("items") {
        undocumented(items, &format!("{path}[]"), out);
    }
    if let Some(additional) = schema.get("additionalProperties").filter(|a| a.is_object()) {
        undocumented(additional, &format!("{path}{{}}"), out);
    }
}

#[test]
fn every_schema_property_has_a_description() {
    let mut missing = Vec::new();
    for crd in crds() {
        let schema = serde_json::to_value(
            crd.spec.versions[0]
                .schema
                .as_ref()
                .unwrap()
                .open_api_v3_schema
                .as_ref()
                .unwrap(),
        )
        .unwrap();
        let kind = crd.spec.names.kind.clone();
        // apiVersion, kind and metadata are described by Kubernetes itself.
        for (name, prop) in schema["properties"].as_object().unwrap() {
            if ["apiVersion", "kind", "metadata"].contains(&name.as_str()) {
                continue;
            }
            if prop.get("description").is_none() {
                missing.push(format!("{kind}.{name}"));
            }
            undocumented(prop, &format!("{kind}.{name}"), &mut missing);
        }
    }
    assert!(
        missing.is_empty(),
        "properties without a description: {missing:#?}"
    );
}

#[test]
fn crds_have_short_names_category_and_ready_column() {
    let expected = [
        ("AppAssignment", "o365assign"),
        ("FederatedDomain", "o365domain"),
        ("LicensePolicy", "o365license"),
        ("Tenant", "o365tenant"),
    ];
    let all = crds();
    assert_eq!(all.len(), expected.len());
    for (crd, (kind, short)) in all.iter().zip(expected) {
        assert_eq!(crd.spec.names.kind, kind);
        assert_eq!(crd.spec.group, "o365-controller.io");
        assert_eq!(crd.spec.scope, "Namespaced");
        assert_eq!(
            crd.spec.names.short_names.as_deref(),
            Some(&[short.to_owned()][..])
        );
        assert_eq!(
            crd.spec.names.categories.as_deref(),
            Some(&["o365".to_owned()][..])
        );
        let version = &crd.spec.versions[0];
        assert_eq!(version.name, "v1alpha1");
        assert!(
            version
                .subresources
                .as_ref()
                .and_then(|s| s.status.as_ref())
                .is_some()
        );
        let columns: Vec<&str> = version
            .additional_printer_columns
            .as_ref()
            .unwrap()
            .iter()
            .map(|c| c.name.as_str())
            .collect();
        assert!(
            columns.contains(&"Ready") && columns.contains(&"Age"),
            "{kind}: {columns:?}"
        );
    }
}

#[test]
fn status_conditions_are_a_list_map_keyed_by_type() {
    for crd in crds() {
        let schema = serde_json::to_value(&crd.spec.versions[0].schema).unwrap();
        let conditions =
            &schema["openAPIV3Schema"]["properties"]["status"]["properties"]["conditions"];
        assert_eq!(
            conditions["x-kubernetes-list-type"], "map",
            "{}",
            crd.spec.names.kind
        );
        assert_eq!(conditions["x-kubernetes-list-map-keys"][0], "type");
    }
}

#[test]
fn no_unsigned_integer_formats_in_any_schema() {
    for crd in crds() {
        let text = serde_json::to_string(&crd).unwrap();
        assert!(
            !text.contains("\"uint"),
            "{} has an unsigned format",
            crd.spec.names.kind
        );
    }
}

#[test]
fn every_cel_rule_compiles() {
    for crd in crds() {
        let schema = serde_json::to_value(
            crd.spec.versions[0]
                .schema
                .as_ref()
                .unwrap()
                .open_api_v3_schema
                .as_ref()
                .unwrap(),
        )
        .unwrap();
        let compiled = kube::core::cel::compile_schema(&schema);
        assert!(
            !compiled.has_errors(),
            "{}: {:?}",
            crd.spec.names.kind,
            compiled.compilation_errors()
        );
    }
}
