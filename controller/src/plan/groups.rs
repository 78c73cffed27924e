//! The groups phase: group-based licensing (`LicensePolicy.spec.assignment: Group`).
//!
//! Each such policy licenses through one security group: the group the controller creates for
//! it (named [`license_group_name`]: a fixed prefix + the policy's namespace/name) or the existing group its
//! `groupId` names. The covered users are put in the group (20 per request), the group gets the
//! policy's SKUs and disabled plans, and Entra licenses the members asynchronously; the plan
//! reads back what Entra computed per user (`licenseAssignmentStates`): licensed, still
//! processing, or in error with Entra's reason.
//!
//! Switching never leaves a user unlicensed. Direct → Group: a user's direct assignment of a
//! SKU the group grants is removed only once the group's assignment of it is active for that
//! user. Group → Direct: the group of a Direct policy is *draining*: its licenses do not count
//! as held (so the licenses phase assigns them directly), and a member leaves the group only
//! once it holds every SKU of the group directly. Membership removals are destructive: they
//! count against the change budget of the user's domain.

use std::collections::{BTreeMap, BTreeSet};

use sha2::{Digest, Sha256};

use super::context::{Ctx, Map, Set};
use super::license_resolve::Grant;
use super::names::{fold, upn_domain};
use super::output::{Out, Owner, Planned};
use super::users::ManagedUser;
use crate::api::{Assignment, Mode};
use crate::model::{
    Action, LicenseErrors, LicenseGrant, MAX_MEMBER_BINDS, NewGroup, ObservedGroup,
    ObservedLicense, ObservedUser, PolicyCounts, PolicyGroup, Reason, license_group_name,
};

/// At most this many UPNs are named in a finding or a status.
const EXAMPLES: usize = 10;

/// The group of each policy, as found in the tenant.
#[derive(Debug, Default)]
pub(crate) struct LicenseGroups<'a> {
    /// Per policy: the group it licenses through (`Group`) or drains (`Direct`), when found.
    pub group_of: Vec<Option<&'a ObservedGroup>>,
    /// Per policy: whether the groups phase plans it (`Group`, groups read, no conflict).
    pub usable: Vec<bool>,
    /// Ids of the groups of `Direct` policies: their licenses are being replaced by direct
    /// ones, so they do not count as held.
    pub draining: Set<String>,
}

impl LicenseGroups<'_> {
    /// Whether a license the user holds counts as held: assigned directly, or inherited from a
    /// group that is not draining and whose assignment is not in error.
    pub(crate) fn holds(&self, l: &ObservedLicense) -> bool {
        l.direct
            || l.inherited_from().iter().any(|g| {
                !self.draining.contains(g)
                    && l.group_states()
                        .iter()
                        .find(|s| s.group == *g)
                        .is_none_or(|s| s.error.is_none() && !s.state.eq_ignore_ascii_case("Error"))
            })
    }
}

/// The policy's path: `namespace/name`, or `name` without a namespace.
fn policy_path(ctx: &Ctx, pi: usize) -> String {
    let key = &ctx.desired.policies[pi].key;
    if key.namespace.is_empty() {
        key.name.clone()
    } else {
        format!("{}/{}", key.namespace, key.name)
    }
}

/// The display name of the group the controller creates for a policy.
pub(crate) fn owned_group_name(ctx: &Ctx, pi: usize) -> String {
    license_group_name(&ctx.desired.policies[pi].key)
}

/// The group to create for a policy: a stable name, a mail nickname derived from it, and a
/// description pointing at the policy.
fn new_group(ctx: &Ctx, pi: usize) -> NewGroup {
    let path = policy_path(ctx, pi);
    let digest = Sha256::digest(path.as_bytes());
    let hex: String = digest.iter().take(6).map(|b| format!("{b:02x}")).collect();
    NewGroup {
        display_name: owned_group_name(ctx, pi),
        mail_nickname: format!("o365-license-{hex}"),
        description: format!(
            "Group-based licensing of LicensePolicy {path}, managed by o365-controller: its \
             members and licenses are set from the policy, and changes made here are reverted."
        ),
    }
}

/// Finds every policy's group; reports a `groupId` naming no group and groups named by two
/// policies.
pub(crate) fn resolve_groups<'a>(ctx: &Ctx<'a>, out: &mut Out) -> LicenseGroups<'a> {
    let policies = &ctx.desired.policies;
    let mut lg = LicenseGroups {
        group_of: vec![None; policies.len()],
        usable: vec![false; policies.len()],
        draining: Set::default(),
    };
    let groups = match ctx.groups {
        Ok(g) => g,
        Err(reason) => {
            for (pi, p) in policies.iter().enumerate() {
                if p.spec.assignment == Assignment::Group {
                    out.read_failed(Owner::Policy(pi), "license groups", reason);
                }
            }
            return lg;
        }
    };
    for (pi, p) in policies.iter().enumerate() {
        lg.group_of[pi] = match &p.spec.group_id {
            Some(id) => groups.iter().find(|g| g.id.eq_ignore_ascii_case(id)),
            None => {
                let name = owned_group_name(ctx, pi);
                groups
                    .iter()
                    .filter(|g| g.display_name.eq_ignore_ascii_case(&name))
                    .min_by(|a, b| a.id.cmp(&b.id))
            }
        };
        if p.spec.assignment == Assignment::Group {
            lg.usable[pi] = true;
            if lg.group_of[pi].is_none()
                && let Some(id) = &p.spec.group_id
            {
                lg.usable[pi] = false;
                out.finding(
                    Owner::Policy(pi),
                    Reason::LicenseGroupNotFound,
                    format!(
                        "groupId {id} names no group of the tenant; name an existing security \
                         group, or leave groupId out and the controller creates one"
                    ),
                    None,
                );
            }
        }
    }
    for pi in 0..policies.len() {
        if !lg.usable[pi] {
            continue;
        }
        let Some(g) = lg.group_of[pi] else { continue };
        let others: Vec<usize> = (0..policies.len())
            .filter(|&o| {
                o != pi
                    && policies[o].spec.assignment == Assignment::Group
                    && lg.group_of[o].is_some_and(|h| h.id == g.id)
            })
            .collect();
        if let Some(&o) = others.first() {
            lg.usable[pi] = false;
            out.finding(
                Owner::Policy(pi),
                Reason::LicenseGroupShared,
                format!(
                    "the group {} ({}) is also the group of LicensePolicy {}; each policy \
                     needs a group of its own",
                    g.display_name, g.id, policies[o].key
                ),
                None,
            );
        }
    }
    for (pi, p) in policies.iter().enumerate() {
        if p.spec.assignment == Assignment::Direct
            && let Some(g) = lg.group_of[pi]
        {
            lg.draining.insert(g.id.clone());
        }
    }
    // A group some Group policy uses is never draining.
    for pi in 0..policies.len() {
        if lg.usable[pi]
            && let Some(g) = lg.group_of[pi]
        {
            lg.draining.remove(&g.id);
        }
    }
    lg
}

/// How Entra licensed one covered user through the group.
#[derive(Debug, Clone, PartialEq, Eq)]
enum UserState {
    /// Every SKU active through the group.
    Licensed,
    /// A member whose group licenses Entra has not processed yet.
    Processing,
    /// Not (yet) a member.
    NotMember,
    /// Entra could not assign a SKU; its reason.
    Error(String),
}

/// What the groups phase needs of one policy.
struct Policy<'g, 'a> {
    pi: usize,
    enforced: bool,
    grants: &'g [Grant<'a>],
    group: Option<&'a ObservedGroup>,
}

/// Plans the groups phase: after the licenses phase, whose `grants` it uses.
pub(crate) fn plan_groups(
    ctx: &Ctx,
    managed: &[ManagedUser],
    lg: &LicenseGroups,
    grants: &[Vec<Grant>],
    out: &mut Out,
) {
    if grants.len() != ctx.desired.policies.len() {
        // SKUs or users could not be read: the licenses phase reported it.
        return;
    }
    let group_policy = |pi: usize| {
        let p = &ctx.desired.policies[pi];
        (p.spec.assignment == Assignment::Group && lg.usable[pi])
            || (p.spec.assignment == Assignment::Direct
                && lg.group_of[pi].is_some_and(|g| lg.draining.contains(&g.id)))
    };
    if !(0..grants.len()).any(group_policy) {
        // No group to plan: the index of users by id is not built.
        return;
    }
    let users = ctx.users.unwrap_or(&[]);
    let mut by_id: Map<String, &ObservedUser> =
        Map::with_capacity_and_hasher(users.len(), Default::default());
    for u in users {
        by_id.insert(u.id.to_ascii_lowercase(), u);
    }
    for (pi, (p, policy_grants)) in ctx.desired.policies.iter().zip(grants).enumerate() {
        if p.spec.assignment == Assignment::Group && lg.usable[pi] {
            let policy = Policy {
                pi,
                enforced: p.mode == Mode::Enforce,
                grants: policy_grants,
                group: lg.group_of[pi],
            };
            plan_group_policy(ctx, managed, &by_id, &policy, out);
        } else if p.spec.assignment == Assignment::Direct
            && let Some(g) = lg.group_of[pi]
            && lg.draining.contains(&g.id)
        {
            drain(ctx, managed, &by_id, pi, g, out);
        }
    }
}

/// The managed users a policy covers, sorted by UPN (deterministic batches).
fn covered<'m, 'a>(
    ctx: &Ctx,
    managed: &'m [ManagedUser<'a>],
    pi: usize,
) -> Vec<&'m ManagedUser<'a>> {
    let mut v: Vec<&ManagedUser> = managed
        .iter()
        .filter(|m| ctx.policies_of[m.assignment].contains(&pi))
        .collect();
    v.sort_by(|a, b| a.upn.cmp(b.upn));
    v.dedup_by(|a, b| a.upn.eq_ignore_ascii_case(b.upn));
    v
}

/// The FederatedDomain (first in key order) of a UPN's domain, for the change budget.
fn budget_domain(ctx: &Ctx, upn: &str) -> Option<usize> {
    let domain = fold(upn_domain(upn));
    ctx.domain_order
        .iter()
        .copied()
        .find(|&di| fold(&ctx.desired.domains[di].spec.domain) == domain)
}

fn plan_group_policy(
    ctx: &Ctx,
    managed: &[ManagedUser],
    by_id: &Map<String, &ObservedUser>,
    p: &Policy,
    out: &mut Out,
) {
    let owner = Owner::Policy(p.pi);
    let covered = covered(ctx, managed, p.pi);
    let (group_id, group_name) = match p.group {
        Some(g) => (g.id.clone(), g.display_name.clone()),
        None => {
            let new = new_group(ctx, p.pi);
            out.drift(owner, "group".into(), new.display_name.clone(), "absent");
            let name = new.display_name.clone();
            if p.enforced {
                out.push(Action::CreateGroup { group: new }, owner, None);
            }
            (String::new(), name)
        }
    };
    let members: BTreeSet<&str> = p
        .group
        .map(|g| g.members.iter().map(String::as_str).collect())
        .unwrap_or_default();
    // The group's licenses: a group this plan creates gets them in the same pass (the apply
    // takes its id from the create's answer), so members are licensed as they join.
    match p.group {
        Some(g) => plan_group_licenses(ctx, p, g, out),
        None => {
            let new = ObservedGroup {
                display_name: group_name.clone(),
                ..ObservedGroup::default()
            };
            plan_group_licenses(ctx, p, &new, out);
        }
    }
    // Members to add: covered users that exist and are not members, and the users this plan
    // creates (their ids come from the creates' answers, so they join in the same pass).
    let mut add: Vec<(&str, &str)> = Vec::new();
    let mut add_new: Vec<&str> = Vec::new();
    let mut covered_ids: Set<String> = Set::default();
    let mut counts = PolicyCounts::default();
    let mut errors: BTreeMap<String, (i32, Vec<String>)> = BTreeMap::new();
    for m in &covered {
        counts.covered += 1;
        let Some(u) = m.existing else {
            // Created by this plan: it joins the group as soon as its create has answered.
            counts.pending += 1;
            add_new.push(m.upn);
            continue;
        };
        let id = u.id.to_ascii_lowercase();
        covered_ids.insert(id.clone());
        let member = members.contains(id.as_str());
        if !member {
            add.push((u.id.as_str(), m.upn));
            out.drift(
                owner,
                format!("group.members[{}]", m.upn),
                "member",
                "absent",
            );
        }
        match user_state(u, &group_id, p.grants, member) {
            UserState::Licensed => counts.licensed += 1,
            UserState::Processing => {
                counts.pending += 1;
                counts.processing += 1;
            }
            UserState::NotMember => counts.pending += 1,
            UserState::Error(reason) => {
                counts.failed += 1;
                let e = errors.entry(reason).or_default();
                e.0 += 1;
                if e.1.len() < EXAMPLES {
                    e.1.push(m.upn.to_string());
                }
            }
        }
        // Direct → Group: the direct copy goes once the group's is active.
        direct_to_remove(ctx, m, u, &group_id, p, out);
    }
    if p.enforced {
        for chunk in add.chunks(MAX_MEMBER_BINDS) {
            out.push(
                Action::AddGroupMembers {
                    group: group_id.clone(),
                    group_name: group_name.clone(),
                    members: chunk.iter().map(|(id, _)| id.to_string()).collect(),
                    user_principal_names: chunk.iter().map(|(_, upn)| upn.to_string()).collect(),
                },
                owner,
                None,
            );
        }
        // In the order of their creates (both by UPN), so each chunk is complete early.
        for chunk in add_new.chunks(MAX_MEMBER_BINDS) {
            out.push(
                Action::AddGroupMembers {
                    group: group_id.clone(),
                    group_name: group_name.clone(),
                    members: vec![String::new(); chunk.len()],
                    user_principal_names: chunk.iter().map(|upn| upn.to_string()).collect(),
                },
                owner,
                None,
            );
        }
    }
    // Members the policy does not cover leave the group (a removal: drift and budget).
    if let Some(g) = p.group {
        for id in &g.members {
            if covered_ids.contains(id) {
                continue;
            }
            remove_member(ctx, by_id, owner, g, id, p.enforced, out);
        }
    }
    if counts.processing > 0 {
        out.finding(
            owner,
            Reason::GroupLicenseProcessing,
            format!(
                "Entra has not processed the licenses of {} member(s) of {group_name} yet; \
                 they count as pending until it has",
                counts.processing
            ),
            None,
        );
    }
    for (reason, (n, examples)) in &errors {
        out.finding(
            owner,
            Reason::GroupLicenseError,
            format!(
                "Entra could not license {n} member(s) of {group_name} through the group: \
                 {reason}{}; e.g. {}",
                explain(reason),
                examples.join(", ")
            ),
            examples.first().map(String::as_str),
        );
    }
    counts.errors = errors
        .into_iter()
        .map(|(reason, (users, examples))| LicenseErrors {
            reason,
            users,
            examples,
        })
        .collect();
    counts.group = Some(PolicyGroup {
        id: group_id,
        display_name: group_name,
        members: i32::try_from(members.len()).unwrap_or(i32::MAX),
    });
    out.state(owner).licenses = Some(counts);
}

/// What Entra's error reasons mean, and what to do.
fn explain(reason: &str) -> &'static str {
    match reason {
        "CountViolation" => " (no seat left: buy seats or free some)",
        "MutuallyExclusiveViolation" => {
            " (the SKU conflicts with another the user holds: remove one of them)"
        }
        "DependencyViolation" => " (a service plan needs another that is disabled or missing)",
        "ProhibitedInUsageLocationViolation" => {
            " (the SKU is not available in the user's usage location)"
        }
        "UniquenessViolation" => " (the user may hold only one SKU of this kind)",
        _ => "",
    }
}

/// How the group licensed one user, over every SKU the policy grants.
fn user_state(u: &ObservedUser, group: &str, grants: &[Grant], member: bool) -> UserState {
    if !member {
        return UserState::NotMember;
    }
    let mut processing = false;
    for g in grants {
        let state = u
            .licenses
            .iter()
            .find(|l| l.sku_id.eq_ignore_ascii_case(&g.sku.sku_id))
            .and_then(|l| l.group_states().iter().find(|s| s.group == group));
        match state {
            None => processing = true,
            Some(s) if s.is_active() => {}
            Some(s) => {
                let reason = s
                    .error
                    .clone()
                    .unwrap_or_else(|| format!("state {}", s.state));
                return UserState::Error(reason);
            }
        }
    }
    if processing {
        UserState::Processing
    } else {
        UserState::Licensed
    }
}

/// Direct → Group: removes a covered user's direct assignments of the SKUs the group grants
/// and that no `Direct` policy covering the user grants, once the group's assignment of each
/// is active for the user.
fn direct_to_remove(
    ctx: &Ctx,
    m: &ManagedUser,
    u: &ObservedUser,
    group: &str,
    p: &Policy,
    out: &mut Out,
) {
    if group.is_empty() {
        return;
    }
    let directly_granted = |sku: &str| {
        ctx.policies_of[m.assignment].iter().any(|&o| {
            let op = &ctx.desired.policies[o];
            op.spec.assignment == Assignment::Direct
                && op.spec.licenses.iter().any(|l| {
                    l.sku_id
                        .as_deref()
                        .is_some_and(|id| id.eq_ignore_ascii_case(sku))
                        || l.sku_part_number.as_deref().is_some_and(|part| {
                            ctx.skus.unwrap_or(&[]).iter().any(|s| {
                                s.sku_id.eq_ignore_ascii_case(sku)
                                    && s.sku_part_number.eq_ignore_ascii_case(part)
                            })
                        })
                })
        })
    };
    let mut remove: Vec<String> = Vec::new();
    for g in p.grants {
        let Some(l) = u
            .licenses
            .iter()
            .find(|l| l.sku_id.eq_ignore_ascii_case(&g.sku.sku_id))
        else {
            continue;
        };
        let active = l
            .group_states()
            .iter()
            .any(|s| s.group == group && s.is_active());
        if l.direct && active && !directly_granted(&l.sku_id) {
            out.drift(
                Owner::Policy(p.pi),
                format!(
                    "users[{}].licenses[{}].direct",
                    m.upn, g.sku.sku_part_number
                ),
                "absent (licensed through the group)",
                "assigned",
            );
            remove.push(l.sku_id.to_string());
        }
    }
    if remove.is_empty() || !p.enforced {
        return;
    }
    remove.sort();
    out.push(
        Action::AssignLicenses {
            user: u.id.clone(),
            user_principal_name: m.upn.to_string(),
            add: Vec::new(),
            remove,
        },
        vec![Owner::Policy(p.pi)],
        ctx.assignment_domain[m.assignment],
    );
}

/// Sets the group's licenses to the policy's: adds missing SKUs and fixes disabled plans;
/// removes SKUs the policy does not grant only with `removeUnlisted`.
fn plan_group_licenses(ctx: &Ctx, p: &Policy, g: &ObservedGroup, out: &mut Out) {
    let owner = Owner::Policy(p.pi);
    let mut add: Vec<LicenseGrant> = Vec::new();
    for grant in p.grants {
        let want: Vec<String> = grant
            .disabled
            .iter()
            .map(|d| d.to_ascii_lowercase())
            .collect();
        let mut want_sorted = want.clone();
        want_sorted.sort();
        let have = g
            .licenses
            .iter()
            .find(|l| l.sku_id.eq_ignore_ascii_case(&grant.sku.sku_id));
        let field = format!("group.licenses[{}]", grant.sku.sku_part_number);
        match have {
            Some(l) if l.disabled_plans == want_sorted => continue,
            Some(l) => out.drift(
                owner,
                format!("{field}.disabledPlans"),
                want_sorted.join(","),
                l.disabled_plans.join(","),
            ),
            None => out.drift(owner, field, "assigned", "absent"),
        }
        add.push(LicenseGrant {
            sku_id: grant.sku.sku_id.clone(),
            disabled_plans: grant.disabled.iter().cloned().collect(),
        });
    }
    let mut remove: Vec<String> = Vec::new();
    if ctx.desired.policies[p.pi].spec.remove_unlisted {
        for l in &g.licenses {
            if !p
                .grants
                .iter()
                .any(|gr| gr.sku.sku_id.eq_ignore_ascii_case(&l.sku_id))
            {
                out.drift(
                    owner,
                    format!("group.licenses[{}]", l.sku_id),
                    "absent",
                    "assigned",
                );
                remove.push(l.sku_id.clone());
            }
        }
    }
    if p.enforced && (!add.is_empty() || !remove.is_empty()) {
        out.push(
            Action::AssignGroupLicenses {
                group: g.id.clone(),
                group_name: g.display_name.clone(),
                add,
                remove,
            },
            owner,
            None,
        );
    }
}

/// A member leaves a group: drift, and a destructive action counted against the change budget
/// of the user's domain.
fn remove_member(
    ctx: &Ctx,
    by_id: &Map<String, &ObservedUser>,
    owner: Owner,
    g: &ObservedGroup,
    id: &str,
    enforced: bool,
    out: &mut Out,
) {
    let upn = by_id
        .get(id)
        .map_or_else(|| id.to_string(), |u| u.user_principal_name.clone());
    out.drift(owner, format!("group.members[{upn}]"), "absent", "member");
    if enforced {
        let budget = budget_domain(ctx, &upn);
        out.push(
            Action::RemoveGroupMember {
                group: g.id.clone(),
                group_name: g.display_name.clone(),
                member: id.to_string(),
                user_principal_name: upn,
            },
            owner,
            budget,
        );
    }
}

/// Group → Direct: the group of a `Direct` policy empties as its members come to hold every
/// SKU of the group directly (members the policy does not cover leave at once).
fn drain(
    ctx: &Ctx,
    managed: &[ManagedUser],
    by_id: &Map<String, &ObservedUser>,
    pi: usize,
    g: &ObservedGroup,
    out: &mut Out,
) {
    let owner = Owner::Policy(pi);
    let enforced = ctx.desired.policies[pi].mode == Mode::Enforce;
    let covered: Set<String> = covered(ctx, managed, pi)
        .iter()
        .filter_map(|m| m.existing.map(|u| u.id.to_ascii_lowercase()))
        .collect();
    let mut waiting = 0;
    for id in &g.members {
        let direct_everything = by_id.get(id).is_some_and(|u| {
            g.licenses.iter().all(|gl| {
                u.licenses
                    .iter()
                    .any(|l| l.direct && l.sku_id.eq_ignore_ascii_case(&gl.sku_id))
            })
        });
        if covered.contains(id) && !direct_everything {
            // Still licensed only through the group: it stays until its direct licenses are.
            waiting += 1;
            continue;
        }
        remove_member(ctx, by_id, owner, g, id, enforced, out);
    }
    if waiting > 0
        && let Some(c) = out.state(owner).licenses.as_mut()
    {
        // Not in sync until the group is left: count them as pending.
        c.pending = c.pending.max(waiting);
    }
}

/// Drops from the member additions the users this plan was to create but no longer does (their
/// create was dropped with an object whose read failed or that is in conflict), and the
/// additions left empty.
pub(crate) fn drop_orphan_members(out: &mut Out) {
    let waiting = |p: &Planned| matches!(&p.action, Action::AddGroupMembers { members, .. } if members.iter().any(String::is_empty));
    if !out.actions.iter().any(waiting) {
        return;
    }
    let created: Set<String> = out
        .actions
        .iter()
        .filter_map(|p| match &p.action {
            Action::CreateUser { user } => Some(fold(&user.user_principal_name)),
            _ => None,
        })
        .collect();
    for p in &mut out.actions {
        if let Action::AddGroupMembers {
            members,
            user_principal_names,
            ..
        } = &mut p.action
            && members.iter().any(String::is_empty)
        {
            let kept: Vec<(String, String)> = std::mem::take(members)
                .into_iter()
                .zip(std::mem::take(user_principal_names))
                .filter(|(id, upn)| !id.is_empty() || created.contains(&fold(upn)))
                .collect();
            (*members, *user_principal_names) = kept.into_iter().unzip();
        }
    }
    out.actions.retain(
        |p| !matches!(&p.action, Action::AddGroupMembers { members, .. } if members.is_empty()),
    );
}
