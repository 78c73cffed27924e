//! The unmanaged report: licensed users of managed domains that no AppAssignment lists. They
//! cost seats without being declared anywhere; the Tenant reports them.

use super::context::Map;

use super::context::Ctx;
use super::names::{fold, fold_cow, upn_domain};
use super::output::Out;
use super::users::UsersOutcome;
use crate::model::{Finding, Reason};

/// How many names the Tenant's finding shows.
const SHOWN: usize = 5;

/// The sorted UPNs of the report; an Info finding on the Tenant when there are any.
pub(crate) fn unmanaged_report(ctx: &Ctx, matched: &UsersOutcome, out: &mut Out) -> Vec<String> {
    let tenant = ctx.desired.tenant.as_ref();
    let users = match ctx.users {
        Ok(users) => users,
        Err(reason) => {
            out.tenant.unknown = true;
            if let Some(key) = tenant {
                out.findings.push(Finding::new(
                    key.clone(),
                    Reason::ReadFailed,
                    format!(
                        "could not read users from Microsoft Graph ({reason}); the unmanaged \
                         report is unknown"
                    ),
                    None,
                ));
            }
            return Vec::new();
        }
    };
    let mut domains: Map<String, Vec<usize>> = Map::default();
    for (di, d) in ctx.desired.domains.iter().enumerate() {
        domains.entry(fold(&d.spec.domain)).or_default().push(di);
    }
    let mut unmanaged: Vec<String> = users
        .iter()
        .filter(|u| !u.licenses.is_empty() && !matched.anchored.contains(u.id.as_str()))
        .filter(|u| {
            let key = fold_cow(&u.user_principal_name);
            domains
                .get(&*fold_cow(upn_domain(&u.user_principal_name)))
                .is_some_and(|ds| ds.iter().all(|&di| !ctx.listed(di).contains(&*key)))
        })
        .map(|u| u.user_principal_name.clone())
        .collect();
    unmanaged.sort();
    if let Some(key) = tenant
        && !unmanaged.is_empty()
    {
        let shown: Vec<&str> = unmanaged.iter().take(SHOWN).map(String::as_str).collect();
        out.findings.push(Finding::new(
            key.clone(),
            Reason::UnmanagedUsers,
            format!(
                "{} licensed users of managed domains are listed by no AppAssignment (first: \
                 {}); list them in an AppAssignment (`o365-controller import` writes one) or \
                 remove their licenses",
                unmanaged.len(),
                shown.join(", ")
            ),
            None,
        ));
    }
    unmanaged
}
