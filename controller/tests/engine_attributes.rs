//! Managed attributes over HTTP against the simulator: attributes written in git are set on
//! create and corrected on drift; those not in git are left alone; AppAssignment `defaults`
//! apply to every entry that sets none.

mod engine_support;

use engine_support::*;
use serde_json::json;

const ANN: &str = "ann.lee@corp.example.com";
const BOB: &str = "bob.ray@corp.example.com";

fn objects(ann_extra: &str) -> String {
    let defaults = "  defaults:\n    companyName: Contoso\n    usageLocation: DE\n";
    let team = assignment("team", "corp", &[ANN, BOB], defaults).replace(
        &format!("userPrincipalName: {ANN}\n"),
        &format!(
            "userPrincipalName: {ANN}\n      department: Finance\n      jobTitle: Accountant\n{ann_extra}"
        ),
    );
    docs(&[&managed_domain("corp", DOMAIN, ""), &team])
}

fn attr(sim: &o365_graph_sim::Simulator, upn: &str, name: &str) -> Option<String> {
    sim.user(upn)?
        .extra
        .get(name)
        .and_then(|v| v.as_str())
        .map(str::to_string)
}

#[tokio::test]
async fn attributes_in_git_are_set_defaults_apply_and_drift_is_corrected() {
    let sim = start(fixture_with(Vec::new())).await;
    let m = objects("");
    assert!(m.contains("department: Finance"), "{m}");
    let run = converge(&sim, &m).await;
    run.assert_converged();
    assert_eq!(attr(&sim, ANN, "department").as_deref(), Some("Finance"));
    assert_eq!(attr(&sim, ANN, "jobTitle").as_deref(), Some("Accountant"));
    assert_eq!(attr(&sim, ANN, "companyName").as_deref(), Some("Contoso"));
    assert_eq!(attr(&sim, BOB, "companyName").as_deref(), Some("Contoso"));
    assert_eq!(attr(&sim, BOB, "department"), None);
    assert_eq!(sim.user(BOB).unwrap().usage_location.as_deref(), Some("DE"));

    // Someone edits the tenant: the managed attribute is corrected, the unmanaged one kept.
    assert!(sim.update_user(ANN, |u| {
        u.extra.insert("department".into(), json!("Sales"));
        u.extra.insert("city".into(), json!("Oslo"));
    }));
    let run = converge(&sim, &m).await;
    let drift =
        &run.plan.objects[&key(o365_controller::model::Kind::AppAssignment, "team")].drift_entries;
    assert!(
        drift
            .iter()
            .any(|d| d.field == format!("users[{ANN}].department") && d.observed == "Sales"),
        "{drift:#?}"
    );
    run.assert_converged();
    assert_eq!(attr(&sim, ANN, "department").as_deref(), Some("Finance"));
    assert_eq!(attr(&sim, ANN, "city").as_deref(), Some("Oslo"));
}
