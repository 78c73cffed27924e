//! `o365-controller plan`: what would change, and drift; usable as a CI drift gate.

use std::process::ExitCode;

use kube::ResourceExt;

use std::collections::BTreeMap;

use super::markdown;
use super::output::{self, PlanFormat};
use super::session::{CliError, ConnectError, Session, TargetArgs};
use crate::engine::{self, CycleReport, TenantReport, Verdict, Writes};
use crate::resolve::Overrides;

/// Exit code when anything is Drifted, Blocked or held.
pub const EXIT_PENDING: u8 = 2;

/// Options of `plan`.
#[derive(Debug, clap::Args)]
pub struct PlanArgs {
    /// Manifests and target.
    #[command(flatten)]
    pub target: TargetArgs,
    /// Output format: `markdown` is a pull-request comment (see `examples/ci/`).
    #[arg(short = 'o', long = "output", value_enum, default_value_t)]
    pub output: PlanFormat,
    /// Treat Manual AppAssignments as if an export had been requested.
    #[arg(long)]
    pub export: bool,
}

/// Prints the plan of every Tenant. Exit 0 when every object is InSync, 2 when anything is
/// Drifted, Blocked or held, 1 on errors (a failed read included).
pub async fn run(args: PlanArgs) -> Result<ExitCode, CliError> {
    let session = Session::open(&args.target).await?;
    let overrides = Overrides {
        approve: None,
        export: args.export,
    };
    let mut verdicts = Vec::new();
    let mut reports = Vec::new();
    let mut skus = BTreeMap::new();
    for tenant in session.tenants() {
        let name = tenant.name_any();
        let (client, mut mirror) = match session.connect(tenant).await {
            Ok(connected) => connected,
            Err(ConnectError::Blocked { reason, message }) => {
                // Blocked is not InSync: exit 2, and the next Tenant is still planned.
                if args.output == PlanFormat::Table {
                    output::emit(&output::blocked_line(&name, reason, &message));
                }
                verdicts.push(Verdict::Pending);
                reports.push(TenantReport::blocked(tenant, reason, message));
                continue;
            }
            Err(ConnectError::Failed(e)) => return Err(e),
        };
        let desired = session.desired(tenant, &overrides);
        let cycle =
            engine::converge(&client, &mut mirror, &desired, Writes::None, &|_, _| {}).await;
        if args.output == PlanFormat::Table {
            output::emit_with(|out| {
                output::write_plan_table(out, &name, &cycle.before, mirror.observed());
            });
            output::emit(&output::links_table(&engine::sign_in_links(&desired)));
        } else {
            // The report (a copy of every action) only for JSON and Markdown.
            reports.push(engine::report(&name, &desired, &cycle));
        }
        skus.extend(output::sku_names(mirror.observed()));
        verdicts.push(cycle.verdict());
    }
    match args.output {
        PlanFormat::Table => {}
        PlanFormat::Json => output::emit_json(&CycleReport::new("plan", reports))?,
        PlanFormat::Markdown => output::emit(&markdown::plan_markdown(
            &CycleReport::new("plan", reports),
            &skus,
        )),
    }
    session.close().await?;
    Ok(exit_code(&verdicts, "drift is unknown"))
}

/// The exit code of a command over the verdicts of its tenants: 1 if any failed, 2 if any is
/// pending, else 0.
pub fn exit_code(verdicts: &[Verdict], failed: &str) -> ExitCode {
    if verdicts.contains(&Verdict::Failed) {
        eprintln!("error: {failed}");
        ExitCode::FAILURE
    } else if verdicts.contains(&Verdict::Pending) {
        ExitCode::from(EXIT_PENDING)
    } else {
        ExitCode::SUCCESS
    }
}
