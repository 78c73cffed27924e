//! `o365-controller apply`: converge the tenant, with a progress bar and a report.

use std::process::ExitCode;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use kube::ResourceExt;

use super::output::{self, Format};
use super::plan::exit_code;
use super::session::{CliError, ConnectError, Session, TargetArgs};
use crate::engine::{self, CycleReport, TenantReport, Verdict, Writes};
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

/// Applies the plan of every Tenant. Exit 0 only when every object converged with nothing
/// blocked, held or short of seats; 2 when something is Drifted, Blocked or held after the
/// apply; 1 when an action or a read failed.
pub async fn run(args: ApplyArgs) -> Result<ExitCode, CliError> {
    let session = Session::open(&args.target).await?;
    let overrides = Overrides {
        approve: args.approve.clone(),
        export: args.export,
    };
    let mut verdicts = Vec::new();
    let mut reports = Vec::new();
    for tenant in session.tenants() {
        let name = tenant.name_any();
        let (client, mut mirror) = match session.connect(tenant).await {
            Ok(connected) => connected,
            Err(ConnectError::Blocked { reason, message }) => {
                // Nothing was sent; a blocked Tenant did not converge (exit 2, as held).
                eprint!("error: {}", output::blocked_line(&name, reason, &message));
                verdicts.push(Verdict::Pending);
                reports.push(TenantReport::blocked(tenant, reason, message));
                continue;
            }
            Err(ConnectError::Failed(e)) => return Err(e),
        };
        let desired = session.desired(tenant, &overrides);
        let bar = ProgressBar::hidden();
        if let Ok(style) =
            ProgressStyle::with_template("{bar:40} {pos}/{len} actions {elapsed} (eta {eta})")
        {
            bar.set_style(style);
        }
        let progress = |done: usize, total: usize| {
            if total >= PROGRESS_FROM && bar.is_hidden() {
                bar.set_length(total as u64);
                bar.set_draw_target(ProgressDrawTarget::stderr());
            }
            bar.set_position(done as u64);
        };
        let cycle =
            engine::converge(&client, &mut mirror, &desired, Writes::Apply, &progress).await;
        bar.finish_and_clear();
        let report = engine::report(&name, &desired, &cycle);
        if args.output == Format::Table {
            output::emit_with(|out| {
                output::write_plan_table(out, &name, &cycle.before, mirror.observed());
            });
            if cycle.report.is_some() {
                output::emit(&format!("\n{}", output::report_table(&report)));
                output::emit(&output::after_table(&report, cycle.after()));
            }
            output::emit(&output::links_table(&report.sign_in_links));
        }
        verdicts.push(cycle.verdict());
        reports.push(report);
    }
    if args.output == Format::Json {
        output::emit_json(&CycleReport::new("apply", reports))?;
    }
    session.close().await?;
    Ok(exit_code(
        &verdicts,
        "an action or a read failed; see the report",
    ))
}
