//! A whole tenant as a repository of manifests: the Tenant, a FederatedDomain per domain, the
//! AppAssignments of each domain's users (one per LicensePolicy that covers them, at most
//! 5,000 users each) and the LicensePolicies inferred from direct license assignments, each
//! file with comments saying what was inferred and what was left out. Pure: it reads the
//! observed tenant and writes text, so `plan` on the result against the same tenant is the
//! test of it.

use std::collections::{BTreeMap, BTreeSet};

use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;
use kube::ResourceExt;
use kube::api::ObjectMeta;

use super::domains::domain_spec;
use super::licenses::{Inference, POLICY_LABEL, infer};
use super::users::{Entry, entry, shared_defaults, unlistable};
use super::yaml::document;
use crate::api::{
    AppAssignment, AppAssignmentSpec, AppliesTo, Assignment, DomainRef, FederatedDomain,
    LicensePolicy, LicensePolicySpec, LocalRef, MAX_USERS_PER_ASSIGNMENT, Provisioning, Tenant,
};
use crate::model::{LICENSE_GROUP_PREFIX, LeaverMark, ObservedTenant, ObservedUser};

/// One file of the repository.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct File {
    /// The file name (no directory).
    pub name: String,
    /// Its YAML.
    pub text: String,
}

/// What `import` writes, and what it says on standard error.
#[derive(Debug, Default)]
pub struct Repository {
    pub files: Vec<File>,
    /// What the API cannot hold losslessly, or what the plan will change.
    pub warnings: Vec<String>,
    /// Counts for the closing line.
    pub listed: usize,
    pub skipped: usize,
    pub domains: usize,
    pub assignments: usize,
    pub policies: usize,
}

/// Why a user is not listed.
enum Skip {
    /// Holds a directory role: never managed (README "The rules").
    Admin(Vec<String>),
    /// A leaver the controller disabled: listing it would enable it again.
    Leaver(String),
    /// The user principal name cannot be written.
    Invalid(String),
}

/// Builds the repository for `tenant` (the Tenant object read from the manifests, namespace
/// set) from `observed`. `domain_names`: object names of FederatedDomains already in the
/// manifests, by domain, reused so that existing references keep working.
pub fn build(
    tenant: &Tenant,
    observed: &ObservedTenant,
    domain_names: &BTreeMap<String, String>,
) -> Result<Repository, String> {
    let unreadable = |what: &str| format!("the tenant's {what} could not be read");
    let users = observed.users.known().ok_or_else(|| unreadable("users"))?;
    let domains = observed
        .domains
        .known()
        .ok_or_else(|| unreadable("domains"))?;
    let skus = observed.skus.known().ok_or_else(|| unreadable("SKUs"))?;
    let roles = observed
        .role_holders
        .known()
        .ok_or_else(|| unreadable("directory role holders"))?;
    let mut repo = Repository::default();
    let namespace = tenant.namespace().unwrap_or_else(|| "default".into());
    let tenant_name = tenant.name_any();
    let origin = format!(
        "Imported by `o365-controller import` from tenant {} ({}).",
        tenant.spec.tenant_id,
        observed
            .display_name
            .as_deref()
            .unwrap_or("no display name")
    );
    let meta = |name: &str| ObjectMeta {
        name: Some(name.to_string()),
        namespace: Some(namespace.clone()),
        ..ObjectMeta::default()
    };

    // Domains: every verified domain but the initial one; a federated one with its settings.
    let initial: BTreeSet<String> = domains
        .iter()
        .filter(|d| d.is_initial)
        .map(|d| d.name.to_ascii_lowercase())
        .collect();
    let mut written: BTreeMap<String, DomainOut> = BTreeMap::new();
    let mut sorted_domains: Vec<_> = domains.iter().collect();
    sorted_domains.sort_by(|a, b| a.name.cmp(&b.name));
    for d in sorted_domains {
        let key = d.name.to_ascii_lowercase();
        if d.is_initial || !d.is_verified {
            continue;
        }
        let imported = domain_spec(d, &tenant_name);
        for l in &imported.lossy {
            repo.warnings.push(l.clone());
        }
        let Some(spec) = imported.spec else { continue };
        let name = domain_names
            .get(&key)
            .cloned()
            .unwrap_or_else(|| key.replace('.', "-"));
        written.insert(
            key,
            DomainOut {
                name,
                spec,
                comments: imported.comments,
                lossy: imported.lossy,
                users: Vec::new(),
                skipped: Vec::new(),
            },
        );
    }

    // Every live user by object id: managers are named by UPN.
    let upns: BTreeMap<String, String> = users
        .iter()
        .map(|u| (u.id.to_ascii_lowercase(), u.user_principal_name.clone()))
        .collect();

    // Users: each listed in its domain, or skipped with the reason.
    let mut sorted_users: Vec<&ObservedUser> = users.iter().collect();
    sorted_users.sort_by(|a, b| a.user_principal_name.cmp(&b.user_principal_name));
    let mut initial_users: Vec<String> = Vec::new();
    let mut elsewhere: BTreeMap<String, usize> = BTreeMap::new();
    for u in sorted_users {
        let domain = u
            .user_principal_name
            .rsplit_once('@')
            .map(|(_, d)| d.to_ascii_lowercase())
            .unwrap_or_default();
        let held = roles.get(&u.id).filter(|r| !r.is_empty());
        if initial.contains(&domain) {
            let why = held.map_or(String::new(), |r| format!(" ({})", r.join(", ")));
            initial_users.push(format!("{}{why}", u.user_principal_name));
            continue;
        }
        let Some(out) = written.get_mut(&domain) else {
            *elsewhere.entry(domain).or_default() += 1;
            continue;
        };
        let skip = if let Some(r) = held {
            Some(Skip::Admin(r.clone()))
        } else if let LeaverMark::Since(_) = LeaverMark::parse(u.leaver_mark.as_deref()) {
            Some(Skip::Leaver(u.leaver_mark.clone().unwrap_or_default()))
        } else {
            unlistable(u).map(Skip::Invalid)
        };
        match skip {
            Some(s) => out.skipped.push((u.user_principal_name.clone(), s)),
            None => out.users.push(u),
        }
    }
    for (domain, n) in &elsewhere {
        repo.skipped += n;
        repo.warnings.push(format!(
            "{n} user(s) of {domain} are not written: the domain is not a verified domain of \
             the tenant that could be written"
        ));
    }

    // License policies, inferred over every listed user.
    let listed: Vec<&ObservedUser> = written
        .values()
        .flat_map(|d| d.users.iter().copied())
        .collect();
    let taken: BTreeSet<String> = observed
        .groups
        .known()
        .into_iter()
        .flatten()
        .filter_map(|g| g.display_name.strip_prefix(LICENSE_GROUP_PREFIX))
        .filter_map(|path| match path.split_once('/') {
            Some((ns, name)) if ns == namespace => Some(name.to_string()),
            Some(_) => None,
            None => Some(path.to_string()),
        })
        .collect();
    let inference = infer(&listed, skus, &taken);
    repo.warnings.extend(inference.warnings.iter().cloned());

    // Tenant.
    let mut files = vec![tenant_file(
        tenant,
        &meta(&tenant_name),
        &origin,
        observed,
        &initial_users,
    )?];
    repo.skipped += initial_users.len();

    // FederatedDomains and their AppAssignments.
    let mut assignment_names: BTreeSet<String> = BTreeSet::new();
    let mut covered: BTreeMap<usize, Vec<String>> = BTreeMap::new();
    let mut assignment_files = Vec::new();
    for (domain, d) in &written {
        repo.domains += 1;
        repo.skipped += d.skipped.len();
        let carries_ids = d.spec.authentication == crate::api::Authentication::Federated;
        let mut header = vec![origin.clone()];
        header.extend(d.comments.iter().cloned());
        header.extend(d.lossy.iter().map(|l| format!("not lossless: {l}")));
        header.push(
            "Not recorded in the tenant, so written as the defaults: unassignedUsers (Ignore: \
             unlisted users are left alone), safety, changeBudget, deletionPolicy, \
             allowedAssignments. Choose them before you apply."
                .into(),
        );
        header.extend(skipped_comments(domain, &d.skipped, &mut repo.warnings));
        let missing_ids = d
            .users
            .iter()
            .filter(|u| carries_ids && !u.synced && u.immutable_id.is_none())
            .count();
        if missing_ids > 0 {
            let w = format!(
                "{missing_ids} user(s) of the federated domain {domain} have no immutable ID: \
                 the plan will give them the one derived from the UPN (`import --adopt` sets \
                 them now)"
            );
            header.push(format!("not lossless: {w}"));
            repo.warnings.push(w);
        }
        let object = FederatedDomain {
            metadata: meta(&d.name),
            spec: d.spec.clone(),
            status: None,
        };
        files.push(File {
            name: format!("10-domain-{}.yaml", d.name),
            text: document(&object, &header, &BTreeMap::new())?,
        });

        // Users by the policy that covers them.
        let mut buckets: BTreeMap<Option<usize>, Vec<&ObservedUser>> = BTreeMap::new();
        for u in &d.users {
            buckets
                .entry(inference.of_user.get(&u.id).copied())
                .or_default()
                .push(u);
        }
        for (policy, members) in buckets {
            for (i, chunk) in members.chunks(MAX_USERS_PER_ASSIGNMENT).enumerate() {
                let mut base = match policy {
                    Some(p) => format!("{}-{}", d.name, inference.policies[p].name),
                    None => d.name.clone(),
                };
                // Object names are at most 253 characters (and file names 255), ending in a letter or
                // digit.
                base.truncate(200);
                let mut base = base.trim_end_matches(['-', '.']).to_string();
                if i > 0 {
                    base = format!("{base}-{}", i + 1);
                }
                let name = unique(&base, &mut assignment_names);
                if let Some(p) = policy {
                    covered.entry(p).or_default().push(name.clone());
                }
                let file = assignment_file(
                    &name,
                    meta(&name),
                    &d.name,
                    domain,
                    chunk,
                    policy.map(|p| &inference.policies[p]),
                    carries_ids,
                    &upns,
                    &origin,
                    &mut repo,
                )?;
                assignment_files.push(file);
            }
        }
    }
    repo.assignments = assignment_files.len();
    files.extend(assignment_files);
    files.extend(policy_files(
        &inference,
        &covered,
        &tenant_name,
        &meta,
        &origin,
    )?);
    repo.policies = inference.policies.len();
    repo.files = files;
    Ok(repo)
}

struct DomainOut<'a> {
    name: String,
    spec: crate::api::FederatedDomainSpec,
    comments: Vec<String>,
    lossy: Vec<String>,
    users: Vec<&'a ObservedUser>,
    skipped: Vec<(String, Skip)>,
}

/// At most this many users are named in one comment.
const NAMED: usize = 50;

fn named(list: &[String]) -> String {
    let mut s = list
        .iter()
        .take(NAMED)
        .cloned()
        .collect::<Vec<_>>()
        .join(", ");
    if list.len() > NAMED {
        s.push_str(&format!(" and {} more", list.len() - NAMED));
    }
    s
}

fn skipped_comments(
    domain: &str,
    skipped: &[(String, Skip)],
    warnings: &mut Vec<String>,
) -> Vec<String> {
    let mut admins = Vec::new();
    let mut leavers = Vec::new();
    let mut invalid = Vec::new();
    for (upn, s) in skipped {
        match s {
            Skip::Admin(roles) => admins.push(format!("{upn} ({})", roles.join(", "))),
            Skip::Leaver(mark) => leavers.push(format!("{upn} ({mark})")),
            Skip::Invalid(why) => invalid.push(why.clone()),
        }
    }
    let mut out = Vec::new();
    if !admins.is_empty() {
        out.push(format!(
            "Not listed: {} user(s) of {domain} holding a directory role — administrators are \
             never managed by the controller (manage them by hand): {}",
            admins.len(),
            named(&admins)
        ));
    }
    if !leavers.is_empty() {
        let w = format!(
            "{} user(s) of {domain} carry the controller's leaver mark (disabled as leavers): \
             not listed, since listing them would enable them again; their leaver stages \
             (unassignedUsers: Disable, leaverStages) are not recorded in the tenant: set them \
             again here",
            leavers.len()
        );
        out.push(format!("not lossless: {w}: {}", named(&leavers)));
        warnings.push(w);
    }
    if !invalid.is_empty() {
        out.push(format!("not lossless: not listed: {}", named(&invalid)));
        warnings.extend(invalid);
    }
    out
}

fn unique(base: &str, names: &mut BTreeSet<String>) -> String {
    let mut name = base.to_string();
    let mut n = 2;
    while names.contains(&name) {
        name = format!("{base}-{n}");
        n += 1;
    }
    names.insert(name.clone());
    name
}

fn tenant_file(
    tenant: &Tenant,
    meta: &ObjectMeta,
    origin: &str,
    observed: &ObservedTenant,
    initial_users: &[String],
) -> Result<File, String> {
    let mut meta = meta.clone();
    meta.labels = tenant.metadata.labels.clone();
    let object = Tenant {
        metadata: meta,
        spec: tenant.spec.clone(),
        status: None,
    };
    let c = &tenant.spec.credentials;
    let credentials = if let Some(s) = &c.client_secret {
        format!(
            "credentials: the client secret is read from Secret {} (key {}), which is not \
             written: create it from your secret store (kubectl create secret generic {} \
             --from-literal={}=...), or set O365_CLIENT_SECRET for the CLI",
            s.secret_name, s.key, s.secret_name, s.key
        )
    } else if let Some(s) = &c.client_certificate {
        format!(
            "credentials: the certificate and key are read from Secret {} (keys {}, {}), which \
             is not written: create it from your secret store",
            s.secret_name, s.certificate_key, s.private_key_key
        )
    } else {
        "credentials: Azure Workload Identity (the controller's own projected token)".into()
    };
    let mut header = vec![origin.to_string(), credentials];
    if let Some(sync) = &observed.directory_sync {
        header.push(format!(
            "Directory sync (Entra Connect) is {}: users synced from AD are listed with their \
             UPN, display name and usage location only; AD manages the rest",
            if sync.enabled { "on" } else { "off" }
        ));
    }
    if !initial_users.is_empty() {
        header.push(format!(
            "Not listed: {} user(s) of the initial *.onmicrosoft.com domain, which no \
             FederatedDomain may name (it is the break-glass sign-in path): {}",
            initial_users.len(),
            named(initial_users)
        ));
    }
    Ok(File {
        name: "00-tenant.yaml".into(),
        text: document(&object, &header, &BTreeMap::new())?,
    })
}

#[allow(clippy::too_many_arguments)]
fn assignment_file(
    name: &str,
    mut meta: ObjectMeta,
    domain_ref: &str,
    domain: &str,
    users: &[&ObservedUser],
    policy: Option<&super::licenses::Inferred>,
    carries_ids: bool,
    upns: &BTreeMap<String, String>,
    origin: &str,
    repo: &mut Repository,
) -> Result<File, String> {
    let mut entries: Vec<Entry> = users.iter().map(|u| entry(u, carries_ids, upns)).collect();
    let defaults = shared_defaults(&mut entries, users);
    let mut header = vec![origin.to_string()];
    match policy {
        Some(p) => {
            meta.labels = Some(BTreeMap::from([(POLICY_LABEL.to_string(), p.name.clone())]));
            header.push(format!(
                "{} user(s) of {domain} holding exactly {} as direct assignments: LicensePolicy \
                 {} covers them through the label {POLICY_LABEL}: {}",
                users.len(),
                p.description,
                p.name,
                p.name
            ));
        }
        None => header.push(format!(
            "{} user(s) of {domain} without a direct license assignment: no LicensePolicy \
             covers them",
            users.len()
        )),
    }
    if let Some(d) = &defaults {
        let mut shared: Vec<String> = Vec::new();
        if let Some(l) = &d.usage_location {
            shared.push(format!("usageLocation {l}"));
        }
        for a in crate::api::USER_ATTRIBUTES {
            if let Some(v) = d.attributes.get(a) {
                shared.push(format!("{a} {v:?}"));
            }
        }
        header.push(format!(
            "defaults: every user here has {}, so it is written once",
            shared.join(", ")
        ));
    }
    if carries_ids {
        header.push(
            "immutableId is written only where it differs from the one derived from the UPN \
             (base64 of the lower-cased UPN), which the controller uses otherwise"
                .into(),
        );
    }
    let mut groups: BTreeSet<&str> = BTreeSet::new();
    let mut inherited = 0;
    for u in users {
        let from: Vec<&str> = u
            .licenses
            .iter()
            .flat_map(|l| l.inherited_from().iter().map(String::as_str))
            .collect();
        if !from.is_empty() {
            inherited += 1;
            groups.extend(from);
        }
    }
    if inherited > 0 {
        header.push(format!(
            "{inherited} user(s) here hold licenses inherited from groups ({}): group-based \
             licensing is not inferred; the controller leaves those licenses as they are",
            groups.iter().copied().collect::<Vec<_>>().join(", ")
        ));
    }
    let mut notes: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let mut noted = 0;
    for e in &mut entries {
        if e.notes.is_empty() {
            continue;
        }
        let synced_only = e.notes.len() == 1 && e.notes[0] == super::super::synced::IMPORT_COMMENT;
        if !synced_only {
            noted += 1;
            if noted <= 20 {
                repo.warnings.push(format!(
                    "{}: {}",
                    e.user.user_principal_name,
                    e.notes.join("; ")
                ));
            }
        }
        notes.insert(
            e.user.user_principal_name.to_ascii_lowercase(),
            std::mem::take(&mut e.notes),
        );
    }
    if noted > 20 {
        repo.warnings.push(format!(
            "... and {} more user(s) in {name} with values the API cannot hold (see the comments \
             in the file)",
            noted - 20
        ));
    }
    repo.listed += entries.len();
    let object = AppAssignment {
        metadata: meta,
        spec: AppAssignmentSpec {
            domain_ref: DomainRef {
                name: domain_ref.to_string(),
                namespace: None,
            },
            users: entries.into_iter().map(|e| e.user).collect(),
            provisioning: Provisioning::Auto,
            adopt_existing: true,
            mode: None,
            defaults,
        },
        status: None,
    };
    Ok(File {
        name: format!("20-assignment-{name}.yaml"),
        text: document(&object, &header, &notes)?,
    })
}

fn policy_files(
    inference: &Inference,
    covered: &BTreeMap<usize, Vec<String>>,
    tenant: &str,
    meta: &dyn Fn(&str) -> ObjectMeta,
    origin: &str,
) -> Result<Vec<File>, String> {
    let mut files = Vec::new();
    for (i, p) in inference.policies.iter().enumerate() {
        let header = vec![
            origin.to_string(),
            format!(
                "inferred: {} user(s) hold exactly {} as direct assignments",
                p.users, p.description
            ),
            format!(
                "covers the AppAssignments labelled {POLICY_LABEL}: {} ({})",
                p.name,
                covered.get(&i).map(|v| v.join(", ")).unwrap_or_default()
            ),
            "removeUnlisted: false — licenses no policy grants are left as they are; \
             licenses inherited from groups are never touched"
                .into(),
        ];
        let object = LicensePolicy {
            metadata: meta(&p.name),
            spec: LicensePolicySpec {
                tenant_ref: LocalRef {
                    name: tenant.to_string(),
                },
                applies_to: AppliesTo {
                    domain_refs: Vec::new(),
                    assignment_selector: Some(LabelSelector {
                        match_labels: Some(BTreeMap::from([(
                            POLICY_LABEL.to_string(),
                            p.name.clone(),
                        )])),
                        match_expressions: None,
                    }),
                },
                licenses: p.licenses.clone(),
                usage_location: None,
                remove_unlisted: false,
                mode: None,
                assignment: Assignment::Direct,
                group_id: None,
            },
            status: None,
        };
        files.push(File {
            name: format!("30-license-{}.yaml", p.name),
            text: document(&object, &header, &BTreeMap::new())?,
        });
    }
    Ok(files)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::{ClientSecretRef, Credentials, TenantSpec};
    use crate::model::{
        AuthenticationType, FederationSettings, ObservedDomain, ObservedGroup, ObservedLicense,
        ObservedSku, Read,
    };

    const E3: &str = "6fd2c87f-b296-42f0-b197-1e91e994b900";

    fn tenant() -> Tenant {
        let mut t = Tenant::new(
            "corp",
            TenantSpec {
                tenant_id: "corp.onmicrosoft.com".into(),
                client_id: "22222222-2222-2222-2222-222222222222".into(),
                credentials: Credentials {
                    client_secret: Some(ClientSecretRef {
                        secret_name: "graph".into(),
                        key: "client-secret".into(),
                    }),
                    ..Credentials::default()
                },
                cloud: Default::default(),
                login_endpoint: None,
                graph_endpoint: None,
                ca_bundle: None,
                mode: Default::default(),
                resync_interval: "10m".into(),
            },
        );
        t.metadata.namespace = Some("default".into());
        t
    }

    fn domain(name: &str, initial: bool, federation: Option<FederationSettings>) -> ObservedDomain {
        ObservedDomain {
            name: name.into(),
            is_verified: true,
            is_default: initial,
            is_initial: initial,
            authentication: if federation.is_some() {
                AuthenticationType::Federated
            } else {
                AuthenticationType::Managed
            },
            federation,
        }
    }

    fn user(upn: &str, direct_e3: bool) -> ObservedUser {
        ObservedUser {
            id: format!("id-{upn}"),
            user_principal_name: upn.into(),
            display_name: Some(upn.into()),
            usage_location: Some("US".into()),
            account_enabled: true,
            licenses: if direct_e3 {
                vec![ObservedLicense::direct(E3, Vec::new())]
            } else {
                Vec::new()
            },
            ..ObservedUser::default()
        }
    }

    fn observed() -> ObservedTenant {
        let fed = FederationSettings {
            issuer_uri: Some("https://idp.example.com/".into()),
            passive_sign_in_uri: Some("https://idp.example.com/sso".into()),
            sign_out_uri: Some("https://idp.example.com/out".into()),
            preferred_authentication_protocol: Some("wsFed".into()),
            federated_idp_mfa_behavior: Some("acceptIfMfaDoneByFederatedIdp".into()),
            signing_certificate: Some("Y2VydGlmaWNhdGUgQQ==".into()),
            ..FederationSettings::default()
        };
        let mut carl = user("carl@corp.example.com", true);
        carl.id = "carl".into();
        let mut eve = user("eve@corp.example.com", true);
        eve.account_enabled = false;
        eve.leaver_mark = Some("o365-controller leaver since 2026-11-20T08:00:00Z".into());
        let mut fay = user("fay@corp.example.com", false);
        fay.licenses = vec![ObservedLicense::inherited(E3, vec!["g1".into()])];
        ObservedTenant {
            display_name: Some("Corp".into()),
            domains: Read::Known(vec![
                domain("corp.onmicrosoft.com", true, None),
                domain("corp.example.com", false, None),
                domain("fed.example.com", false, Some(fed)),
            ]),
            users: Read::Known(vec![
                user("admin@corp.onmicrosoft.com", false),
                user("ann@corp.example.com", true),
                user("bob@corp.example.com", true),
                carl,
                eve,
                fay,
                user("dan@fed.example.com", false),
            ]),
            role_holders: Read::Known(BTreeMap::from([(
                "carl".to_string(),
                vec!["User Administrator".to_string()],
            )])),
            skus: Read::Known(vec![ObservedSku {
                sku_id: E3.into(),
                sku_part_number: "ENTERPRISEPACK".into(),
                ..ObservedSku::default()
            }]),
            groups: Read::Known(vec![ObservedGroup {
                id: "g2".into(),
                display_name: "o365-controller license default/enterprisepack".into(),
                ..ObservedGroup::default()
            }]),
            ..ObservedTenant::default()
        }
    }

    #[test]
    fn a_tenant_becomes_one_file_per_object_with_what_was_skipped_said() {
        let repo = build(&tenant(), &observed(), &BTreeMap::new()).unwrap();
        let mut names: Vec<&str> = repo.files.iter().map(|f| f.name.as_str()).collect();
        names.sort_unstable();
        assert_eq!(
            names,
            [
                "00-tenant.yaml",
                "10-domain-corp-example-com.yaml",
                "10-domain-fed-example-com.yaml",
                "20-assignment-corp-example-com-enterprisepack-2.yaml",
                "20-assignment-corp-example-com.yaml",
                "20-assignment-fed-example-com.yaml",
                "30-license-enterprisepack-2.yaml",
            ],
            "the policy avoids the name of the controller's license group"
        );
        let text = |name: &str| {
            repo.files
                .iter()
                .find(|f| f.name == name)
                .map(|f| f.text.clone())
                .unwrap()
        };
        let licensed = text("20-assignment-corp-example-com-enterprisepack-2.yaml");
        assert!(licensed.contains("- userPrincipalName: ann@corp.example.com"));
        assert!(licensed.contains("o365-controller.io/licenses: enterprisepack-2"));
        assert!(
            !licensed.contains("userPrincipalName: carl@"),
            "administrators are skipped"
        );
        assert!(
            !licensed.contains("userPrincipalName: eve@"),
            "leavers are skipped"
        );
        let unlicensed = text("20-assignment-corp-example-com.yaml");
        assert!(unlicensed.contains("- userPrincipalName: fay@corp.example.com"));
        assert!(
            unlicensed.contains("inherited from groups (g1)"),
            "{unlicensed}"
        );
        let domain = text("10-domain-corp-example-com.yaml");
        assert!(
            domain.contains("carl@corp.example.com (User Administrator)"),
            "{domain}"
        );
        assert!(domain.contains("eve@corp.example.com"), "{domain}");
        let fed = text("10-domain-fed-example-com.yaml");
        assert!(fed.contains("authentication: Federated") && fed.contains("BEGIN CERTIFICATE"));
        assert!(text("00-tenant.yaml").contains("admin@corp.onmicrosoft.com"));
        assert!(repo.warnings.iter().any(|w| w.contains("no immutable ID")));
        assert!(repo.warnings.iter().any(|w| w.contains("leaver mark")));
        assert_eq!((repo.listed, repo.skipped), (4, 3));
        assert_eq!((repo.domains, repo.assignments, repo.policies), (2, 3, 1));
    }

    #[test]
    fn a_tenant_that_could_not_be_read_is_not_imported() {
        let mut o = observed();
        o.users = Read::Unknown("timeout".into());
        assert!(build(&tenant(), &o, &BTreeMap::new()).is_err());
    }
}
