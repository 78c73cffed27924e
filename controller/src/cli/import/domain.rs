//! `o365-controller import --domain D`: one AppAssignment with a domain's existing users (the
//! guide's IMPORT USERS), and with `--adopt` an immutable ID for those without one.

use std::process::ExitCode;

use kube::ResourceExt;

use super::super::session::{CliError, Session};
use super::ImportArgs;
use crate::api::{AppAssignment, AppAssignmentSpec, AssignedUser, DomainRef, Provisioning};
use crate::apply::GraphRunner;
use crate::model::{Action, Outcome, Plan, UserChanges};

/// Imports the users of `domain`.
pub async fn run(args: ImportArgs, domain: &str) -> Result<ExitCode, CliError> {
    let domain = domain.to_ascii_lowercase();
    let session = Session::open(&args.target).await?;
    let tenant = session
        .tenants()
        .first()
        .cloned()
        .ok_or(CliError("no Tenant".into()))?;
    let (client, mirror) = session.connect(&tenant).await?;
    let users = mirror
        .observed()
        .users
        .known()
        .ok_or(CliError("the tenant's users could not be read".into()))?;
    let role_holders = mirror
        .observed()
        .role_holders
        .known()
        .cloned()
        .unwrap_or_default();
    let mut mine: Vec<_> = users
        .iter()
        .filter(|u| {
            u.user_principal_name
                .to_ascii_lowercase()
                .ends_with(&format!("@{domain}"))
        })
        .collect();
    mine.sort_by(|a, b| a.user_principal_name.cmp(&b.user_principal_name));
    let dashed = domain.replace('.', "-");
    let domain_ref = session
        .manifests
        .domains
        .iter()
        .find(|d| d.spec.domain == domain && d.namespace() == tenant.namespace())
        .map(|d| d.name_any())
        .unwrap_or_else(|| dashed.clone());
    let mut actions = Vec::new();
    let mut listed = Vec::new();
    for u in &mine {
        let admin = role_holders.contains_key(&u.id);
        if u.synced {
            // AD masters it: list what identifies it and what git manages (see `annotate`);
            // `--adopt` never writes its immutable ID (the sync's source anchor).
            listed.push(super::super::synced::import_entry(u));
            continue;
        }
        let mut immutable_id = u.immutable_id.clone();
        if args.adopt && immutable_id.is_none() && !admin {
            let id = crate::plan::derive_immutable_id(&u.user_principal_name);
            actions.push(Action::UpdateUser {
                id: u.id.clone(),
                user_principal_name: u.user_principal_name.clone(),
                changes: Box::new(UserChanges {
                    immutable_id: Some(id.clone()),
                    ..UserChanges::default()
                }),
            });
            immutable_id = Some(id);
        }
        if admin {
            eprintln!(
                "note: {} holds a directory role; listed, but the controller will not adopt it automatically",
                u.user_principal_name
            );
        }
        listed.push(AssignedUser {
            user_principal_name: u.user_principal_name.clone(),
            display_name: u
                .display_name
                .clone()
                .unwrap_or_else(|| u.user_principal_name.clone()),
            given_name: u.given_name.clone(),
            surname: u.surname.clone(),
            mail_nickname: u.mail_nickname.clone(),
            immutable_id,
            usage_location: u.usage_location.clone(),
            // A disabled account is recorded as such; an enabled one is left unset.
            account_enabled: (!u.account_enabled).then_some(false),
            manager: None,
            // Organisation data as the tenant has it, so the import plans no change to it.
            attributes: u.attributes.to_attributes().into(),
        });
    }
    let mut failed = 0;
    if !actions.is_empty() {
        let plan = Plan {
            id: "import".into(),
            actions,
            ..Plan::default()
        };
        let report = crate::apply::apply(&GraphRunner::new(client), &plan, &|_| {}).await;
        for (action, outcome) in &report.results {
            if let Outcome::Failed { reason, .. } = outcome {
                failed += 1;
                eprintln!("error: {}: {reason}", action.subject());
            }
        }
        eprintln!(
            "adopted {} user(s), {failed} failed",
            report.results.len() - failed
        );
    }
    let assignment = AppAssignment::new(
        &args.name.clone().unwrap_or(format!("imported-{dashed}")),
        AppAssignmentSpec {
            domain_ref: DomainRef {
                name: domain_ref,
                namespace: None,
            },
            users: listed,
            provisioning: Provisioning::Auto,
            adopt_existing: true,
            mode: None,
            defaults: None,
        },
    );
    let yaml = serde_saphyr::to_string(&assignment).map_err(|e| CliError(e.to_string()))?;
    let yaml = super::super::synced::annotate(
        &yaml,
        &super::super::synced::synced_upns(mirror.observed()),
    );
    let text = format!(
        "# Imported from tenant {} ({} users of {domain}).\n{yaml}",
        tenant.spec.tenant_id,
        mine.len()
    );
    match &args.out {
        Some(path) => {
            std::fs::write(path, text).map_err(|e| CliError(format!("{}: {e}", path.display())))?
        }
        None => super::super::output::emit(&text),
    }
    eprintln!("imported {} user(s) of {domain}", mine.len());
    session.close().await?;
    Ok(if failed > 0 {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}
