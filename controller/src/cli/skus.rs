//! `o365-controller skus`: the SKUs the tenant subscribes to, with seats and service-plan names
//! (the guide's REFRESH LICENSES) — what a LicensePolicy's `skuPartNumber` and `disabledPlans`
//! may name.

use std::process::ExitCode;

use kube::ResourceExt;
use serde::Serialize;

use super::output::{self, Format};
use super::session::{CliError, Session, TargetArgs};
use crate::model::{ObservedSku, Read};

/// Options of `skus`.
#[derive(Debug, clap::Args)]
pub struct SkusArgs {
    /// Manifests with the Tenant (and its credentials Secret) and target.
    #[command(flatten)]
    pub target: TargetArgs,
    /// Output format.
    #[arg(short = 'o', long = "output", value_enum, default_value_t)]
    pub output: Format,
}

/// One subscribed SKU as `-o json` prints it.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct SkuView<'a> {
    tenant: String,
    sku_part_number: &'a str,
    sku_id: &'a str,
    enabled: i32,
    consumed: i32,
    available: i32,
    service_plans: Vec<&'a str>,
}

fn view<'a>(tenant: &str, s: &'a ObservedSku) -> SkuView<'a> {
    let mut service_plans: Vec<&str> = s.service_plans.iter().map(|(_, n)| n.as_str()).collect();
    service_plans.sort_unstable();
    SkuView {
        tenant: tenant.to_owned(),
        sku_part_number: &s.sku_part_number,
        sku_id: &s.sku_id,
        enabled: s.enabled,
        consumed: s.consumed,
        available: s.available(),
        service_plans,
    }
}

/// Lists the subscribed SKUs of every Tenant. Exit 0, or 1 when they cannot be read.
pub async fn run(args: SkusArgs) -> Result<ExitCode, CliError> {
    let session = Session::open(&args.target).await?;
    let mut rows = Vec::new();
    let mut json = Vec::new();
    let mut failed = false;
    for tenant in session.tenants() {
        let name = tenant.name_any();
        let (_client, mirror) = session.connect(tenant).await?;
        let skus = match &mirror.observed().skus {
            Read::Known(skus) => skus.clone(),
            Read::Unknown(reason) => {
                eprintln!("error: Tenant {name}: cannot read the subscribed SKUs: {reason}");
                failed = true;
                continue;
            }
        };
        let mut skus = skus;
        skus.sort_by(|a, b| a.sku_part_number.cmp(&b.sku_part_number));
        for s in &skus {
            let v = view(&name, s);
            rows.push(vec![
                name.clone(),
                v.sku_part_number.to_owned(),
                v.sku_id.to_owned(),
                v.enabled.to_string(),
                v.consumed.to_string(),
                v.available.to_string(),
                v.service_plans.join(","),
            ]);
            json.push(serde_json::to_value(&v).map_err(|e| CliError(e.to_string()))?);
        }
    }
    match args.output {
        Format::Table => output::emit(&output::table(
            &[
                "TENANT",
                "SKU",
                "SKU ID",
                "ENABLED",
                "CONSUMED",
                "AVAILABLE",
                "SERVICE PLANS",
            ],
            &rows,
        )),
        Format::Json => output::emit_json(&json)?,
    }
    session.close().await?;
    Ok(if failed {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}
