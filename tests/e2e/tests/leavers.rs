//! End-to-end: a staged leaver across controller restarts. The leaver clock lives in the
//! tenant (the user's `extensionAttribute15`), so a new controller process picks up where the
//! last one left off; each stage shows in the FederatedDomain's `status.leavers`.
//!
//! Run with `eval "$(tests/envtest/up)"` and
//! `cargo test -p o365-e2e --features envtest --test leavers -- --nocapture`.

mod support;

use std::time::Duration;

use anyhow::{Context, Result, ensure};
use o365_controller::api::{FederatedDomain, LeaverStage, LeaverTimeline};
use o365_controller::model::{LeaverMark, leaver_mark};
use o365_e2e::{DEFAULT_TIMEOUT, wait_until};
use o365_graph_sim::{Fixture, Simulator};
use serde_json::json;
use support::{DOMAIN, Harness, InProcessController};

const EXT: &str = "onPremisesExtensionAttributes";

fn mark_of(sim: &Simulator, upn: &str) -> Option<String> {
    let u = sim.user(upn)?;
    let v = u.extra.get(EXT)?.get("extensionAttribute15")?;
    v.as_str().map(str::to_owned)
}

/// The domain's timeline entry for `upn` in its status, once it shows `stage`.
async fn wait_stage(h: &Harness, upn: &str, stage: LeaverStage) -> Result<LeaverTimeline> {
    let api = h.api::<FederatedDomain>();
    wait_until(
        &format!("{upn} at stage {stage:?} in status.leavers"),
        DEFAULT_TIMEOUT,
        || async {
            let d = api.get("contoso-com").await?;
            Ok(d.status
                .and_then(|s| s.leavers)
                .and_then(|l| l.users.into_iter().find(|u| u.user_principal_name == upn))
                .filter(|u| u.stage == stage))
        },
    )
    .await
}

/// Stops the controller, moves the leaver clock of `upn` back by `days` (as if that time had
/// passed while no controller ran), and starts a new controller.
async fn restart_later(h: &mut Harness, upn: &str, days: u64) -> Result<()> {
    if let Some(c) = h.controller.take() {
        c.stop().await?;
    }
    let mark = mark_of(&h.sim, upn).context("no leaver mark")?;
    let LeaverMark::Since(since) = LeaverMark::parse(Some(&mark)) else {
        anyhow::bail!("not a leaver mark: {mark}");
    };
    let earlier = leaver_mark(since - Duration::from_secs(days * 86_400));
    ensure!(h.sim.update_user(upn, |u| {
        u.extra
            .insert(EXT.into(), json!({ "extensionAttribute15": earlier }));
    }));
    h.controller = Some(InProcessController::start(h.client.clone(), h.ns.name(), &h.sim).await?);
    Ok(())
}

#[tokio::test]
async fn a_staged_leaver_moves_through_its_stages_across_controller_restarts() -> Result<()> {
    let mut h = Harness::start("lc-stages", Fixture::demo()).await?;
    h.tenant(json!({})).await?;
    h.managed_domain(json!({
        "unassignedUsers": "Disable",
        "leaverStages": {"revokeSessions": true, "removeLicensesAfter": "7d", "deleteAfter": "30d"},
        "changeBudget": {"maxDeprovisions": 10, "maxDeprovisionPercent": 100},
    }))
    .await?;
    let leaver = format!("leaver@{DOMAIN}");
    let mut users: Vec<String> = ["adele.vance", "megan.bowen"]
        .iter()
        .map(|u| format!("{u}@{DOMAIN}"))
        .collect();
    users.push(leaver.clone());
    h.assignment("team", &users, json!({})).await?;
    wait_until("the leaver exists", DEFAULT_TIMEOUT, || async {
        Ok(h.sim.user(&leaver))
    })
    .await?;

    users.pop();
    h.assignment("team", &users, json!({})).await?;
    let entry = wait_stage(&h, &leaver, LeaverStage::Disabled).await?;
    let u = h
        .sim
        .user(&leaver)
        .context("the leaver is gone too early")?;
    ensure!(!u.account_enabled, "the leaver is disabled");
    ensure!(
        u.extra.contains_key("signInSessionsValidFromDateTime"),
        "its sessions were revoked"
    );
    let disabled_at = entry.disabled_at.clone().context("no disabledAt")?;
    ensure!(
        entry.delete_at.is_some(),
        "the delete time is shown: {entry:?}"
    );

    // Eight days on, a new controller: the clock read from the tenant says licenses go.
    restart_later(&mut h, &leaver, 8).await?;
    let entry = wait_stage(&h, &leaver, LeaverStage::LicensesRemoved).await?;
    ensure!(
        entry.disabled_at.as_deref() != Some(disabled_at.as_str()),
        "the status follows the tenant's clock"
    );
    ensure!(
        h.sim.user(&leaver).is_some_and(|u| u.licenses.is_empty()),
        "direct licenses are removed"
    );

    // Thirty-one days on, another new controller: deleted (soft), off the timeline.
    restart_later(&mut h, &leaver, 31).await?;
    wait_until("the leaver is deleted", DEFAULT_TIMEOUT, || async {
        Ok(h.sim.user(&leaver).is_none().then_some(()))
    })
    .await?;
    ensure!(
        h.sim
            .deleted_users()
            .iter()
            .any(|u| u.user_principal_name == leaver),
        "soft-deleted, restorable"
    );
    h.finish().await
}
