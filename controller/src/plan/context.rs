//! Read-only indexes over desired and observed state, built once per plan (hash maps, so a
//! tenant of 100,000 users plans in linear time).

use std::borrow::Cow;
use std::cell::OnceCell;
use std::collections::BTreeMap;

use super::coverage::covers;
use super::names::{fold_cow, same_folded, upn_domain};
use crate::api::Authentication;
use crate::model::{
    AuthenticationType, DesiredTenant, ObservedDomain, ObservedGroup, ObservedSku, ObservedTenant,
    ObservedUser, Read,
};

/// A hash map with a fast hasher (foldhash): planning hashes a few hundred thousand UPNs.
pub(crate) type Map<K, V> = std::collections::HashMap<K, V, foldhash::fast::RandomState>;
/// A hash set with a fast hasher.
pub(crate) type Set<T> = std::collections::HashSet<T, foldhash::fast::RandomState>;

/// Soft-deleted users, indexed the way live users are.
#[derive(Default)]
pub(crate) struct Deleted<'a> {
    pub by_upn: Map<Cow<'a, str>, &'a ObservedUser>,
    pub by_immutable_id: Map<&'a str, &'a ObservedUser>,
}

impl<'a> Deleted<'a> {
    fn new(users: &'a [ObservedUser]) -> Self {
        let mut d = Deleted::default();
        for u in users {
            d.by_upn
                .entry(fold_cow(&u.user_principal_name))
                .or_insert(u);
            if let Some(id) = u.immutable_id.as_deref() {
                d.by_immutable_id.entry(id).or_insert(u);
            }
        }
        d
    }
}

/// Everything the planning steps look things up in.
pub(crate) struct Ctx<'a> {
    pub desired: &'a DesiredTenant,
    /// Tenant users, or why they could not be read.
    pub users: Result<&'a [ObservedUser], &'a str>,
    /// Directory role holders (user id → role names), or why they could not be read.
    pub roles: Result<&'a BTreeMap<String, Vec<String>>, &'a str>,
    /// Tenant domains, or why they could not be read.
    pub domains: Result<&'a [ObservedDomain], &'a str>,
    /// Subscribed SKUs, or why they could not be read.
    pub skus: Result<&'a [ObservedSku], &'a str>,
    /// The license groups, or why they could not be read.
    pub groups: Result<&'a [ObservedGroup], &'a str>,
    /// Tenant users by lower-case UPN.
    pub by_upn: Map<Cow<'a, str>, &'a ObservedUser>,
    /// Tenant users by `onPremisesImmutableId` (case-sensitive, as Graph compares it).
    pub by_immutable_id: Map<&'a str, &'a ObservedUser>,
    /// Tenant users by lower-case object id; built only when a listed user names a manager
    /// (it names the tenant's manager of a drifted user).
    pub by_id: Map<String, &'a ObservedUser>,
    /// Soft-deleted users by lower-case UPN and by immutable ID, or why they could not be read.
    pub deleted: Result<Deleted<'a>, &'a str>,
    /// Per assignment: the index of its FederatedDomain (by namespace and name), `None` when
    /// there is none or it does not admit the assignment's namespace.
    pub assignment_domain: Vec<Option<usize>>,
    /// Per assignment: covering policies, ordered by object key (name first).
    pub policies_of: Vec<Vec<usize>>,
    /// Per assignment: its users' lower-case UPNs, in spec order.
    pub folded: &'a [Vec<Cow<'a, str>>],
    /// Per domain: the lower-case UPNs its AppAssignments list; built when first asked for
    /// (see [`listed`](Self::listed)).
    listed: OnceCell<Vec<Set<&'a str>>>,
    /// Assignments, domains and policies in object-key order (the order of "first").
    pub assignment_order: Vec<usize>,
    pub domain_order: Vec<usize>,
    /// When the observed state was read: "now" for leaver stages and certificate expiry.
    pub observed_at: Option<time::OffsetDateTime>,
}

fn read<T>(r: &Read<T>) -> Result<&T, &str> {
    match r {
        Read::Known(v) => Ok(v),
        Read::Unknown(reason) => Err(reason),
    }
}

impl<'a> Ctx<'a> {
    /// `folded` is [`fold_listed`](super::names::fold_listed) of `desired`.
    pub(crate) fn new(
        desired: &'a DesiredTenant,
        observed: &'a ObservedTenant,
        folded: &'a [Vec<Cow<'a, str>>],
    ) -> Self {
        let users = read(&observed.users).map(Vec::as_slice);
        let n = users.map_or(0, <[_]>::len);
        let mut by_upn = Map::with_capacity_and_hasher(n, Default::default());
        let mut by_immutable_id = Map::with_capacity_and_hasher(n, Default::default());
        for u in users.unwrap_or(&[]) {
            by_upn.entry(fold_cow(&u.user_principal_name)).or_insert(u);
            if let Some(id) = u.immutable_id.as_deref() {
                by_immutable_id.entry(id).or_insert(u);
            }
        }
        let managers = desired
            .assignments
            .iter()
            .any(|a| a.spec.users.iter().any(|u| u.manager.is_some()));
        let by_id = if managers {
            users
                .unwrap_or(&[])
                .iter()
                .map(|u| (u.id.to_ascii_lowercase(), u))
                .collect()
        } else {
            Map::default()
        };
        let assignment_domain: Vec<Option<usize>> = desired
            .assignments
            .iter()
            .map(|a| {
                if a.not_permitted.is_some() {
                    return None;
                }
                desired.domains.iter().position(|d| {
                    d.key.namespace == a.domain_namespace && d.key.name == a.spec.domain_ref.name
                })
            })
            .collect();
        let mut policy_order: Vec<usize> = (0..desired.policies.len()).collect();
        policy_order.sort_by(|&x, &y| desired.policies[x].key.cmp(&desired.policies[y].key));
        let policies_of = desired
            .assignments
            .iter()
            .map(|a| {
                policy_order
                    .iter()
                    .copied()
                    .filter(|&p| covers(&desired.policies[p], a))
                    .collect()
            })
            .collect();
        let mut assignment_order: Vec<usize> = (0..desired.assignments.len()).collect();
        assignment_order
            .sort_by(|&x, &y| desired.assignments[x].key.cmp(&desired.assignments[y].key));
        let mut domain_order: Vec<usize> = (0..desired.domains.len()).collect();
        domain_order.sort_by(|&x, &y| desired.domains[x].key.cmp(&desired.domains[y].key));
        Self {
            desired,
            users,
            roles: read(&observed.role_holders),
            domains: read(&observed.domains).map(Vec::as_slice),
            skus: read(&observed.skus).map(Vec::as_slice),
            groups: read(&observed.groups).map(Vec::as_slice),
            by_upn,
            by_immutable_id,
            by_id,
            deleted: read(&observed.deleted_users).map(|d| Deleted::new(d)),
            assignment_domain,
            policies_of,
            folded,
            listed: OnceCell::new(),
            assignment_order,
            domain_order,
            observed_at: observed.observed_at,
        }
    }

    /// The lower-case UPNs the AppAssignments of FederatedDomain `di` list: those of every
    /// FederatedDomain object naming the same domain (split objects never see each other's
    /// users as unlisted). Built on first use: a plan that deprovisions nobody and finds no
    /// unmatched licensed user never needs it.
    pub(crate) fn listed(&self, di: usize) -> &Set<&'a str> {
        let listed = self.listed.get_or_init(|| {
            let desired = self.desired;
            let mut listed: Vec<Set<&'a str>> = vec![Set::default(); desired.domains.len()];
            for (upns, d) in self.folded.iter().zip(&self.assignment_domain) {
                let Some(d) = d else { continue };
                let name = &desired.domains[*d].spec.domain;
                for (di, other) in desired.domains.iter().enumerate() {
                    if other.spec.domain.eq_ignore_ascii_case(name) {
                        listed[di].extend(upns.iter().map(|k| &**k));
                    }
                }
            }
            listed
        });
        &listed[di]
    }

    /// The directory roles a user holds (empty when none, or when roles are unknown).
    pub(crate) fn roles_of(&self, user: &ObservedUser) -> &[String] {
        self.roles
            .ok()
            .and_then(|r| r.get(&user.id))
            .map_or(&[], Vec::as_slice)
    }

    /// The observed domain of that name (case-insensitive), when domains were read.
    pub(crate) fn observed_domain(&self, name: &str) -> Option<&'a ObservedDomain> {
        self.domains
            .ok()?
            .iter()
            .find(|d| d.name.eq_ignore_ascii_case(name))
    }

    /// Tenant users whose UPN is in the domain.
    pub(crate) fn users_of_domain(&self, domain: &str) -> impl Iterator<Item = &'a ObservedUser> {
        self.users
            .unwrap_or(&[])
            .iter()
            .filter(move |u| same_folded(upn_domain(&u.user_principal_name), domain))
    }

    /// Whether users of this FederatedDomain must carry an immutable ID: the domain is, or is
    /// to become, federated.
    pub(crate) fn carries_immutable_ids(&self, domain: usize) -> bool {
        let d = &self.desired.domains[domain];
        d.spec.authentication == Authentication::Federated
            || self
                .observed_domain(&d.spec.domain)
                .is_some_and(|o| o.authentication == AuthenticationType::Federated)
    }
}
