//! The shipped examples: the valid ones load, and every invalid one is refused with the error
//! its first line names, at a `file:line:column` location.

use std::path::{Path, PathBuf};

use o365_controller::manifest;

fn examples() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../examples")
}

#[test]
fn quickstart_and_tenant_examples_are_valid() {
    let loaded = manifest::load(&[examples().join("quickstart"), examples().join("tenant")])
        .unwrap_or_else(|d| panic!("{d:#?}"));
    assert_eq!(loaded.tenants.len(), 2);
    assert_eq!(loaded.domains.len(), 2);
    assert_eq!(loaded.assignments.len(), 3);
    assert_eq!(loaded.policies.len(), 2);
    assert_eq!(loaded.secrets.len(), 2);
}

#[test]
fn the_namespaces_example_is_valid_and_spans_namespaces() {
    let loaded =
        manifest::load(&[examples().join("namespaces")]).unwrap_or_else(|d| panic!("{d:#?}"));
    assert_eq!(loaded.namespaces.len(), 2);
    assert_eq!(loaded.tenants.len(), 1);
    assert_eq!(loaded.domains.len(), 1);
    assert_eq!(loaded.policies.len(), 1);
    assert_eq!(loaded.secrets.len(), 1);
    let [a] = loaded.assignments.as_slice() else {
        panic!("one AppAssignment")
    };
    assert_eq!(a.metadata.namespace.as_deref(), Some("team-marketing"));
    assert_eq!(a.spec.domain_ref.namespace.as_deref(), Some("platform"));
}

fn expectation(path: &Path) -> String {
    let text = std::fs::read_to_string(path).unwrap();
    text.lines()
        .next()
        .and_then(|l| l.strip_prefix("# expect: "))
        .unwrap_or_else(|| panic!("{} must start with `# expect: <substring>`", path.display()))
        .to_owned()
}

#[test]
fn every_invalid_example_is_refused_with_its_expected_error_and_a_location() {
    let mut files: Vec<PathBuf> = std::fs::read_dir(examples().join("invalid"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    assert!(
        files.len() >= 15,
        "at least 15 invalid examples, found {}",
        files.len()
    );
    for file in files {
        let expect = expectation(&file);
        let diagnostics = match manifest::load(std::slice::from_ref(&file)) {
            Ok(_) => panic!("{} was accepted", file.display()),
            Err(d) => d,
        };
        let shown: Vec<String> = diagnostics.iter().map(ToString::to_string).collect();
        assert!(
            shown.iter().any(|d| d.contains(&expect)),
            "{}: expected {expect:?} in {shown:#?}",
            file.display()
        );
        for d in &diagnostics {
            assert!(d.position.line >= 2, "{}: no line in {d}", file.display());
            assert!(
                d.position.column >= 1,
                "{}: no column in {d}",
                file.display()
            );
        }
    }
}
