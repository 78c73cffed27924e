//! `o365-controller apply`: converge the tenant, with a progress bar and a report.

use std::process::ExitCode;

use indicatif::{ProgressBar, ProgressStyle};
use kube::ResourceExt;

use super::output::{self, Format};
use super::plan::{EXIT_PENDING, reads_failed};
use super::session::{CliError, ConnectError, Session, TargetArgs};
use crate::apply::GraphRunner;
use crate::model::Report;
use crate::resolve::Overrides;

/// Show a progress bar from this many actions on.
const PROGRESS_FROM: usize = 50;

/// Options of `apply`.
#[derive(Debug, clap::Args)]
pub struct ApplyArgs {
    /// Manifests and target.
    #[command(flatten)]
    pub target: TargetArgs,
    /// Release the plan with this id from the change budget (as the annotation
    /// `o365-controller.io/approve-run` does in the cluster).
    #[arg(long, value_name = "PLAN_ID")]
    pub approve: Option<String>,
    /// Create the users of Manual AppAssignments now (START EXPORT).
    #[arg(long)]
    pub export: bool,
    /// Output format of the report.
    #[arg(short = 'o', long = "output", value_enum, default_value_t)]
    pub output: Format,
}

/// Applies the plan of every Tenant. Exit 0 when converged, 2 when actions are held or
/// blocked, 1 on failures or errors.
pub async fn run(args: ApplyArgs) -> Result<ExitCode, CliError> {
    let session = Session::open(&args.target).await?;
    let overrides = Overrides {
        approve: args.approve.clone(),
        export: args.export,
    };
    let mut failed = false;
    let mut held = false;
    let mut reports: Vec<Report> = Vec::new();
    for tenant in session.tenants() {
        let name = tenant.name_any();
        let (client, mirror) = match session.connect(tenant).await {
            Ok(connected) => connected,
            Err(ConnectError::Blocked { reason, message }) => {
                // Nothing was sent; a blocked Tenant did not converge (exit 2, as held).
                eprint!("error: {}", output::blocked_line(&name, reason, &message));
                held = true;
                continue;
            }
            Err(ConnectError::Failed(e)) => return Err(e),
        };
        if reads_failed(mirror.observed()) {
            eprintln!(
                "error: Tenant {name}: part of the tenant could not be read; nothing is written while drift is unknown"
            );
            failed = true;
            continue;
        }
        let plan = crate::plan::plan(&session.desired(tenant, &overrides), mirror.observed());
        if args.output == Format::Table {
            output::emit(&output::plan_table(&name, &plan, mirror.observed()));
        }
        held |= !plan.held.is_empty();
        if plan.actions.is_empty() {
            continue;
        }
        let bar = if plan.actions.len() >= PROGRESS_FROM {
            let bar = ProgressBar::new(plan.actions.len() as u64);
            if let Ok(style) =
                ProgressStyle::with_template("{bar:40} {pos}/{len} actions {elapsed} (eta {eta})")
            {
                bar.set_style(style);
            }
            bar
        } else {
            ProgressBar::hidden()
        };
        let runner = GraphRunner::new(client);
        let report = crate::apply::apply(&runner, &plan, &|n| bar.set_position(n as u64)).await;
        bar.finish_and_clear();
        let totals = report.totals();
        failed |= totals.failed > 0;
        if args.output == Format::Table {
            output::emit(&format!("\n{}", output::report_table(&name, &report)));
        }
        reports.push(report);
    }
    if args.output == Format::Json {
        let text = serde_json::to_string_pretty(&reports).map_err(|e| CliError(e.to_string()))?;
        output::emit(&format!("{text}\n"));
    }
    session.close().await?;
    Ok(if failed {
        ExitCode::FAILURE
    } else if held {
        ExitCode::from(EXIT_PENDING)
    } else {
        ExitCode::SUCCESS
    })
}
