//! A LicensePolicy's licenses resolved against the tenant's subscribed SKUs: part numbers and
//! ids to SKUs, disabled plan names to service plan ids.

use std::collections::BTreeSet;

use super::output::{Out, Owner};
use crate::model::{ObservedSku, Reason};

/// One SKU a policy grants, with the service plan ids it disables.
#[derive(Debug, Clone)]
pub(crate) struct Grant<'a> {
    pub sku: &'a ObservedSku,
    pub disabled: BTreeSet<String>,
}

/// The grants of every policy (by policy index). Unknown SKUs are an `UnknownSku` error and
/// unknown plan names an `UnknownServicePlan` warning; both are left out.
pub(crate) fn resolve_policies<'a>(
    policies: &[crate::model::DesiredPolicy],
    skus: &'a [ObservedSku],
    out: &mut Out,
) -> Vec<Vec<Grant<'a>>> {
    policies
        .iter()
        .enumerate()
        .map(|(pi, p)| {
            let owner = Owner::Policy(pi);
            let mut grants: Vec<Grant<'a>> = Vec::new();
            for license in &p.spec.licenses {
                let sku = skus.iter().find(|s| {
                    license
                        .sku_part_number
                        .as_deref()
                        .is_some_and(|n| s.sku_part_number.eq_ignore_ascii_case(n))
                        || license
                            .sku_id
                            .as_deref()
                            .is_some_and(|id| s.sku_id.eq_ignore_ascii_case(id))
                });
                let Some(sku) = sku else {
                    let named = license
                        .sku_part_number
                        .as_deref()
                        .or(license.sku_id.as_deref())
                        .unwrap_or_default();
                    out.finding(
                        owner,
                        Reason::UnknownSku,
                        format!(
                            "the tenant has no subscription to SKU {named:?}; buy it or fix the \
                             skuPartNumber/skuId (`o365-controller skus -f <tenant manifests>` \
                             lists the SKUs the tenant has, with seats and service plans; in a \
                             cluster, so does the Tenant's status.skus)"
                        ),
                        None,
                    );
                    continue;
                };
                let disabled = license
                    .disabled_plans
                    .iter()
                    .filter_map(|name| plan_id(sku, name, owner, out))
                    .collect();
                match grants.iter_mut().find(|g| g.sku.sku_id == sku.sku_id) {
                    // The same SKU twice in one policy: a plan stays disabled only if both disable it.
                    Some(g) => g.disabled = g.disabled.intersection(&disabled).cloned().collect(),
                    None => grants.push(Grant { sku, disabled }),
                }
            }
            grants
        })
        .collect()
}

fn plan_id(sku: &ObservedSku, name: &str, owner: Owner, out: &mut Out) -> Option<String> {
    let found = sku
        .service_plans
        .iter()
        .find(|(_, plan)| plan.eq_ignore_ascii_case(name))
        .map(|(id, _)| id.to_lowercase());
    if found.is_none() {
        out.finding(
            owner,
            Reason::UnknownServicePlan,
            format!(
                "SKU {} has no service plan named {name:?}, so it is not disabled; fix \
                 disabledPlans (plan names are listed in the SKU's servicePlans)",
                sku.sku_part_number
            ),
            None,
        );
    }
    found
}

/// A service plan's name, for messages (its id when the SKU does not list it).
pub(crate) fn plan_name(sku: &ObservedSku, id: &str) -> String {
    sku.service_plans
        .iter()
        .find(|(pid, _)| pid.eq_ignore_ascii_case(id))
        .map_or_else(|| id.to_string(), |(_, name)| name.clone())
}
