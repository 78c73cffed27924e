//! The controller sends credentials only to hosts its operator allowed (issue 9): a Tenant
//! naming another host is Blocked (`EndpointNotAllowed`) and no connection reaches that host;
//! a Tenant cannot name a workload identity token file.
//!
//! Run with `eval "$(tests/envtest/up)"` and
//! `cargo test -p o365-e2e --features envtest --test endpoints`.

mod support;

use std::io::ErrorKind;
use std::net::TcpListener;

use anyhow::{Context, Result, bail, ensure};
use o365_controller::api::Tenant;
use o365_e2e::{
    DEFAULT_TIMEOUT, TestNamespace, client, condition_field, has_condition, install_crds, kubectl,
    kubectl_ok, wait_for,
};
use o365_graph_sim::Fixture;
use serde_json::json;
use support::Harness;

#[tokio::test]
async fn a_tenant_naming_a_host_the_operator_did_not_allow_is_blocked_and_sent_nothing()
-> Result<()> {
    // The controller allows the simulator only (as `run --allow-endpoint <sim>`).
    let h = Harness::start("ep-blocked", Fixture::demo()).await?;
    let trap = TcpListener::bind("127.0.0.1:0")?;
    trap.set_nonblocking(true)?;
    let addr = trap.local_addr()?.to_string();
    let url = format!("http://{addr}");
    h.tenant(json!({"loginEndpoint": url, "graphEndpoint": url}))
        .await?;

    let tenant = wait_for(
        &h.api::<Tenant>(),
        "contoso",
        DEFAULT_TIMEOUT,
        has_condition("Blocked", "True", Some("EndpointNotAllowed")),
    )
    .await
    .context("the Tenant did not become Blocked/EndpointNotAllowed")?;
    let message = condition_field(&tenant, "Blocked", "message").unwrap_or_default();
    ensure!(
        message.contains(&addr) && message.contains("allowEndpoints"),
        "the message names neither the host nor the Helm value: {message}"
    );
    ensure!(
        condition_field(&tenant, "Ready", "status").as_deref() == Some("False"),
        "Ready is not False"
    );
    // The condition is written after the client was refused, so any connection would already
    // be in the trap's backlog.
    match trap.accept() {
        Err(e) if e.kind() == ErrorKind::WouldBlock => {}
        Ok((_, peer)) => bail!("a connection from {peer} reached the host nobody allowed"),
        Err(e) => bail!("accept: {e}"),
    }

    // Pointed back at the allowed simulator, the same Tenant becomes Ready.
    h.tenant(json!({})).await?;
    wait_for(
        &h.api::<Tenant>(),
        "contoso",
        DEFAULT_TIMEOUT,
        has_condition("Ready", "True", None),
    )
    .await
    .context("the Tenant did not become Ready on the allowed simulator")?;
    h.finish().await
}

/// `tokenFile` is not in the schema: a create (strict decoding, what `kubectl apply` and
/// `kubectl create` do) is refused with "unknown field"; server-side apply prunes the field, so
/// the stored Tenant names no file either way.
#[tokio::test]
async fn a_tenant_cannot_name_a_workload_identity_token_file() -> Result<()> {
    let client = client().await?;
    install_crds(&client).await?;
    let ns = TestNamespace::new(&client, "ep-token-file").await?;
    let file = std::env::temp_dir().join(format!("{}-token-file.yaml", ns.name()));
    std::fs::write(
        &file,
        "apiVersion: o365-controller.io/v1alpha1
kind: Tenant
metadata:
  name: bad
spec:
  tenantId: 11111111-1111-1111-1111-111111111111
  clientId: 22222222-2222-2222-2222-222222222222
  credentials:
    workloadIdentity:
      tokenFile: /var/run/secrets/kubernetes.io/serviceaccount/token
",
    )?;
    let path = file.display().to_string();
    let out = kubectl(["create", "-n", ns.name(), "-f", &path])?;
    let stderr = String::from_utf8_lossy(&out.stderr);
    ensure!(
        !out.status.success()
            && stderr.contains("unknown field \"spec.credentials.workloadIdentity.tokenFile\""),
        "kubectl create did not refuse tokenFile as an unknown field: {stderr}"
    );
    kubectl_ok([
        "apply",
        "--server-side",
        "--field-manager=o365-e2e",
        "-n",
        ns.name(),
        "-f",
        &path,
    ])?;
    let stored = kubectl_ok([
        "get",
        "-n",
        ns.name(),
        "o365tenant/bad",
        "-o",
        "jsonpath={.spec.credentials}",
    ])?;
    ensure!(
        stored.trim() == r#"{"workloadIdentity":{}}"#,
        "the stored credentials are {stored}"
    );
    let _ = std::fs::remove_file(&file);
    ns.delete().await
}
