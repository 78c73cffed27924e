//! The observed state of one tenant, kept current cheaply: one full read, then `/users/delta`
//! rounds and the small reads (domains, federation, SKUs, role members, soft-deleted users) in
//! ONE `$batch`
//! request. A part that cannot be read becomes `Read::Unknown` (so it triggers no write);
//! the other parts stay usable.

use std::collections::{BTreeMap, HashMap};
use std::hash::BuildHasher;

use hashbrown::HashTable;

use serde::de::DeserializeOwned;

use crate::model::{
    AuthenticationType, DirectorySync, LICENSE_GROUP_PREFIX, ObservedDomain, ObservedGroup,
    ObservedSku, ObservedTenant, ObservedUser, Read,
};

use super::batch::{BatchItem, RawOutcome};
use super::calls::{
    ORGANIZATION_URL, USER_PROPERTIES, query_value, segment, user_delta_properties,
};
use super::client::GraphClient;
use super::convert;
use super::delta::{DeltaPage, needs_resync};
use super::error::GraphError;
use super::wire;

/// One tenant's observed state.
#[derive(Debug, Clone, Default)]
pub struct Mirror {
    observed: ObservedTenant,
    /// Where the next users delta round starts.
    delta_link: Option<String>,
    /// User id → position in `observed.users`.
    index: UserIndex,
    /// The users while `observed.users` is `Unknown` (a failed round); merged again when a
    /// later round succeeds.
    parked: Option<Vec<ObservedUser>>,
    /// Activated directory roles: (id, display name).
    roles: Vec<(String, String)>,
    /// The first read that failed in the last sync (none when every part was read).
    read_failure: Option<GraphError>,
    /// Groups LicensePolicies name by id (lower case), read besides the controller's own.
    watched_groups: Vec<String>,
}

/// What one `$batch` of small reads asked for, by position.
#[derive(Default)]
struct Plan {
    items: Vec<BatchItem>,
    organization: Option<usize>,
    domains: Option<usize>,
    skus: Option<usize>,
    roles: Option<usize>,
    members: Vec<(String, usize)>,
    federation: Vec<(String, usize)>,
    delta: Option<usize>,
    deleted: Option<usize>,
    /// The controller's license groups (by name prefix) and the watched ones (by id).
    license_groups: Option<usize>,
    watched_groups: Vec<(String, usize)>,
    group_members: Vec<(String, usize)>,
}

impl Plan {
    fn push(&mut self, item: BatchItem) -> usize {
        self.items.push(item);
        self.items.len() - 1
    }
}

fn members_url(role_id: &str) -> String {
    format!("/directoryRoles/{}/members?$select=id", segment(role_id))
}

/// Soft-deleted users (restorable for 30 days), with the properties live users are read with.
fn deleted_users_url() -> String {
    format!(
        "/directory/deletedItems/microsoft.graph.user?$select={}&$top=999",
        USER_PROPERTIES.join(",")
    )
}

const GROUP_SELECT: &str = "$select=id,displayName,description,assignedLicenses";

fn license_groups_url() -> String {
    let filter = query_value(&format!("startswith(displayName,'{LICENSE_GROUP_PREFIX}')"));
    format!("/groups?$filter={filter}&{GROUP_SELECT}&$top=999")
}

fn group_url(id: &str) -> String {
    format!("/groups/{}?{GROUP_SELECT}", segment(id))
}

fn group_members_url(id: &str) -> String {
    format!("/groups/{}/members?$select=id&$top=999", segment(id))
}

fn federation_url(domain: &str) -> String {
    format!("/domains/{}/federationConfiguration", segment(domain))
}

fn take(results: &mut [Option<RawOutcome>], i: Option<usize>) -> Option<RawOutcome> {
    i.and_then(|i| results.get_mut(i).and_then(Option::take))
}

/// A whole collection from a `$batch` sub-response, following its next link if it has one.
async fn collection<T: DeserializeOwned>(
    client: &GraphClient,
    operation: &'static str,
    outcome: Option<RawOutcome>,
) -> Result<Vec<T>, GraphError> {
    let (result, _) = outcome.ok_or_else(|| GraphError::decode(operation, "not requested"))??;
    let page: wire::Page<T> = GraphClient::page(operation, result.body)?;
    let mut items = page.value;
    if let Some(next) = page.next_link {
        items.extend(client.get_all::<T>(operation, "", &next, &[]).await?);
    }
    Ok(items)
}

/// The outcomes for `keys`: taken from the batch results where `asked` says they were
/// requested, the rest read now in one more `$batch` (a role or domain that is new since the
/// last refresh, or the first load).
async fn gather(
    client: &GraphClient,
    keys: &[String],
    asked: &[(String, usize)],
    results: &mut [Option<RawOutcome>],
    url: impl Fn(&str) -> String,
) -> HashMap<String, RawOutcome> {
    let mut out = HashMap::new();
    let mut missing = Vec::new();
    for key in keys {
        let i = asked.iter().find(|(k, _)| k == key).map(|(_, i)| *i);
        match take(results, i) {
            Some(outcome) => {
                out.insert(key.clone(), outcome);
            }
            None => missing.push(key.clone()),
        }
    }
    if !missing.is_empty() {
        let items = missing.iter().map(|k| BatchItem::get(url(k))).collect();
        let fetched = client.batch_raw(items).await;
        out.extend(missing.into_iter().zip(fetched));
    }
    out
}

fn unknown(what: &str, e: &GraphError) -> String {
    format!("reading {what} failed: {e}")
}

impl Mirror {
    /// Reads the whole tenant. Never fails: a part that cannot be read is `Unknown`.
    pub async fn load(client: &GraphClient) -> Mirror {
        let mut mirror = Mirror {
            observed: ObservedTenant {
                domains: Read::Unknown("not read yet".into()),
                users: Read::Unknown("not read yet".into()),
                deleted_users: Read::Unknown("not read yet".into()),
                role_holders: Read::Unknown("not read yet".into()),
                skus: Read::Unknown("not read yet".into()),
                groups: Read::Unknown("not read yet".into()),
                display_name: None,
                observed_at: None,
                directory_sync: None,
            },
            ..Mirror::default()
        };
        mirror.sync(client, true).await;
        mirror
    }

    /// Brings the mirror up to date: one `$batch` with the small reads and the next users
    /// delta round (more requests only when there are more changes than one delta page, a
    /// role or domain appeared, or the delta token expired).
    pub async fn refresh(&mut self, client: &GraphClient) {
        self.sync(client, false).await;
    }

    /// The observed tenant.
    pub fn observed(&self) -> &ObservedTenant {
        &self.observed
    }

    /// The first read that failed in the last load or refresh, if any: why parts of
    /// [`Mirror::observed`] are `Unknown` or the last known values.
    pub fn read_failure(&self) -> Option<&GraphError> {
        self.read_failure.as_ref()
    }

    /// Records a failed read (the first of a sync is kept) and says what failed.
    fn failed(&mut self, what: &str, e: GraphError) -> String {
        let text = unknown(what, &e);
        self.read_failure.get_or_insert(e);
        text
    }

    /// Also reads the groups with these object ids (those LicensePolicies name with
    /// `groupId`) from now on; a group not read yet is read at once.
    pub async fn watch_groups(&mut self, client: &GraphClient, ids: &[String]) {
        let mut new = false;
        for id in ids {
            let id = id.to_ascii_lowercase();
            if !self.watched_groups.contains(&id) {
                self.watched_groups.push(id);
                new = true;
            }
        }
        if new {
            self.watched_groups.sort();
            let mut plan = Plan::default();
            self.plan_groups(&mut plan, false);
            let mut results: Vec<Option<RawOutcome>> = client
                .batch_raw(std::mem::take(&mut plan.items))
                .await
                .into_iter()
                .map(Some)
                .collect();
            self.observed.groups = match self.read_groups(client, &plan, &mut results).await {
                Ok(g) => Read::Known(g),
                Err(e) => Read::Unknown(self.failed("groups", e)),
            };
        }
    }

    /// The stored deltaLink (where the next users round starts).
    pub fn delta_link(&self) -> Option<&str> {
        self.delta_link.as_deref()
    }

    async fn sync(&mut self, client: &GraphClient, full: bool) {
        self.read_failure = None;
        // "Now" for the plan's leaver stages: the state read below is at least this fresh.
        self.observed.observed_at = Some(time::OffsetDateTime::now_utc());
        let mut plan = Plan::default();
        // Re-read while directory sync is on (or a synced user appeared), so the status shows
        // when it last ran.
        let syncing = self.observed.directory_sync.is_some()
            || self
                .observed
                .users
                .known()
                .is_some_and(|users| users.iter().any(|u| u.synced));
        if full || self.observed.display_name.is_none() || syncing {
            plan.organization = Some(plan.push(BatchItem::get(ORGANIZATION_URL)));
        }
        plan.domains = Some(plan.push(BatchItem::get("/domains")));
        plan.skus = Some(plan.push(BatchItem::get("/subscribedSkus")));
        plan.roles = Some(plan.push(BatchItem::get("/directoryRoles")));
        plan.deleted = Some(plan.push(BatchItem::get(deleted_users_url())));
        self.plan_groups(&mut plan, !full);
        if !full {
            for (id, _) in &self.roles {
                let i = plan.push(BatchItem::get(members_url(id)));
                plan.members.push((id.clone(), i));
            }
            if let Read::Known(domains) = &self.observed.domains {
                for d in domains {
                    if d.authentication == AuthenticationType::Federated {
                        let i = plan.push(BatchItem::get(federation_url(&d.name)));
                        plan.federation.push((d.name.clone(), i));
                    }
                }
            }
            if let Some(link) = &self.delta_link {
                let url = client.relative(link).to_string();
                plan.delta = Some(plan.push(BatchItem::get(url)));
            }
        }
        let mut results: Vec<Option<RawOutcome>> = client
            .batch_raw(std::mem::take(&mut plan.items))
            .await
            .into_iter()
            .map(Some)
            .collect();

        if let Some(outcome) = take(&mut results, plan.organization)
            && let Ok(orgs) =
                collection::<wire::Organization>(client, "organization", Some(outcome)).await
            && let Some(org) = orgs.into_iter().next()
        {
            self.observed.display_name = org.display_name;
            self.observed.directory_sync =
                org.on_premises_sync_enabled.map(|enabled| DirectorySync {
                    enabled,
                    last_sync: org.on_premises_last_sync_date_time,
                });
        }
        let delta_outcome = take(&mut results, plan.delta);
        let skus = collection::<wire::SubscribedSku>(
            client,
            "subscribed_skus",
            take(&mut results, plan.skus),
        )
        .await;
        self.observed.skus = match skus {
            Ok(s) => Read::Known(
                s.into_iter()
                    .map(convert::sku)
                    .collect::<Vec<ObservedSku>>(),
            ),
            Err(e) => Read::Unknown(self.failed("subscribedSkus", e)),
        };
        let deleted = collection::<wire::User>(
            client,
            "list_deleted_users",
            take(&mut results, plan.deleted),
        )
        .await;
        self.observed.deleted_users = match deleted {
            Ok(users) => Read::Known(users.into_iter().map(convert::user).collect()),
            Err(e) => Read::Unknown(self.failed("deleted users", e)),
        };
        let domains = take(&mut results, plan.domains);
        self.observed.domains = match self
            .read_domains(client, domains, &plan, &mut results)
            .await
        {
            Ok(d) => Read::Known(d),
            Err(e) => Read::Unknown(self.failed("domains", e)),
        };
        let roles = take(&mut results, plan.roles);
        self.observed.role_holders = match self.read_roles(client, roles, &plan, &mut results).await
        {
            Ok(r) => Read::Known(r),
            Err(e) => Read::Unknown(self.failed("directory roles", e)),
        };
        self.observed.groups = match self.read_groups(client, &plan, &mut results).await {
            Ok(g) => Read::Known(g),
            Err(e) => Read::Unknown(self.failed("groups", e)),
        };
        self.read_users(client, delta_outcome).await;
        if let Read::Known(users) = &self.observed.users {
            client.set_tenant_users(users.len());
        }
    }

    /// Adds the group reads to `plan`; with `members`, also the members of the groups known
    /// from the last read (a group new since then has its members read by `read_groups`).
    fn plan_groups(&self, plan: &mut Plan, members: bool) {
        plan.license_groups = Some(plan.push(BatchItem::get(license_groups_url())));
        plan.watched_groups.clear();
        plan.group_members.clear();
        for id in &self.watched_groups {
            let i = plan.push(BatchItem::get(group_url(id)));
            plan.watched_groups.push((id.clone(), i));
        }
        if members && let Read::Known(groups) = &self.observed.groups {
            for g in groups {
                let i = plan.push(BatchItem::get(group_members_url(&g.id)));
                plan.group_members.push((g.id.clone(), i));
            }
        }
    }

    /// The license groups with their members. A watched group that does not exist is left
    /// out (the plan reports it).
    async fn read_groups(
        &self,
        client: &GraphClient,
        plan: &Plan,
        results: &mut [Option<RawOutcome>],
    ) -> Result<Vec<ObservedGroup>, GraphError> {
        let mut groups: Vec<wire::Group> = collection(
            client,
            "list_license_groups",
            take(results, plan.license_groups),
        )
        .await?;
        for (_, i) in &plan.watched_groups {
            match take(results, Some(*i)) {
                Some(Ok((r, _))) => {
                    let g: wire::Group = serde_json::from_value(r.body)
                        .map_err(|e| GraphError::decode("get_group", e))?;
                    groups.push(g);
                }
                Some(Err(e)) if e.is_not_found() => {}
                Some(Err(e)) => return Err(e),
                None => return Err(GraphError::decode("get_group", "not requested")),
            }
        }
        let mut ids: Vec<String> = groups.iter().map(|g| g.id.to_ascii_lowercase()).collect();
        ids.sort();
        ids.dedup();
        let mut outcomes = gather(client, &ids, &plan.group_members, results, |id| {
            group_members_url(id)
        })
        .await;
        let mut out: Vec<ObservedGroup> = Vec::new();
        for g in groups {
            let id = g.id.to_ascii_lowercase();
            if out.iter().any(|o| o.id == id) {
                continue;
            }
            let members: Vec<wire::DirectoryObject> =
                collection(client, "list_group_members", outcomes.remove(&id)).await?;
            let members = members
                .into_iter()
                .filter(|m| {
                    m.odata_type
                        .as_deref()
                        .is_none_or(|t| t.eq_ignore_ascii_case("#microsoft.graph.user"))
                })
                .map(|m| m.id)
                .collect();
            out.push(convert::group(g, members));
        }
        out.sort_by(|a, b| a.id.cmp(&b.id));
        Ok(out)
    }

    async fn read_domains(
        &self,
        client: &GraphClient,
        outcome: Option<RawOutcome>,
        plan: &Plan,
        results: &mut [Option<RawOutcome>],
    ) -> Result<Vec<ObservedDomain>, GraphError> {
        let list: Vec<wire::Domain> = collection(client, "list_domains", outcome).await?;
        let mut domains: Vec<ObservedDomain> = list.into_iter().map(convert::domain).collect();
        let federated: Vec<String> = domains
            .iter()
            .filter(|d| d.authentication == AuthenticationType::Federated)
            .map(|d| d.name.clone())
            .collect();
        let mut outcomes = gather(
            client,
            &federated,
            &plan.federation,
            results,
            federation_url,
        )
        .await;
        for d in &mut domains {
            let Some(outcome) = outcomes.remove(&d.name) else {
                continue;
            };
            d.federation = match outcome {
                Ok((r, _)) => GraphClient::page::<wire::Federation>("list_federation", r.body)?
                    .value
                    .into_iter()
                    .next()
                    .map(convert::federation),
                Err(e) if e.is_not_found() => None,
                Err(e) => return Err(e),
            };
        }
        domains.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(domains)
    }

    async fn read_roles(
        &mut self,
        client: &GraphClient,
        outcome: Option<RawOutcome>,
        plan: &Plan,
        results: &mut [Option<RawOutcome>],
    ) -> Result<BTreeMap<String, Vec<String>>, GraphError> {
        let roles: Vec<wire::DirectoryRole> =
            collection(client, "list_directory_roles", outcome).await?;
        self.roles = roles.into_iter().map(|r| (r.id, r.display_name)).collect();
        let ids: Vec<String> = self.roles.iter().map(|(id, _)| id.clone()).collect();
        let mut outcomes = gather(client, &ids, &plan.members, results, members_url).await;
        let mut holders: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for (id, name) in &self.roles {
            let members: Vec<wire::DirectoryObject> =
                collection(client, "list_role_members", outcomes.remove(id)).await?;
            for m in members {
                let is_user = m
                    .odata_type
                    .as_deref()
                    .is_none_or(|t| t.eq_ignore_ascii_case("#microsoft.graph.user"));
                if is_user && !m.id.is_empty() {
                    holders.entry(m.id).or_default().push(name.clone());
                }
            }
        }
        for names in holders.values_mut() {
            names.sort();
            names.dedup();
        }
        Ok(holders)
    }

    /// Runs the users delta round: continues the batched first page, or starts a full round
    /// (first load, no link yet, or the link expired). Each page is applied as it arrives, so
    /// a full round never holds more than one page of Graph's JSON besides the mirror. A
    /// round that fails part way leaves the users `Unknown` (with what was applied parked)
    /// and the deltaLink where it was: the next round applies the same changes again, which
    /// changes nothing twice.
    async fn read_users(&mut self, client: &GraphClient, batched: Option<RawOutcome>) {
        let mut users = match std::mem::replace(&mut self.observed.users, Read::Known(Vec::new())) {
            Read::Known(u) => u,
            Read::Unknown(_) => self.parked.take().unwrap_or_default(),
        };
        let mut index = std::mem::take(&mut self.index);
        let mut full = false;
        let round = match client.absolute(
            "users_delta",
            &GraphClient::users_delta_url(&user_delta_properties()),
        ) {
            Ok(initial) => {
                let mut sink = |page: DeltaPage<wire::User>| {
                    if matches!(page, DeltaPage::Restart) {
                        full = true;
                    }
                    apply_page(&mut users, &mut index, page);
                };
                self.users_round(client, batched, &initial, &mut sink).await
            }
            Err(e) => Err(e),
        };
        if full {
            // A full round grew the vector by doubling: give the slack back.
            users.shrink_to_fit();
            index.shrink_to_fit(&users);
        }
        self.index = index;
        match round {
            Ok(delta_link) => {
                self.delta_link = Some(delta_link);
                self.observed.users = Read::Known(users);
            }
            Err(e) => {
                self.parked = Some(users);
                self.observed.users = Read::Unknown(self.failed("users", e));
            }
        }
    }

    /// The round's pages go to `sink`; a full round starts with [`DeltaPage::Restart`].
    /// Returns the new deltaLink.
    async fn users_round(
        &self,
        client: &GraphClient,
        batched: Option<RawOutcome>,
        initial: &str,
        sink: &mut (dyn FnMut(DeltaPage<wire::User>) + Send),
    ) -> Result<String, GraphError> {
        match batched {
            Some(Ok((r, _))) => match GraphClient::page::<wire::User>("users_delta", r.body) {
                Ok(page) => {
                    client
                        .delta_pages("users_delta", initial, initial, Some(page), sink)
                        .await
                }
                Err(e) => Err(e),
            },
            Some(Err(e)) if needs_resync(&e) => {
                tracing::debug!("users delta token expired; reading all users again");
                sink(DeltaPage::Restart);
                client
                    .delta_pages("users_delta", initial, initial, None, sink)
                    .await
            }
            Some(Err(e)) => Err(e),
            None => {
                let start = match &self.delta_link {
                    Some(link) => client.absolute("users_delta", link)?,
                    None => {
                        sink(DeltaPage::Restart);
                        initial.to_owned()
                    }
                };
                client
                    .delta_pages("users_delta", initial, &start, None, sink)
                    .await
            }
        }
    }
}

/// Applies one page of a users delta round: `Restart` empties the users (a full round
/// follows), an item replaces, merges into or removes its user.
fn apply_page(users: &mut Vec<ObservedUser>, index: &mut UserIndex, page: DeltaPage<wire::User>) {
    let items = match page {
        DeltaPage::Restart => {
            users.clear();
            index.clear();
            return;
        }
        DeltaPage::Items(items) => items,
    };
    for item in items {
        if item.removed.is_some() {
            if let Some(pos) = index.remove(users, &item.id) {
                let last = users.len() - 1;
                users.swap_remove(pos);
                if pos < last {
                    index.moved(users, last, pos);
                }
            }
            continue;
        }
        match index.get(users, &item.id) {
            Some(pos) => convert::merge_user(&mut users[pos], item),
            None if !item.id.is_empty() => {
                users.push(convert::user(item));
                index.insert(users, users.len() - 1);
            }
            None => {}
        }
    }
}

/// User id → position in the users, without a second copy of the ids: the table holds
/// positions and finds them by the id in the user record.
#[derive(Debug, Clone, Default)]
struct UserIndex {
    table: HashTable<usize>,
    hasher: foldhash::fast::RandomState,
}

impl UserIndex {
    fn hash(&self, id: &str) -> u64 {
        self.hasher.hash_one(id)
    }

    fn get(&self, users: &[ObservedUser], id: &str) -> Option<usize> {
        self.table
            .find(self.hash(id), |&p| users.get(p).is_some_and(|u| u.id == id))
            .copied()
    }

    /// Indexes the user at `pos` (its id not indexed yet).
    fn insert(&mut self, users: &[ObservedUser], pos: usize) {
        let Some(user) = users.get(pos) else {
            return;
        };
        let hasher = &self.hasher;
        self.table
            .insert_unique(hasher.hash_one(user.id.as_str()), pos, |&p| {
                hasher.hash_one(users.get(p).map_or("", |u| u.id.as_str()))
            });
    }

    /// Forgets `id`; returns where its user is.
    fn remove(&mut self, users: &[ObservedUser], id: &str) -> Option<usize> {
        let hash = self.hash(id);
        self.table
            .find_entry(hash, |&p| users.get(p).is_some_and(|u| u.id == id))
            .ok()
            .map(|entry| entry.remove().0)
    }

    /// The user at `from` is now at `to` (a `swap_remove`).
    fn moved(&mut self, users: &[ObservedUser], from: usize, to: usize) {
        let Some(user) = users.get(to) else {
            return;
        };
        if let Some(p) = self.table.find_mut(self.hash(&user.id), |&p| p == from) {
            *p = to;
        }
    }

    fn clear(&mut self) {
        self.table.clear();
    }

    fn shrink_to_fit(&mut self, users: &[ObservedUser]) {
        let hasher = &self.hasher;
        self.table
            .shrink_to_fit(|&p| hasher.hash_one(users.get(p).map_or("", |u| u.id.as_str())));
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.table.len()
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;

    fn item(v: serde_json::Value) -> wire::User {
        serde_json::from_value(v).unwrap_or_default()
    }

    fn page(ids: &[&str]) -> DeltaPage<wire::User> {
        DeltaPage::Items(
            ids.iter()
                .map(|id| {
                    item(serde_json::json!({
                        "id": id, "userPrincipalName": format!("{id}@corp.example.com"),
                        "assignedLicenses": [{"skuId": "S1", "disabledPlans": []}]
                    }))
                })
                .collect(),
        )
    }

    fn removed(id: &str) -> wire::User {
        item(serde_json::json!({"id": id, "@removed": {"reason": "changed"}}))
    }

    /// Every user is found at its position, and nothing else is indexed.
    fn consistent(users: &[ObservedUser], index: &UserIndex) {
        assert_eq!(index.len(), users.len());
        for (pos, u) in users.iter().enumerate() {
            assert_eq!(index.get(users, &u.id), Some(pos), "{}", u.id);
        }
    }

    #[test]
    fn the_index_follows_adds_changes_and_removals() {
        let mut users = Vec::new();
        let mut index = UserIndex::default();
        apply_page(&mut users, &mut index, DeltaPage::Restart);
        apply_page(&mut users, &mut index, page(&["a", "b", "c", "d", "e"]));
        consistent(&users, &index);
        apply_page(
            &mut users,
            &mut index,
            DeltaPage::Items(vec![
                removed("b"),
                item(serde_json::json!({"id": "d", "displayName": "Dee"})),
                removed("e"),
                removed("nobody"),
            ]),
        );
        consistent(&users, &index);
        let ids: Vec<&str> = users.iter().map(|u| u.id.as_str()).collect();
        assert_eq!(ids.len(), 3);
        for id in ["a", "c", "d"] {
            assert!(ids.contains(&id), "{id} in {ids:?}");
        }
        let d = index.get(&users, "d").and_then(|p| users.get(p));
        let d = d.expect("d is indexed");
        assert_eq!(d.display_name.as_deref(), Some("Dee"));
        assert_eq!(
            d.user_principal_name, "d@corp.example.com",
            "merged, not replaced"
        );
        assert_eq!(index.get(&users, "b"), None);
        apply_page(&mut users, &mut index, page(&["b", "f"]));
        index.shrink_to_fit(&users);
        consistent(&users, &index);
        apply_page(&mut users, &mut index, DeltaPage::Restart);
        assert!(users.is_empty());
        consistent(&users, &index);
    }

    #[test]
    fn licences_of_a_full_read_share_the_sku_id_and_take_no_spare_room() {
        let mut users = Vec::new();
        let mut index = UserIndex::default();
        apply_page(&mut users, &mut index, page(&["a", "b"]));
        let (a, b) = (&users[0].licenses, &users[1].licenses);
        assert_eq!(a.capacity(), 1);
        assert_eq!(&*a[0].sku_id, "s1");
        assert!(
            Arc::ptr_eq(&a[0].sku_id, &b[0].sku_id),
            "one copy of the SKU id"
        );
    }
}
