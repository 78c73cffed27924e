//! The tenant state behind one lock: users (by id, with a UPN index), deleted users, domains,
//! SKUs, roles, apps, and the change log that delta queries read.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::time::{Duration, Instant};

use serde_json::{Map, Value};

use crate::error::SimError;
use crate::fixture::Fixture;
use crate::model::{
    App, DirectoryRole, Domain, GLOBAL_ADMIN_TEMPLATE, Group, GroupLicense, License,
    ROLE_TEMPLATES, Sku, Tenant, User,
};
use crate::render;
use crate::util;

/// How a removed user is reported by delta.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RemovalReason {
    /// Soft-deleted: restorable.
    Changed,
    /// Hard-deleted.
    Deleted,
}

/// Per-user change bookkeeping for delta queries. Every property of a user dates from its
/// creation unless `props` says otherwise, so a user never changed since it was loaded costs
/// two numbers (a 200,000-user fixture would otherwise hold a map per user).
#[derive(Debug, Clone, Default)]
pub struct UserVersions {
    /// Version at which the user was created (or restored).
    pub created: u64,
    /// Version of each property changed after creation.
    pub props: HashMap<String, u64>,
    /// Version of the last change of any property.
    pub last: u64,
}

impl UserVersions {
    /// Whether the user changed after version `since`: any property, or with `$select` one of
    /// the selected ones (a user created after `since` counts as changed).
    pub fn changed_since(&self, since: u64, select: Option<&[String]>) -> bool {
        if self.created > since {
            return true;
        }
        match select {
            Some(props) => props
                .iter()
                .any(|p| self.props.get(p).is_some_and(|v| *v > since)),
            None => self.last > since,
        }
    }
}

#[derive(Debug)]
pub struct TenantState {
    pub tenant: Tenant,
    pub domains: Vec<Domain>,
    pub users: BTreeMap<String, User>,
    upn_index: HashMap<String, String>,
    pub deleted: BTreeMap<String, User>,
    pub skus: Vec<Sku>,
    pub apps: Vec<App>,
    pub roles: Vec<DirectoryRole>,
    /// Monotonic change counter.
    pub version: u64,
    pub user_versions: HashMap<String, UserVersions>,
    /// Each active user's id by the version of its last change (`UserVersions::last`): a
    /// delta round reads the users changed since its token from here, not from every user.
    pub by_version: BTreeMap<u64, String>,
    /// Removals in version order: (version, id, reason).
    pub removals: Vec<(u64, String, RemovalReason)>,
    /// When each soft-deleted user was deleted: its age at start (a fixture's
    /// `deletedDateTime`, unscaled) and the instant from which scaled time counts.
    deleted_clock: HashMap<String, (Duration, Instant)>,
    /// The fixture's replication lag setting (kept for export).
    replication_lag: Option<crate::ReplicationLag>,
    /// Security groups by id.
    pub groups: BTreeMap<String, Group>,
    /// Direct reports by manager id (the reverse of `User::manager`), so deleting a user finds
    /// the references to it without reading every user.
    reports: HashMap<String, HashSet<String>>,
    /// Group licence processing due: (when, group id), in scheduling order.
    license_queue: Vec<(Instant, String)>,
}

/// Usage location assumed for a user without one (Entra: "users without a specified usage
/// location inherit the location of the directory"; the simulated directory is in the US).
pub const TENANT_USAGE_LOCATION: &str = "US";

/// How long a soft-deleted user stays restorable (user-delete.md: "within 30 days").
pub const SOFT_DELETE_RETENTION: Duration = Duration::from_secs(30 * 24 * 3600);

impl TenantState {
    pub fn from_fixture(fixture: Fixture) -> Result<TenantState, SimError> {
        let Fixture {
            tenant,
            mut domains,
            users,
            deleted_users,
            mut skus,
            apps,
            directory_roles,
            groups,
            replication_lag,
        } = fixture;
        if !util::is_guid(&tenant.id) {
            return Err(SimError::Fixture(format!(
                "tenant id '{}' is not a GUID",
                tenant.id
            )));
        }
        let initial = tenant.initial_domain.to_ascii_lowercase();
        if !domains.iter().any(|d| d.id.eq_ignore_ascii_case(&initial)) {
            domains.insert(
                0,
                Domain {
                    id: initial.clone(),
                    authentication_type: "Managed".into(),
                    is_verified: true,
                    is_default: false,
                    is_initial: true,
                    is_admin_managed: true,
                    is_root: None,
                    supported_services: vec!["Email".into(), "OfficeCommunicationsOnline".into()],
                    password_validity_period_in_days: None,
                    password_notification_window_in_days: None,
                    federation: None,
                },
            );
        }
        for d in &mut domains {
            d.id = d.id.to_ascii_lowercase();
            if d.id == initial {
                d.is_initial = true;
            }
            if let Some(fed) = &mut d.federation {
                if fed.id.is_empty() {
                    fed.id = util::stable_guid(&tenant.id, &format!("federation/{}", d.id));
                }
                d.authentication_type = "Federated".into();
            } else {
                d.authentication_type = "Managed".into();
            }
        }
        if !domains.iter().any(|d| d.is_default)
            && let Some(d) = domains.iter_mut().find(|d| d.is_initial)
        {
            d.is_default = true;
        }
        if domains.iter().filter(|d| d.is_default).count() != 1 {
            return Err(SimError::Fixture(
                "exactly one domain must be the default".into(),
            ));
        }
        for sku in &mut skus {
            sku.sku_id = sku.sku_id.to_ascii_lowercase();
            if sku.subscription_ids.is_empty() {
                sku.subscription_ids = vec![util::stable_guid(&tenant.id, &sku.sku_id)];
            }
        }
        let mut state = TenantState {
            tenant,
            domains,
            users: BTreeMap::new(),
            upn_index: HashMap::new(),
            deleted: BTreeMap::new(),
            skus,
            apps,
            roles: Vec::new(),
            version: 0,
            user_versions: HashMap::new(),
            by_version: BTreeMap::new(),
            removals: Vec::new(),
            deleted_clock: HashMap::new(),
            replication_lag,
            groups: BTreeMap::new(),
            license_queue: Vec::new(),
            reports: HashMap::new(),
        };
        for role in directory_roles {
            state.activate_role(role)?;
        }
        state.activate_role(DirectoryRole {
            id: String::new(),
            display_name: "Global Administrator".into(),
            role_template_id: GLOBAL_ADMIN_TEMPLATE.into(),
            description: None,
        })?;
        for user in users {
            let user = state.normalize_user(user)?;
            if state.user_by_upn(&user.user_principal_name).is_some()
                || state.users.contains_key(&user.id)
            {
                return Err(SimError::Fixture(format!(
                    "duplicate user {}",
                    user.user_principal_name
                )));
            }
            state.insert_user(user);
        }
        state.resolve_managers()?;
        for mut user in deleted_users {
            if user.deleted_date_time.is_none() {
                user.deleted_date_time = Some(util::now_rfc3339());
            }
            let user = state.normalize_user(user)?;
            let age = user
                .deleted_date_time
                .as_deref()
                .and_then(util::age_of)
                .unwrap_or_default();
            state
                .deleted_clock
                .insert(user.id.clone(), (age, Instant::now()));
            state.deleted.insert(user.id.clone(), user);
        }
        for group in groups {
            let group = state.normalize_group(group)?;
            if state.groups.contains_key(&group.id) {
                return Err(SimError::Fixture(format!(
                    "duplicate group {}",
                    group.display_name
                )));
            }
            state.groups.insert(group.id.clone(), group);
        }
        let ids: Vec<String> = state.groups.keys().cloned().collect();
        for id in ids {
            state.process_group_licenses(&id);
        }
        Ok(state)
    }

    /// Fixture rules for a group: id and nickname defaults, members and licences resolved.
    fn normalize_group(&mut self, mut group: Group) -> Result<Group, SimError> {
        let name = group.display_name.clone();
        if group.id.is_empty() {
            group.id = util::stable_guid(&self.tenant.id, &format!("group/{name}"));
        }
        if group.mail_nickname.is_empty() {
            group.mail_nickname = name.chars().filter(|c| !c.is_whitespace()).collect();
        }
        if group.created_date_time.is_none() {
            group.created_date_time = Some(util::now_rfc3339());
        }
        let mut members = Vec::new();
        for m in &group.members {
            let id = self
                .user_id(m)
                .ok_or_else(|| SimError::Fixture(format!("group {name}: unknown member '{m}'")))?;
            if !members.contains(&id) {
                members.push(id);
            }
        }
        group.members = members;
        for lic in &mut group.licenses {
            let (sku, plans) =
                self.resolve_license(&format!("group {name}"), &lic.sku, &lic.disabled_plans)?;
            lic.sku = sku;
            lic.disabled_plans = plans;
        }
        Ok(group)
    }

    /// Activates a role (idempotent by template id) and returns its template id.
    fn activate_role(&mut self, mut role: DirectoryRole) -> Result<String, SimError> {
        if let Some(existing) = self.roles.iter().find(|r| {
            r.role_template_id
                .eq_ignore_ascii_case(&role.role_template_id)
        }) {
            return Ok(existing.role_template_id.clone());
        }
        if role.id.is_empty() {
            role.id =
                util::stable_guid(&self.tenant.id, &format!("role/{}", role.role_template_id));
        }
        let template = role.role_template_id.clone();
        self.roles.push(role);
        Ok(template)
    }

    fn resolve_role(&mut self, name_or_template: &str) -> Result<String, SimError> {
        if let Some(r) = self.roles.iter().find(|r| {
            r.role_template_id.eq_ignore_ascii_case(name_or_template)
                || r.display_name.eq_ignore_ascii_case(name_or_template)
        }) {
            return Ok(r.role_template_id.clone());
        }
        let known = ROLE_TEMPLATES.iter().find(|(name, template)| {
            name.eq_ignore_ascii_case(name_or_template)
                || template.eq_ignore_ascii_case(name_or_template)
        });
        match known {
            Some((name, template)) => self.activate_role(DirectoryRole {
                id: String::new(),
                display_name: (*name).to_string(),
                role_template_id: (*template).to_string(),
                description: None,
            }),
            None => Err(SimError::Fixture(format!(
                "unknown directory role '{name_or_template}' (list it under directoryRoles)"
            ))),
        }
    }

    /// Resolves SKU and plan names to ids, fills defaults, checks the UPN domain exists.
    fn normalize_user(&mut self, mut user: User) -> Result<User, SimError> {
        let upn = user.user_principal_name.clone();
        if !self.domains.iter().any(|d| d.id == user.upn_domain()) {
            return Err(SimError::Fixture(format!("user {upn}: unknown domain")));
        }
        if user.id.is_empty() {
            user.id = util::stable_guid(&self.tenant.id, &format!("user/{}", upn.to_lowercase()));
        }
        if user.mail_nickname.is_empty() {
            user.mail_nickname = upn.split('@').next().unwrap_or_default().to_string();
        }
        if user.created_date_time.is_none() {
            user.created_date_time = Some(util::now_rfc3339());
        }
        if user.on_premises_sync_enabled {
            // The sync writes the source anchor on every object it creates.
            if user.on_premises_immutable_id.is_none() {
                return Err(SimError::Fixture(format!(
                    "user {upn}: a synced user (onPremisesSyncEnabled) needs onPremisesImmutableId, the sync's source anchor"
                )));
            }
            if user.on_premises_last_sync_date_time.is_none() {
                user.on_premises_last_sync_date_time = user.created_date_time.clone();
            }
        }
        for lic in &mut user.licenses {
            let (sku, plans) = self.resolve_license(&upn, &lic.sku, &lic.disabled_plans)?;
            lic.sku = sku;
            lic.disabled_plans = plans;
        }
        for lic in &mut user.group_licenses {
            let (sku, plans) = self.resolve_license(&upn, &lic.sku, &lic.disabled_plans)?;
            lic.sku = sku;
            lic.disabled_plans = plans;
        }
        let mut roles = Vec::new();
        for role in &user.roles {
            roles.push(self.resolve_role(role)?);
        }
        user.roles = roles;
        Ok(user)
    }

    fn resolve_license(
        &self,
        upn: &str,
        sku: &str,
        plans: &[String],
    ) -> Result<(String, Vec<String>), SimError> {
        let sku = self
            .sku(sku)
            .ok_or_else(|| SimError::Fixture(format!("user {upn}: unknown SKU '{sku}'")))?;
        let mut ids = Vec::new();
        for p in plans {
            let plan = sku
                .service_plans
                .iter()
                .find(|sp| {
                    sp.service_plan_id.eq_ignore_ascii_case(p)
                        || sp.service_plan_name.eq_ignore_ascii_case(p)
                })
                .ok_or_else(|| {
                    SimError::Fixture(format!(
                        "user {upn}: SKU {} has no service plan '{p}'",
                        sku.sku_part_number
                    ))
                })?;
            ids.push(plan.service_plan_id.to_ascii_lowercase());
        }
        Ok((sku.sku_id.clone(), ids))
    }

    pub fn to_fixture(&self) -> Fixture {
        Fixture {
            tenant: self.tenant.clone(),
            domains: self.domains.clone(),
            users: self.users.values().cloned().collect(),
            deleted_users: self.deleted.values().cloned().collect(),
            skus: self.skus.clone(),
            apps: self.apps.clone(),
            directory_roles: self.roles.clone(),
            groups: self.groups.values().cloned().collect(),
            replication_lag: self.replication_lag.clone(),
        }
    }

    // ---- lookups ------------------------------------------------------------------------

    /// A SKU by skuId or part number (case-insensitive).
    pub fn sku(&self, id_or_part: &str) -> Option<&Sku> {
        self.skus.iter().find(|s| {
            s.sku_id.eq_ignore_ascii_case(id_or_part)
                || s.sku_part_number.eq_ignore_ascii_case(id_or_part)
        })
    }

    pub fn domain(&self, name: &str) -> Option<&Domain> {
        self.domains
            .iter()
            .find(|d| d.id.eq_ignore_ascii_case(name))
    }

    pub fn domain_mut(&mut self, name: &str) -> Option<&mut Domain> {
        self.domains
            .iter_mut()
            .find(|d| d.id.eq_ignore_ascii_case(name))
    }

    pub fn user_by_upn(&self, upn: &str) -> Option<&User> {
        self.upn_index
            .get(&upn.to_lowercase())
            .and_then(|id| self.users.get(id))
    }

    /// Resolves an id or a UPN to the user's id.
    pub fn user_id(&self, id_or_upn: &str) -> Option<String> {
        if self.users.contains_key(id_or_upn) {
            return Some(id_or_upn.to_string());
        }
        let lower = id_or_upn.to_lowercase();
        if self.users.contains_key(&lower) {
            return Some(lower);
        }
        self.upn_index.get(&lower).cloned()
    }

    pub fn user(&self, id_or_upn: &str) -> Option<&User> {
        self.user_id(id_or_upn).and_then(|id| self.users.get(&id))
    }

    /// Number of active users: decides the throttling tenant size.
    /// The organization's directory synchronization: (`onPremisesSyncEnabled`,
    /// `onPremisesLastSyncDateTime`), from the tenant or, when the fixture leaves them out,
    /// from the synced users (on when any user is synced; the newest sync time).
    pub fn directory_sync(&self) -> (Option<bool>, Option<String>) {
        let synced = || self.users.values().filter(|u| u.on_premises_sync_enabled);
        let enabled = self
            .tenant
            .on_premises_sync_enabled
            .or_else(|| synced().next().map(|_| true));
        let last = self
            .tenant
            .on_premises_last_sync_date_time
            .clone()
            .or_else(|| {
                synced()
                    .filter_map(|u| u.on_premises_last_sync_date_time.clone())
                    .max()
            });
        (enabled, last)
    }

    pub fn user_count(&self) -> usize {
        self.users.len()
    }

    /// Seats in use for a SKU: active users holding it directly or through a group.
    pub fn consumed_units(&self, sku_id: &str) -> i32 {
        let n = self
            .users
            .values()
            .filter(|u| {
                u.licenses
                    .iter()
                    .any(|l| l.sku.eq_ignore_ascii_case(sku_id))
                    || u.group_licenses
                        .iter()
                        .any(|l| l.is_active() && l.sku.eq_ignore_ascii_case(sku_id))
            })
            .count();
        i32::try_from(n).unwrap_or(i32::MAX)
    }

    pub fn immutable_id_taken(&self, immutable_id: &str, except: Option<&str>) -> bool {
        self.users.values().chain(self.deleted.values()).any(|u| {
            Some(u.id.as_str()) != except
                && u.on_premises_immutable_id.as_deref() == Some(immutable_id)
        })
    }

    // ---- group-based licensing ------------------------------------------------------------

    /// Queues licence processing of a group, due after `delay`.
    pub fn schedule_group(&mut self, group_id: &str, delay: Duration) {
        if self.license_queue.iter().any(|(_, g)| g == group_id) {
            return;
        }
        self.license_queue
            .push((Instant::now() + delay, group_id.to_string()));
    }

    /// True while a group's licence processing is queued.
    pub fn group_processing_pending(&self, group_id: &str) -> bool {
        self.license_queue.iter().any(|(_, g)| g == group_id)
    }

    /// Runs the group licence processing that is due.
    pub fn process_due(&mut self, now: Instant) {
        if self.license_queue.is_empty() {
            return;
        }
        let (due, later): (Vec<_>, Vec<_>) = std::mem::take(&mut self.license_queue)
            .into_iter()
            .partition(|(t, _)| *t <= now);
        self.license_queue = later;
        for (_, gid) in due {
            self.process_group_licenses(&gid);
        }
    }

    /// SKU ids the user holds with a seat (direct, or active from a group), except those from
    /// the assignment list `pending` which replace the user's current ones of `group_id`.
    fn held_skus(user: &User, group_id: &str, pending: &[GroupLicense]) -> Vec<String> {
        user.licenses
            .iter()
            .map(|l| l.sku.clone())
            .chain(
                user.group_licenses
                    .iter()
                    .filter(|l| l.group_id != group_id && l.is_active())
                    .map(|l| l.sku.clone()),
            )
            .chain(
                pending
                    .iter()
                    .filter(|l| l.is_active())
                    .map(|l| l.sku.clone()),
            )
            .collect()
    }

    fn resolve_sku_ids(&self, names: &[String]) -> Vec<String> {
        names
            .iter()
            .filter_map(|n| self.sku(n).map(|s| s.sku_id.clone()))
            .collect()
    }

    /// The state (`Active` / `ActiveWithError` / `Error`) and error of assigning `lic` to
    /// `user` through a group, given the SKUs the user holds.
    fn evaluate_group_license(
        &self,
        user: &User,
        held: &[String],
        lic: &License,
    ) -> (Option<String>, Option<String>) {
        let error = |e: &str| (Some("Error".to_string()), Some(e.to_string()));
        let Some(sku) = self.sku(&lic.sku) else {
            return error("Other");
        };
        if held.contains(&sku.sku_id) {
            return (None, None);
        }
        if self
            .resolve_sku_ids(&sku.mutually_exclusive_with)
            .iter()
            .any(|x| held.contains(x))
        {
            return error("MutuallyExclusiveViolation");
        }
        if !self
            .resolve_sku_ids(&sku.depends_on)
            .iter()
            .all(|x| held.contains(x))
        {
            return error("DependencyViolation");
        }
        let location = user
            .usage_location
            .clone()
            .unwrap_or_else(|| TENANT_USAGE_LOCATION.to_string());
        let enabled: Vec<_> = sku
            .service_plans
            .iter()
            .filter(|p| {
                !lic.disabled_plans
                    .iter()
                    .any(|d| d.eq_ignore_ascii_case(&p.service_plan_id))
            })
            .collect();
        let prohibited = enabled
            .iter()
            .filter(|p| {
                p.prohibited_usage_locations
                    .iter()
                    .any(|l| l.eq_ignore_ascii_case(&location))
            })
            .count();
        if prohibited > 0 && prohibited == enabled.len() {
            return error("ProhibitedInUsageLocationViolation");
        }
        if sku.enabled + sku.warning - self.consumed_units(&sku.sku_id) < 1 {
            return error("CountViolation");
        }
        if prohibited > 0 {
            return (
                Some("ActiveWithError".to_string()),
                Some("ProhibitedInUsageLocationViolation".to_string()),
            );
        }
        (None, None)
    }

    /// Entra's group licence processing for one group: members get (or keep) its licences,
    /// in member order, each taking a seat if they have none for that SKU; former members lose
    /// them. Assignments that already hold a seat keep it; failed ones are retried.
    pub fn process_group_licenses(&mut self, group_id: &str) {
        let group = self.groups.get(group_id).cloned();
        let members = group
            .as_ref()
            .map(|g| g.members.clone())
            .unwrap_or_default();
        let licenses = group.map(|g| g.licenses).unwrap_or_default();
        // A set: the group is processed after every member change, over every user.
        let is_member: std::collections::HashSet<&str> =
            members.iter().map(String::as_str).collect();
        let former: Vec<String> = self
            .users
            .values()
            .filter(|u| {
                u.group_licenses.iter().any(|l| l.group_id == group_id)
                    && !is_member.contains(u.id.as_str())
            })
            .map(|u| u.id.clone())
            .collect();
        for id in former {
            self.modify_user(&id, |u| u.group_licenses.retain(|l| l.group_id != group_id));
        }
        for member in members {
            let Some(user) = self.users.get(&member).cloned() else {
                continue;
            };
            let mut pending: Vec<GroupLicense> = Vec::new();
            for lic in &licenses {
                let current = user
                    .group_licenses
                    .iter()
                    .find(|l| l.group_id == group_id && l.sku == lic.sku);
                let (state, error) = match current {
                    Some(c) if c.is_active() => (c.state.clone(), c.error.clone()),
                    _ => {
                        let held = Self::held_skus(&user, group_id, &pending);
                        self.evaluate_group_license(&user, &held, lic)
                    }
                };
                pending.push(GroupLicense {
                    sku: lic.sku.clone(),
                    disabled_plans: lic.disabled_plans.clone(),
                    group_id: group_id.to_string(),
                    state,
                    error,
                });
                // Seats taken so far count for the next members.
                let next: Vec<GroupLicense> = user
                    .group_licenses
                    .iter()
                    .filter(|l| l.group_id != group_id)
                    .cloned()
                    .chain(pending.iter().cloned())
                    .collect();
                // A member processed before and unchanged is not rewritten (no delta entry,
                // and no cost: the group is processed again after every member change).
                if self
                    .users
                    .get(&member)
                    .is_some_and(|u| u.group_licenses == next)
                {
                    continue;
                }
                self.modify_user(&member, |u| u.group_licenses = next);
            }
            if licenses.is_empty() && user.group_licenses.iter().any(|l| l.group_id == group_id) {
                self.modify_user(&member, |u| {
                    u.group_licenses.retain(|l| l.group_id != group_id)
                });
            }
        }
    }

    /// Members of a group with a licence error from it.
    pub fn members_with_license_errors(&self, group_id: &str) -> Vec<&User> {
        self.groups
            .get(group_id)
            .map(|g| {
                g.members
                    .iter()
                    .filter_map(|m| self.users.get(m))
                    .filter(|u| {
                        u.group_licenses
                            .iter()
                            .any(|l| l.group_id == group_id && l.error.is_some())
                    })
                    .collect()
            })
            .unwrap_or_default()
    }

    // ---- mutations (all record delta versions) -------------------------------------------

    fn bump(&mut self) -> u64 {
        self.version += 1;
        self.version
    }

    /// Inserts a new (normalized) user and records every property as changed.
    pub fn insert_user(&mut self, user: User) {
        let v = self.bump();
        let entry = UserVersions {
            created: v,
            props: HashMap::new(),
            last: v,
        };
        if let Some(old) = self.user_versions.insert(user.id.clone(), entry) {
            self.by_version.remove(&old.last);
        }
        self.by_version.insert(v, user.id.clone());
        self.upn_index
            .insert(user.user_principal_name.to_lowercase(), user.id.clone());
        self.index_report(&user.id, None, user.manager.as_deref());
        self.users.insert(user.id.clone(), user);
    }

    /// Applies `f` to a user and records the properties whose rendered value changed.
    pub fn modify_user<R>(&mut self, id: &str, f: impl FnOnce(&mut User) -> R) -> Option<R> {
        let user = self.users.get_mut(id)?;
        let before = render::user_full(user);
        let old_upn = user.user_principal_name.to_lowercase();
        let old_manager = user.manager.clone();
        let result = f(user);
        let after = render::user_full(user);
        let new_upn = user.user_principal_name.to_lowercase();
        let new_manager = user.manager.clone();
        let user_id = user.id.clone();
        self.index_report(&user_id, old_manager.as_deref(), new_manager.as_deref());
        if old_upn != new_upn {
            self.upn_index.remove(&old_upn);
            self.upn_index.insert(new_upn, user_id);
        }
        self.record_changes(id, &before, &after);
        Some(result)
    }

    fn record_changes(
        &mut self,
        id: &str,
        before: &Map<String, Value>,
        after: &Map<String, Value>,
    ) {
        let changed: Vec<String> = after
            .iter()
            .filter(|(k, v)| before.get(*k) != Some(*v))
            .map(|(k, _)| k.clone())
            .chain(before.keys().filter(|k| !after.contains_key(*k)).cloned())
            .collect();
        if changed.is_empty() {
            return;
        }
        let v = self.bump();
        let entry = self.user_versions.entry(id.to_string()).or_default();
        for k in changed {
            entry.props.insert(k, v);
        }
        let previous = std::mem::replace(&mut entry.last, v);
        self.by_version.remove(&previous);
        self.by_version.insert(v, id.to_string());
    }

    /// Sets (`Some`) or removes (`None`) a user's manager; `false` when the user is absent.
    pub fn set_manager(&mut self, id: &str, manager: Option<String>) -> bool {
        self.modify_user(id, |u| {
            if u.manager != manager {
                u.previous_manager = std::mem::replace(&mut u.manager, manager);
            }
        })
        .is_some()
    }

    /// Removes the manager reference of every user whose manager was `id` (Graph drops the
    /// reference when the manager is deleted).
    fn drop_manager_references(&mut self, id: &str) {
        for report in self.reports.remove(id).unwrap_or_default() {
            self.set_manager(&report, None);
        }
    }

    /// Moves `user` in the reports index from `old` to `new` (its managers before and after).
    fn index_report(&mut self, user: &str, old: Option<&str>, new: Option<&str>) {
        if old == new {
            return;
        }
        if let Some(old) = old
            && let Some(reports) = self.reports.get_mut(old)
        {
            reports.remove(user);
            if reports.is_empty() {
                self.reports.remove(old);
            }
        }
        if let Some(new) = new {
            self.reports
                .entry(new.to_string())
                .or_default()
                .insert(user.to_string());
        }
    }

    /// Resolves every user's `manager` (a fixture names it by UPN or id) to an object id.
    fn resolve_managers(&mut self) -> Result<(), SimError> {
        let named: Vec<(String, String)> = self
            .users
            .values()
            .filter_map(|u| Some((u.id.clone(), u.manager.clone()?)))
            .collect();
        for (id, manager) in named {
            let resolved = self.user_id(&manager).ok_or_else(|| {
                SimError::Fixture(format!("user {id}: manager {manager} is not a user"))
            })?;
            let before = self
                .users
                .get_mut(&id)
                .and_then(|u| u.manager.replace(resolved.clone()));
            self.index_report(&id, before.as_deref(), Some(&resolved));
        }
        Ok(())
    }

    /// Soft delete: moves the user to deleted items.
    pub fn soft_delete_user(&mut self, id: &str) -> bool {
        let Some(mut user) = self.users.remove(id) else {
            return false;
        };
        self.index_report(id, user.manager.as_deref(), None);
        self.drop_manager_references(id);
        self.upn_index
            .remove(&user.user_principal_name.to_lowercase());
        user.deleted_date_time = Some(util::now_rfc3339());
        let v = self.bump();
        self.removals
            .push((v, id.to_string(), RemovalReason::Changed));
        if let Some(old) = self.user_versions.remove(id) {
            self.by_version.remove(&old.last);
        }
        self.deleted_clock
            .insert(id.to_string(), (Duration::ZERO, Instant::now()));
        self.deleted.insert(id.to_string(), user);
        true
    }

    /// Permanently deletes soft-deleted users older than 30 days. Time since start runs
    /// `time_scale` times faster; a fixture user's age at start counts unscaled.
    pub fn purge_expired(&mut self, time_scale: f64, now: Instant) {
        let scale = if time_scale > 0.0 { time_scale } else { 1.0 };
        let expired: Vec<String> = self
            .deleted_clock
            .iter()
            .filter(|(_, (age, since))| {
                let run = now.saturating_duration_since(*since).as_secs_f64() * scale;
                age.as_secs_f64() + run >= SOFT_DELETE_RETENTION.as_secs_f64()
            })
            .map(|(id, _)| id.clone())
            .collect();
        for id in expired {
            self.hard_delete_user(&id);
        }
    }

    /// Permanently deletes a soft-deleted user.
    pub fn hard_delete_user(&mut self, id: &str) -> bool {
        self.deleted_clock.remove(id);
        if self.deleted.remove(id).is_none() {
            return false;
        }
        let v = self.bump();
        self.removals
            .push((v, id.to_string(), RemovalReason::Deleted));
        true
    }

    /// Restores a soft-deleted user. Fails (returns the conflicting UPN) when the UPN is taken.
    pub fn restore_user(&mut self, id: &str) -> Result<Option<User>, String> {
        let Some(user) = self.deleted.get(id) else {
            return Ok(None);
        };
        if self.user_by_upn(&user.user_principal_name).is_some() {
            return Err(user.user_principal_name.clone());
        }
        let Some(mut user) = self.deleted.remove(id) else {
            return Ok(None);
        };
        self.deleted_clock.remove(id);
        user.deleted_date_time = None;
        self.insert_user(user.clone());
        Ok(Some(user))
    }

    /// Inserts a user given by a test (fixture-style names resolved).
    pub fn insert_fixture_user(&mut self, user: User) -> Result<User, SimError> {
        let mut user = self.normalize_user(user)?;
        if let Some(manager) = &user.manager {
            user.manager = Some(self.user_id(manager).ok_or_else(|| {
                SimError::Fixture(format!(
                    "user {}: manager {manager} is not a user",
                    user.user_principal_name
                ))
            })?);
        }
        if self.user_by_upn(&user.user_principal_name).is_some()
            || self.users.contains_key(&user.id)
        {
            return Err(SimError::Fixture(format!(
                "user {} already exists",
                user.user_principal_name
            )));
        }
        self.insert_user(user.clone());
        Ok(user)
    }
}
