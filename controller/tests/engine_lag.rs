//! Entra replication lag (the simulator's seeded `replicationLag` mode): requests about users
//! created moments before may get 404 `Request_ResourceNotFound` from a replica that has not
//! seen them yet; the apply retries them and a run creating and licensing users converges
//! with no failure.

mod engine_support;

use engine_support::*;
use o365_graph_sim::{ReplicationLag, SimConfig};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn users_created_and_licensed_under_replication_lag_converge_without_failures() {
    let upns: Vec<String> = (0..12)
        .map(|i| format!("lag{i:02}@corp.example.com"))
        .collect();
    let refs: Vec<&str> = upns.iter().map(String::as_str).collect();
    let sim = start_with(
        fixture(),
        SimConfig {
            replication_lag: Some(ReplicationLag {
                window_seconds: 1.5,
                probability: 0.6,
                seed: 7,
            }),
            ..quiet()
        },
    )
    .await;
    let objects = docs(&[
        &managed_domain("corp", DOMAIN, ""),
        &assignment("team", "corp", &refs, ""),
        r#"apiVersion: o365-controller.io/v1alpha1
kind: LicensePolicy
metadata:
  name: e3
spec:
  tenantRef:
    name: corp
  appliesTo:
    domainRefs:
      - name: corp
  licenses:
    - skuPartNumber: ENTERPRISEPACK
  usageLocation: US
"#,
    ]);
    let run = converge(&sim, &objects).await;
    run.assert_no_failures();
    assert!(
        sim.stats().replication_lag_misses > 0,
        "the lag mode must have answered some request as a lagging replica"
    );
    for upn in &upns {
        assert_eq!(count_upn(&sim, upn), 1, "{upn}");
        assert_eq!(
            direct_skus(&sim.user(upn).must(upn)),
            vec![E3.to_string()],
            "{upn}"
        );
    }
}
