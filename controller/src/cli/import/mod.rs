//! `o365-controller import`: the tenant as a repository of manifests (the Tenant, its domains,
//! AppAssignments with the users and their attributes, LicensePolicies inferred from direct
//! license assignments), such that `plan` on it against the same tenant changes nothing; or,
//! with `--domain`, one AppAssignment of a domain's users (the guide's IMPORT USERS).

mod domain;
mod domains;
mod licenses;
mod repository;
mod users;
mod yaml;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use kube::ResourceExt;

use super::session::{CliError, Session, TargetArgs};
use crate::apply::GraphRunner;
use crate::graph::GraphClient;
use crate::model::{Action, LeaverMark, ObservedTenant, Outcome, Plan, UserChanges};

/// Options of `import`.
#[derive(Debug, clap::Args)]
pub struct ImportArgs {
    /// Write one file per object into this directory (new or empty): the Tenant, a
    /// FederatedDomain per domain, AppAssignments and LicensePolicies. Without it (and without
    /// --domain) the same objects are printed as one multi-document stream.
    #[arg(long, value_name = "DIR", conflicts_with = "domain")]
    pub out_dir: Option<PathBuf>,
    /// Import only this domain's users, as one AppAssignment (the guide's IMPORT USERS).
    #[arg(long, value_name = "DOMAIN")]
    pub domain: Option<String>,
    /// Manifests with the Tenant (and its credentials Secret) and target.
    #[command(flatten)]
    pub target: TargetArgs,
    /// Also set `onPremisesImmutableId` (derived from the UPN) on users that have none, first.
    #[arg(long)]
    pub adopt: bool,
    /// With --domain: name of the AppAssignment (default: imported-<domain with dashes>).
    #[arg(long, value_name = "NAME", requires = "domain")]
    pub name: Option<String>,
    /// With --domain: write the YAML here instead of standard output.
    #[arg(long = "out", value_name = "FILE", requires = "domain")]
    pub out: Option<PathBuf>,
}

/// Runs `import`.
pub async fn run(args: ImportArgs) -> Result<ExitCode, CliError> {
    if let Some(d) = args.domain.clone() {
        return domain::run(args, &d).await;
    }
    if let Some(dir) = &args.out_dir {
        check_out_dir(dir)?;
    }
    let session = Session::open(&args.target).await?;
    let tenants = session.tenants();
    let tenant = tenants
        .first()
        .cloned()
        .ok_or(CliError("no Tenant".into()))?;
    if tenants.len() > 1 {
        eprintln!(
            "warning: {} Tenants among the manifests; importing the first, {}/{}",
            tenants.len(),
            tenant.namespace().unwrap_or_default(),
            tenant.name_any()
        );
    }
    let (client, mirror) = session.connect(&tenant).await?;
    let mut observed = mirror.observed().clone();
    let mut failed = 0;
    if args.adopt {
        failed = adopt(&client, &mut observed).await;
    }
    let domain_names: BTreeMap<String, String> = session
        .manifests
        .domains
        .iter()
        .filter(|d| d.namespace() == tenant.namespace())
        .map(|d| (d.spec.domain.to_ascii_lowercase(), d.name_any()))
        .collect();
    let repo = repository::build(&tenant, &observed, &domain_names).map_err(CliError)?;
    self_check(&repo.files)?;
    match &args.out_dir {
        Some(dir) => write_files(dir, &repo.files)?,
        None => super::output::emit(&yaml::stream(repo.files.iter().map(|f| f.text.as_str()))),
    }
    for w in &repo.warnings {
        eprintln!("warning: {w}");
    }
    eprintln!(
        "imported {} user(s) ({} not listed, see the comments): {} domain(s), {} \
         AppAssignment(s), {} LicensePolicy(ies){}",
        repo.listed,
        repo.skipped,
        repo.domains,
        repo.assignments,
        repo.policies,
        args.out_dir
            .as_ref()
            .map(|d| format!(" in {}", d.display()))
            .unwrap_or_default()
    );
    session.close().await?;
    Ok(if failed > 0 {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}

/// The directory must be new or empty: a file left from an earlier import would be read with
/// the new ones.
fn check_out_dir(dir: &Path) -> Result<(), CliError> {
    match std::fs::read_dir(dir) {
        Ok(mut entries) => {
            if entries.next().is_some() {
                return Err(CliError(format!(
                    "{} is not empty: import writes a complete repository; name a new or empty \
                     directory",
                    dir.display()
                )));
            }
            Ok(())
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(CliError(format!("{}: {e}", dir.display()))),
    }
}

fn write_files(dir: &Path, files: &[repository::File]) -> Result<(), CliError> {
    std::fs::create_dir_all(dir).map_err(|e| CliError(format!("{}: {e}", dir.display())))?;
    for f in files {
        let path = dir.join(&f.name);
        std::fs::write(&path, &f.text).map_err(|e| CliError(format!("{}: {e}", path.display())))?;
    }
    Ok(())
}

/// What import writes passes the same checks `validate` runs; anything else is a bug, and
/// nothing is written.
fn self_check(files: &[repository::File]) -> Result<(), CliError> {
    let mut problems = Vec::new();
    for f in files {
        if let Err(diagnostics) = crate::manifest::load_str(Path::new(&f.name), &f.text) {
            problems.extend(diagnostics.iter().map(ToString::to_string));
        }
    }
    if problems.is_empty() {
        return Ok(());
    }
    for p in problems.iter().take(20) {
        eprintln!("{p}");
    }
    Err(CliError(format!(
        "the imported manifests would not validate ({} problem(s)); nothing was written. This \
         is a bug: please report it",
        problems.len()
    )))
}

/// `--adopt`: sets the derived immutable ID on users that have none (not synced from AD, no
/// directory role, not a leaver, not of the initial domain), and records it in `observed`.
/// Returns how many writes failed.
async fn adopt(client: &GraphClient, observed: &mut ObservedTenant) -> usize {
    let initial: Vec<String> = observed
        .domains
        .known()
        .into_iter()
        .flatten()
        .filter(|d| d.is_initial)
        .map(|d| format!("@{}", d.name.to_ascii_lowercase()))
        .collect();
    let roles = observed.role_holders.known().cloned().unwrap_or_default();
    let Some(users) = observed.users.known() else {
        return 0;
    };
    let actions: Vec<Action> = users
        .iter()
        .filter(|u| {
            let upn = u.user_principal_name.to_ascii_lowercase();
            u.immutable_id.is_none()
                && !u.synced
                && roles.get(&u.id).is_none_or(Vec::is_empty)
                && LeaverMark::parse(u.leaver_mark.as_deref()) == LeaverMark::None
                && !initial.iter().any(|d| upn.ends_with(d.as_str()))
        })
        .map(|u| Action::UpdateUser {
            id: u.id.clone(),
            user_principal_name: u.user_principal_name.clone(),
            changes: Box::new(UserChanges {
                immutable_id: Some(crate::plan::derive_immutable_id(&u.user_principal_name)),
                ..UserChanges::default()
            }),
        })
        .collect();
    if actions.is_empty() {
        return 0;
    }
    let plan = Plan {
        id: "import".into(),
        actions,
        ..Plan::default()
    };
    let report = crate::apply::apply(&GraphRunner::new(client.clone()), &plan, &|_| {}).await;
    let mut set: BTreeMap<String, String> = BTreeMap::new();
    let mut failed = 0;
    for (action, outcome) in &report.results {
        match (action, outcome) {
            (_, Outcome::Failed { reason, .. } | Outcome::Skipped { reason }) => {
                failed += 1;
                eprintln!("error: {}: {reason}", action.subject());
            }
            (Action::UpdateUser { id, changes, .. }, _) => {
                if let Some(i) = &changes.immutable_id {
                    set.insert(id.clone(), i.clone());
                }
            }
            _ => {}
        }
    }
    if let crate::model::Read::Known(users) = &mut observed.users {
        for u in users.iter_mut() {
            if let Some(i) = set.remove(&u.id) {
                u.immutable_id = Some(i);
            }
        }
    }
    eprintln!(
        "adopted {} user(s), {failed} failed",
        report.results.len() - failed
    );
    failed
}
