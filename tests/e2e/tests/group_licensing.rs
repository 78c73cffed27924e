//! End-to-end: a LicensePolicy with `assignment: Group` reconciled by the controller against a
//! real kube-apiserver and the simulator. Its status reports the group and what Entra computed
//! per user: licensed, processing, and errors with Entra's reason.
//!
//! Run with `eval "$(tests/envtest/up)"` and
//! `cargo test -p o365-e2e --features envtest --test group_licensing -- --nocapture`.

mod support;

use std::time::Duration;

use anyhow::{Context, Result, ensure};
use o365_controller::api::LicensePolicy;
use o365_e2e::{DEFAULT_TIMEOUT, condition_field, kubectl_ok, wait_until};
use o365_graph_sim::Fixture;
use serde_json::{Value, json};
use support::{DOMAIN, Harness};

const E3: &str = "6fd2c87f-b296-42f0-b197-1e91e994b900";

/// The next reconcile at once (the resync interval is at least 30 s): any change of the
/// Tenant's metadata triggers one.
fn reconcile_now(h: &Harness, value: usize) -> Result<()> {
    kubectl_ok([
        "annotate",
        "o365tenant",
        "contoso",
        "-n",
        h.ns.name(),
        "--overwrite",
        &format!("e2e.o365-controller.io/nudge={value}"),
    ])?;
    Ok(())
}

/// Nudges reconciles until the policy's status satisfies `check` (Entra processes group
/// licenses asynchronously, after the cycle that wrote them).
async fn wait_status(
    h: &Harness,
    what: &str,
    check: impl Fn(&Value) -> bool,
) -> Result<LicensePolicy> {
    let api = h.api::<LicensePolicy>();
    let mut nudges = 0;
    wait_until(what, DEFAULT_TIMEOUT + Duration::from_secs(30), || {
        nudges += 1;
        let api = api.clone();
        let nudge = reconcile_now(h, nudges);
        let check = &check;
        async move {
            nudge?;
            let p = api.get("e3").await?;
            let status = serde_json::to_value(&p.status)?;
            Ok(check(&status).then_some(p))
        }
    })
    .await
}

fn group_policy() -> Value {
    json!({
        "metadata": {"name": "e3"},
        "spec": {
            "tenantRef": {"name": "contoso"},
            "appliesTo": {"domainRefs": [{"name": "contoso-com"}]},
            "assignment": "Group",
            "licenses": [{"skuPartNumber": "ENTERPRISEPACK"}],
            "usageLocation": "US",
        },
    })
}

#[tokio::test]
async fn group_licensing_status_counts_licensed_members_and_entras_errors() -> Result<()> {
    let h = Harness::start("ctl-group-lic", Fixture::demo()).await?;
    h.tenant(json!({})).await?;
    h.managed_domain(json!({})).await?;
    let mut users: Vec<String> = (1..=3).map(|i| format!("group.user{i}@{DOMAIN}")).collect();
    h.assignment("team", &users, json!({})).await?;
    h.apply::<LicensePolicy>(group_policy()).await?;

    let name = format!("o365-controller license {}/e3", h.ns.name());
    let group = wait_until(
        "the controller's group has the three users",
        DEFAULT_TIMEOUT,
        || {
            let group = h
                .sim
                .groups()
                .into_iter()
                .find(|g| g.display_name == name && g.members.len() == 3);
            async move { Ok(group) }
        },
    )
    .await?;
    ensure!(
        group
            .description
            .as_deref()
            .is_some_and(|d| d.contains("LicensePolicy")),
        "the description names the policy: {:?}",
        group.description
    );

    let p = wait_status(&h, "three users licensed through the group", |s| {
        s.pointer("/users/licensed") == Some(&json!(3))
            && s.pointer("/group/members") == Some(&json!(3))
            && s.pointer("/driftState") == Some(&json!("InSync"))
    })
    .await?;
    let status = serde_json::to_value(&p.status)?;
    ensure!(
        status.pointer("/group/id").and_then(Value::as_str) == Some(group.id.as_str()),
        "status names the group: {status:#}"
    );
    ensure!(
        condition_field(&p, "Ready", "status").as_deref() == Some("True"),
        "Ready: {status:#}"
    );
    for upn in &users {
        let u = h.sim.user(upn).context("the user exists")?;
        ensure!(u.licenses.is_empty(), "{upn}: nothing assigned directly");
        ensure!(
            u.group_licenses
                .iter()
                .any(|l| l.sku == E3 && l.is_active()),
            "{upn}: E3 through the group"
        );
    }

    // No seat left: the next member gets a CountViolation from Entra, which the status shows
    // with its reason, and the policy is no longer Ready.
    let consumed = h.sim.consumed_units(E3).context("E3 exists")?;
    ensure!(h.sim.set_sku_seats(E3, consumed), "seats set");
    users.push(format!("group.user4@{DOMAIN}"));
    h.assignment("team", &users, json!({})).await?;
    let p = wait_status(&h, "a CountViolation in the status", |s| {
        s.pointer("/users/errors/0/reason") == Some(&json!("CountViolation"))
    })
    .await?;
    let status = serde_json::to_value(&p.status)?;
    ensure!(
        status.pointer("/users/errors/0/examples/0")
            == Some(&json!(format!("group.user4@{DOMAIN}"))),
        "the user in error is named: {status:#}"
    );
    ensure!(
        status.pointer("/users/licensed") == Some(&json!(3)),
        "{status:#}"
    );
    ensure!(
        condition_field(&p, "Ready", "status").as_deref() == Some("False"),
        "not Ready while a member is in error: {status:#}"
    );
    h.finish().await
}
