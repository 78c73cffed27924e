//! `o365-controller plan`: what would change, and drift; usable as a CI drift gate.

use std::process::ExitCode;

use kube::ResourceExt;

use super::output::{self, Format};
use super::session::{CliError, ConnectError, Session, TargetArgs};
use crate::model::{Plan, Read};
use crate::resolve::Overrides;

/// Exit code when changes or drift are pending.
pub const EXIT_PENDING: u8 = 2;

/// Options of `plan`.
#[derive(Debug, clap::Args)]
pub struct PlanArgs {
    /// Manifests and target.
    #[command(flatten)]
    pub target: TargetArgs,
    /// Output format.
    #[arg(short = 'o', long = "output", value_enum, default_value_t)]
    pub output: Format,
    /// Treat Manual AppAssignments as if an export had been requested.
    #[arg(long)]
    pub export: bool,
}

/// Prints the plan of every Tenant. Exit 0 in sync, 2 changes or drift pending, 1 error.
pub async fn run(args: PlanArgs) -> Result<ExitCode, CliError> {
    let session = Session::open(&args.target).await?;
    let overrides = Overrides {
        approve: None,
        export: args.export,
    };
    let mut pending = false;
    let mut unknown = false;
    let mut views = Vec::new();
    for tenant in session.tenants() {
        let name = tenant.name_any();
        let (_client, mirror) = match session.connect(tenant).await {
            Ok(connected) => connected,
            Err(ConnectError::Blocked { reason, message }) => {
                // Blocked is not InSync: exit 2, and the next Tenant is still planned.
                pending = true;
                match args.output {
                    Format::Table => output::emit(&output::blocked_line(&name, reason, &message)),
                    Format::Json => views.push(
                        serde_json::to_value(output::blocked_view(&name, reason, &message))
                            .map_err(|e| CliError(e.to_string()))?,
                    ),
                }
                continue;
            }
            Err(ConnectError::Failed(e)) => return Err(e),
        };
        let observed = mirror.observed();
        let plan: Plan = crate::plan::plan(&session.desired(tenant, &overrides), observed);
        pending |= !plan.is_in_sync();
        unknown |= reads_failed(observed);
        match args.output {
            Format::Table => output::emit(&output::plan_table(&name, &plan, observed)),
            Format::Json => views.push(
                serde_json::to_value(output::plan_view(&name, &plan))
                    .map_err(|e| CliError(e.to_string()))?,
            ),
        }
    }
    if args.output == Format::Json {
        let doc = if views.len() == 1 {
            views.remove(0)
        } else {
            serde_json::Value::Array(views)
        };
        let text = serde_json::to_string_pretty(&doc).map_err(|e| CliError(e.to_string()))?;
        output::emit(&format!("{text}\n"));
    }
    session.close().await?;
    Ok(if unknown {
        eprintln!("error: part of the tenant could not be read; drift is unknown");
        ExitCode::FAILURE
    } else if pending {
        ExitCode::from(EXIT_PENDING)
    } else {
        ExitCode::SUCCESS
    })
}

/// Whether any part of the observed tenant failed to read.
pub fn reads_failed(observed: &crate::model::ObservedTenant) -> bool {
    matches!(observed.domains, Read::Unknown(_))
        || matches!(observed.users, Read::Unknown(_))
        || matches!(observed.role_holders, Read::Unknown(_))
        || matches!(observed.skus, Read::Unknown(_))
}
