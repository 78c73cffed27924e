//! What the engine and memory benchmarks share: the simulator tenant they run against (one
//! verified domain, one ENTERPRISEPACK SKU, the app and a break-glass admin).

use o365_graph_sim::Fixture;

pub const TENANT_ID: &str = "11111111-1111-1111-1111-111111111111";
pub const CLIENT_ID: &str = "22222222-2222-2222-2222-222222222222";
pub const SECRET: &str = "bench-client-secret";
pub const DOMAIN: &str = "bench.example";
pub const SKU_ID: &str = "6fd2c87f-b296-42f0-b197-1e91e994b900";

/// The bench tenant with `seats` ENTERPRISEPACK seats and no users but its admin.
pub fn tenant(seats: usize) -> Result<Fixture, o365_graph_sim::SimError> {
    Fixture::from_yaml(&format!(
        "tenant:
  id: {TENANT_ID}
  displayName: Bench
  initialDomain: bench.onmicrosoft.com
domains:
  - id: bench.onmicrosoft.com
    isDefault: true
    isInitial: true
  - id: {DOMAIN}
    isVerified: true
users:
  - userPrincipalName: admin@bench.onmicrosoft.com
    displayName: Break-glass
    roles: [Global Administrator]
skus:
  - skuId: {SKU_ID}
    skuPartNumber: ENTERPRISEPACK
    enabled: {seats}
    servicePlans:
      - servicePlanId: efb87545-963c-4e0d-99df-69c6916d9eb0
        servicePlanName: EXCHANGE_S_ENTERPRISE
apps:
  - clientId: {CLIENT_ID}
    clientSecrets: [{SECRET}]
"
    ))
}
