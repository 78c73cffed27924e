//! The users phase: for each AppAssignment, match listed users to tenant users as Entra Connect
//! does (immutable ID first, then UPN; live users, then soft-deleted ones), never duplicating;
//! adopt, rename, restore or create them, and correct their attributes.

use std::cell::OnceCell;

use super::context::{Map, Set};

use super::conflicts::{Listed, repeated_listings};
use super::context::Ctx;
use super::immutable_id::derive_immutable_id;
use super::manager::{WantedManager, has_manager, observed_manager, wanted_manager};
use super::names::{fold, fold_cow, in_domain, same_folded};
use super::output::{Out, Owner};
use super::synced;
use super::user_changes::{UserDiff, diff_user, new_user};
use crate::api::{AssignedUser, Mode, Provisioning};
use crate::model::{Action, ObservedUser, PlannedCounts, Reason};

/// A listed user the controller manages after this plan's users phase: it exists (matched) or
/// is created by this plan. These are the users LicensePolicies license.
#[derive(Debug, Clone)]
pub(crate) struct ManagedUser<'a> {
    pub upn: &'a str,
    pub assignment: usize,
    /// The tenant user, or `None` when this plan creates it.
    pub existing: Option<&'a ObservedUser>,
    /// Whether the user has a usage location once this plan's users phase is done.
    pub has_usage_location: bool,
}

/// What the users phase hands to the later phases.
#[derive(Debug, Default)]
pub(crate) struct UsersOutcome<'a> {
    pub managed: Vec<ManagedUser<'a>>,
    /// Lower-case UPNs of existing users that get an immutable ID in this plan.
    pub immutable_ids_set: Set<String>,
    /// Graph ids of tenant users (live or soft-deleted) matched to a listed user, whatever
    /// their UPN (a user matched by immutable ID under another UPN is being renamed).
    pub anchored: Set<&'a str>,
}

/// Plans the users phase of every AppAssignment.
pub(crate) fn plan_users<'a>(ctx: &Ctx<'a>, out: &mut Out) -> UsersOutcome<'a> {
    let listed = repeated_listings(ctx);
    let mut run = Run {
        ctx,
        listed,
        all_listed: OnceCell::new(),
        handled: Set::default(),
        claimed_ids: Map::default(),
        outcome: UsersOutcome::default(),
    };
    for &ai in &ctx.assignment_order {
        run.assignment(ai, out);
    }
    run.outcome
}

struct Run<'c, 'a> {
    ctx: &'c Ctx<'a>,
    listed: Listed<'a>,
    /// Every lower-case UPN any AppAssignment lists (see [`Run::all_listed`]).
    all_listed: OnceCell<Set<&'a str>>,
    /// UPNs already planned by an earlier assignment listing them identically.
    handled: Set<&'a str>,
    /// Immutable IDs already claimed by a listed user (folded UPN), so two listed users never
    /// get the same one (Graph would refuse the second create with a conflict).
    claimed_ids: Map<String, (&'a str, &'a str)>,
    outcome: UsersOutcome<'a>,
}

impl<'a> Run<'_, 'a> {
    /// Every lower-case UPN any AppAssignment lists, built when first needed (a manager or an
    /// immutable ID held under another UPN): most plans never ask.
    fn all_listed(&self) -> &Set<&'a str> {
        self.all_listed.get_or_init(|| {
            let mut all = Set::with_capacity_and_hasher(
                self.ctx.folded.iter().map(Vec::len).sum(),
                Default::default(),
            );
            all.extend(self.ctx.folded.iter().flatten().map(|k| &**k));
            all
        })
    }

    fn assignment(&mut self, ai: usize, out: &mut Out) {
        let ctx = self.ctx;
        let a = &ctx.desired.assignments[ai];
        let owner = Owner::Assignment(ai);
        let mut counts = PlannedCounts {
            desired: count(a.spec.users.len()),
            ..PlannedCounts::default()
        };
        let Some(di) = ctx.assignment_domain[ai] else {
            counts.skipped = counts.desired;
            // Not Unknown: nothing failed to read. The Error finding below makes the object
            // Blocked (DESIGN §7), so `plan` exits 2 and the condition says why.
            out.state(owner).counts = Some(counts);
            let (reason, message) = match &a.not_permitted {
                Some(message) => (Reason::ReferenceNotPermitted, message.clone()),
                None => (
                    Reason::DomainNotFound,
                    format!(
                        "domainRef {:?} names no FederatedDomain in namespace {:?}; create it or \
                         fix spec.domainRef (a reference to another namespace needs \
                         spec.domainRef.namespace and a grant in that domain's \
                         spec.allowedAssignments)",
                        a.spec.domain_ref.name, a.domain_namespace
                    ),
                ),
            };
            out.finding(owner, reason, message, None);
            return;
        };
        let failed = [
            ("users", self.ctx.users.err()),
            ("directory role holders", self.ctx.roles.err()),
        ];
        if let Some((what, Some(reason))) = failed.into_iter().find(|(_, r)| r.is_some()) {
            counts.pending = counts.desired;
            out.state(owner).counts = Some(counts);
            out.read_failed(owner, what, reason);
            return;
        }
        let domain = &ctx.desired.domains[di];
        let protected: Set<String> = domain
            .spec
            .protected_users
            .iter()
            .map(|u| fold(u))
            .collect();
        let carries_id = ctx.carries_immutable_ids(di);
        let mut waiting_export = 0;
        for (u, key) in a.spec.users.iter().zip(&ctx.folded[ai]) {
            let upn = u.user_principal_name.as_str();
            let key: &'a str = key;
            if !in_domain(upn, &domain.spec.domain) {
                counts.skipped += 1;
                out.finding(
                    owner,
                    Reason::UpnOutsideDomain,
                    format!(
                        "{upn} is not in domain {} (spec.domainRef {:?}), so it is not \
                         provisioned; list it in an AppAssignment of its own domain",
                        domain.spec.domain, a.spec.domain_ref.name
                    ),
                    Some(upn),
                );
                continue;
            }
            if let Some(others) = self.listed.conflicting.get(key) {
                counts.skipped += 1;
                let names: Vec<String> = others
                    .iter()
                    .filter(|&&o| o != ai)
                    .map(|&o| out.key(Owner::Assignment(o)).to_string())
                    .collect();
                out.finding(
                    owner,
                    Reason::ConflictingAssignments,
                    format!(
                        "{upn} is also listed by {} with different attributes; the user is left \
                         alone until the entries are identical or only one lists it",
                        names.join(", ")
                    ),
                    Some(upn),
                );
                continue;
            }
            if protected.contains(key) {
                counts.skipped += 1;
                out.finding(
                    owner,
                    Reason::ProtectedUser,
                    format!(
                        "{upn} is in spec.protectedUsers of {}; the controller never creates, \
                         changes or licenses it",
                        domain.key
                    ),
                    Some(upn),
                );
                continue;
            }
            let immutable_id = u
                .immutable_id
                .clone()
                .or_else(|| carries_id.then(|| derive_immutable_id(upn)));
            if let Some(id) = immutable_id.as_deref() {
                match self.claimed_ids.get(id) {
                    Some(&(other_key, other_upn)) if other_key != key => {
                        counts.skipped += 1;
                        out.finding(
                            owner,
                            Reason::DuplicateImmutableId,
                            format!(
                                "{upn} would get onPremisesImmutableId {id:?}, which {other_upn} \
                                 listed earlier gets too; the user is skipped so no two users \
                                 share a source anchor: give one of them another immutableId"
                            ),
                            Some(upn),
                        );
                        continue;
                    }
                    Some(_) => {}
                    None => {
                        self.claimed_ids.insert(id.to_owned(), (key, upn));
                    }
                }
            }
            let repeated = self.listed.repeated.contains(key);
            let primary = !repeated || !self.handled.contains(key);
            let found = match self.find(key, upn, immutable_id.as_deref()) {
                Ok(found) => found,
                Err((reason, message)) => {
                    counts.skipped += 1;
                    out.finding(owner, reason, message, Some(upn));
                    continue;
                }
            };
            let planned = match found {
                Found::Live(existing) => {
                    let listing = Listing {
                        ai,
                        u,
                        key,
                        immutable_id,
                        primary,
                        restoring: false,
                    };
                    self.existing(&listing, existing, &mut counts, out)
                }
                Found::Deleted(deleted) => {
                    let listing = Listing {
                        ai,
                        u,
                        key,
                        immutable_id,
                        primary,
                        restoring: true,
                    };
                    let r = self.restore(&listing, deleted, &mut counts, out);
                    if r == Missing::WaitingForExport {
                        waiting_export += 1;
                    }
                    r == Missing::Created
                }
                Found::DeletedUnknown(reason) => {
                    counts.pending += 1;
                    out.read_failed(owner, "deleted users", reason);
                    false
                }
                Found::Missing => {
                    let listing = Listing {
                        ai,
                        u,
                        key,
                        immutable_id,
                        primary,
                        restoring: false,
                    };
                    let r = self.missing(listing, &mut counts, out);
                    if r == Missing::WaitingForExport {
                        waiting_export += 1;
                    }
                    r == Missing::Created
                }
            };
            if planned && repeated {
                self.handled.insert(key);
            }
        }
        if waiting_export > 0 {
            out.finding(
                owner,
                Reason::ExportNotRequested,
                format!(
                    "{waiting_export} users are waiting for an export (provisioning: Manual); \
                     start it with `o365-controller apply --export` or, in a cluster: \
                     kubectl annotate o365assign {}{} \
                     o365-controller.io/export-requested-at=$(date -u +%Y-%m-%dT%H:%M:%SZ) \
                     --overwrite",
                    a.key.name,
                    namespace_flag(&a.key.namespace)
                ),
                None,
            );
        }
        out.state(owner).counts = Some(counts);
    }

    /// The tenant user a listed user is, as Entra Connect matches: by immutable ID first (a
    /// different UPN is a rename), then by UPN; among live users first, then soft-deleted ones.
    /// `Err` is a conflict (reason, message): the user is left alone.
    fn find(
        &self,
        key: &str,
        upn: &str,
        immutable_id: Option<&str>,
    ) -> Result<Found<'a>, (Reason, String)> {
        let ctx = self.ctx;
        let by_upn = ctx.by_upn.get(key).copied();
        if let Some(id) = immutable_id
            && let Some(&holder) = ctx.by_immutable_id.get(id)
        {
            if same_folded(&holder.user_principal_name, key) {
                return Ok(Found::Live(holder));
            }
            let holder_upn = &holder.user_principal_name;
            if by_upn.is_some() {
                return Err((
                    Reason::ImmutableIdInUse,
                    format!(
                        "{upn} would get onPremisesImmutableId {id:?}, which tenant user \
                         {holder_upn} holds, while {upn} is another tenant user; the controller \
                         cannot tell which account is this person, so both are left alone: \
                         remove one of them or fix spec immutableId"
                    ),
                ));
            }
            if self
                .all_listed()
                .contains(&*fold_cow(&holder.user_principal_name))
            {
                return Err((
                    Reason::ImmutableIdInUse,
                    format!(
                        "{upn} would get onPremisesImmutableId {id:?}, which tenant user \
                         {holder_upn} holds, and {holder_upn} is listed too; the user is skipped \
                         so no account is renamed from under another entry: list the account \
                         once, or give one of them another immutableId"
                    ),
                ));
            }
            return Ok(Found::Live(holder));
        }
        if let Some(existing) = by_upn {
            return Ok(Found::Live(existing));
        }
        let deleted = match &ctx.deleted {
            Ok(d) => d,
            Err(reason) => return Ok(Found::DeletedUnknown(reason)),
        };
        let by_anchor = immutable_id.and_then(|id| deleted.by_immutable_id.get(id).copied());
        let by_name = deleted.by_upn.get(key).copied().filter(|d| {
            // The same UPN under another anchor is another person: not restored.
            !matches!((immutable_id, d.immutable_id.as_deref()), (Some(want), Some(had)) if want != had)
        });
        let Some(gone) = by_anchor.or(by_name) else {
            return Ok(Found::Missing);
        };
        if gone.synced {
            return Err((
                Reason::ManagedOnPremises,
                synced::deleted_by_sync_message(upn, &gone.user_principal_name),
            ));
        }
        let old = fold_cow(&gone.user_principal_name);
        if old != key
            && let Some(holder) = ctx.by_upn.get(&*old)
        {
            return Err((
                Reason::RestoreBlocked,
                format!(
                    "{upn} is the soft-deleted user {} (same immutable ID), but {} now holds that \
                     UPN, so it cannot be restored (Graph refuses); rename or remove {}, or give \
                     {upn} another immutableId",
                    gone.user_principal_name,
                    holder.user_principal_name,
                    holder.user_principal_name
                ),
            ));
        }
        Ok(Found::Deleted(gone))
    }

    /// A listed user that exists in the tenant (or is being restored): match (adopt) it and
    /// correct its attributes, renaming it when it was matched by immutable ID under another
    /// UPN. Returns whether it is managed by this plan.
    fn existing(
        &mut self,
        l: &Listing<'a>,
        existing: &'a ObservedUser,
        counts: &mut PlannedCounts,
        out: &mut Out,
    ) -> bool {
        let ctx = self.ctx;
        let (ai, u, primary) = (l.ai, l.u, l.primary);
        let a = &ctx.desired.assignments[ai];
        let owner = Owner::Assignment(ai);
        let upn = u.user_principal_name.as_str();
        let roles = ctx.roles_of(existing);
        if !roles.is_empty() {
            counts.skipped += 1;
            out.finding(
                owner,
                Reason::AdminRoleUser,
                format!(
                    "{upn} holds the directory role(s) {}; administrators are never matched \
                     automatically: manage this account by hand or remove the role first",
                    roles.join(", ")
                ),
                Some(upn),
            );
            return false;
        }
        if !a.spec.adopt_existing && !l.restoring {
            counts.skipped += 1;
            out.finding(
                owner,
                Reason::UserExists,
                format!(
                    "{upn} already exists in the tenant and spec.adoptExisting is false, so it \
                     is left alone; set adoptExisting: true to match it or remove it from the list"
                ),
                Some(upn),
            );
            return false;
        }
        self.outcome.anchored.insert(&existing.id);
        counts.matched += 1;
        let upn_differs = !same_folded(&existing.user_principal_name, upn);
        // A synced user keeps the UPN AD gives it: the difference is reported, not written.
        let renamed = upn_differs && !existing.synced;
        let fallback = || fallback_usage_location(ctx, ai, true);
        let mut diff = diff_user(
            u,
            a.spec.defaults.as_ref(),
            existing,
            l.immutable_id.as_deref(),
            upn_differs,
            fallback,
        );
        let mut mastered = if existing.synced {
            synced::keep_cloud_writable(&mut diff)
        } else {
            Vec::new()
        };
        let UserDiff {
            changes,
            drift,
            disabled_outside_git,
        } = diff;
        for d in drift {
            let target = d.policy.map_or(owner, Owner::Policy);
            out.drift(target, d.field, d.desired, d.observed);
        }
        if disabled_outside_git {
            out.finding(
                owner,
                Reason::DisabledOutsideGit,
                format!(
                    "{upn} is disabled in the tenant and its entry does not set accountEnabled, \
                     so it stays disabled (nothing re-enables an account unless git says so): \
                     set accountEnabled: true to enable it, or accountEnabled: false to record it"
                ),
                Some(upn),
            );
        }
        // The manager git names, when the tenant's differs and it can be written now.
        let mut set_manager = None;
        let all_listed = || self.all_listed();
        match wanted_manager(ctx, all_listed, upn, l.key, u.manager.as_deref()) {
            WantedManager::Unmanaged => {}
            WantedManager::Known(m) if has_manager(existing, m) => {}
            WantedManager::Known(m) => {
                let have = observed_manager(ctx, existing);
                if existing.synced {
                    mastered.push(format!(
                        "manager: git {:?}, AD {have:?}",
                        m.user_principal_name
                    ));
                } else {
                    out.drift(
                        owner,
                        format!("users[{upn}].manager"),
                        m.user_principal_name.clone(),
                        have,
                    );
                    set_manager = Some(m);
                }
            }
            WantedManager::Waiting => {
                let want = u.manager.clone().unwrap_or_default();
                let have = observed_manager(ctx, existing);
                out.drift(owner, format!("users[{upn}].manager"), want, have);
            }
            WantedManager::Invalid(message) => {
                out.finding(owner, Reason::InvalidManager, message, Some(upn));
            }
        }
        if let (Some(explicit), Some(held)) = (&u.immutable_id, &existing.immutable_id)
            && explicit != held
            && existing.synced
        {
            mastered.push(format!(
                "onPremisesImmutableId (the sync's source anchor): git {explicit:?}, AD {held:?}"
            ));
        } else if let (Some(explicit), Some(held)) = (&u.immutable_id, &existing.immutable_id)
            && explicit != held
        {
            out.finding(
                owner,
                Reason::ImmutableIdMismatch,
                format!(
                    "{upn} has onPremisesImmutableId {held:?} in the tenant but the spec says \
                     {explicit:?}; the controller does not change an existing immutable ID: \
                     make the spec match the tenant (your identity provider must send it)"
                ),
                Some(upn),
            );
        }
        if !mastered.is_empty() {
            out.finding(
                owner,
                Reason::ManagedOnPremises,
                synced::mastered_message(&existing.user_principal_name, &mastered),
                Some(upn),
            );
        }
        let enforce = a.mode == Mode::Enforce;
        let mut has_usage_location = existing.usage_location.is_some();
        if changes.is_empty() && set_manager.is_some() {
            if enforce {
                counts.update += 1;
            } else {
                counts.pending += 1;
            }
        }
        if let Some(m) = set_manager
            && enforce
            && primary
        {
            out.push(
                Action::SetManager {
                    id: existing.id.clone(),
                    user_principal_name: if renamed || l.restoring {
                        upn.to_string()
                    } else {
                        existing.user_principal_name.clone()
                    },
                    manager: m.id.clone(),
                    manager_upn: m.user_principal_name.clone(),
                },
                owner,
                None,
            );
        }
        if !changes.is_empty() {
            if enforce {
                counts.update += 1;
                has_usage_location |= changes.usage_location.is_some();
                if changes.immutable_id.is_some() {
                    self.outcome
                        .immutable_ids_set
                        .insert(fold(&existing.user_principal_name));
                }
                if primary {
                    out.push(
                        Action::UpdateUser {
                            id: existing.id.clone(),
                            // Reports name the user as listed (the new UPN of a rename).
                            user_principal_name: if renamed || l.restoring {
                                upn.to_string()
                            } else {
                                existing.user_principal_name.clone()
                            },
                            changes: Box::new(changes),
                        },
                        owner,
                        None,
                    );
                }
            } else {
                counts.pending += 1;
            }
        }
        if primary {
            self.outcome.managed.push(ManagedUser {
                upn: if renamed {
                    upn
                } else {
                    &existing.user_principal_name
                },
                assignment: ai,
                existing: Some(existing),
                has_usage_location,
            });
        }
        true
    }

    /// A listed user found soft-deleted: restore it (Auto, or Manual with an export
    /// requested), then correct it as an existing user; never create it again.
    fn restore(
        &mut self,
        l: &Listing<'a>,
        deleted: &'a ObservedUser,
        counts: &mut PlannedCounts,
        out: &mut Out,
    ) -> Missing {
        let a = &self.ctx.desired.assignments[l.ai];
        let owner = Owner::Assignment(l.ai);
        let upn = l.u.user_principal_name.as_str();
        out.drift(owner, user_field(upn), "present", "deleted");
        if a.spec.provisioning == Provisioning::Manual && !a.export_requested {
            counts.pending += 1;
            return Missing::WaitingForExport;
        }
        if a.mode != Mode::Enforce {
            counts.pending += 1;
            return Missing::Pending;
        }
        if l.primary {
            out.push(
                Action::RestoreUser {
                    id: deleted.id.clone(),
                    user_principal_name: upn.to_string(),
                },
                owner,
                None,
            );
        }
        self.existing(l, deleted, counts, out);
        Missing::Created
    }

    /// A listed user missing from the tenant: create it (Auto, or Manual with an export
    /// requested), or count it pending.
    fn missing(&mut self, l: Listing<'a>, counts: &mut PlannedCounts, out: &mut Out) -> Missing {
        let Listing {
            ai,
            u,
            key,
            immutable_id,
            primary,
            ..
        } = l;
        let ctx = self.ctx;
        let a = &ctx.desired.assignments[ai];
        let owner = Owner::Assignment(ai);
        let upn = u.user_principal_name.as_str();
        out.drift(owner, user_field(upn), "present", "absent");
        // Bound once the user exists (the follow-up pass); a manager naming nobody is said now.
        if let WantedManager::Invalid(message) =
            wanted_manager(ctx, || self.all_listed(), upn, key, u.manager.as_deref())
        {
            out.finding(owner, Reason::InvalidManager, message, Some(upn));
        }
        if a.spec.provisioning == Provisioning::Manual && !a.export_requested {
            counts.pending += 1;
            return Missing::WaitingForExport;
        }
        if a.mode != Mode::Enforce {
            counts.pending += 1;
            return Missing::Pending;
        }
        counts.create += 1;
        if !primary {
            return Missing::Created;
        }
        let fallback = fallback_usage_location(ctx, ai, false).map(|(loc, _)| loc);
        let user = new_user(u, a.spec.defaults.as_ref(), immutable_id, fallback);
        self.outcome.managed.push(ManagedUser {
            upn,
            assignment: ai,
            existing: None,
            has_usage_location: user.usage_location.is_some(),
        });
        out.push(
            Action::CreateUser {
                user: Box::new(user),
            },
            owner,
            None,
        );
        Missing::Created
    }
}

/// One listed user being planned.
struct Listing<'a> {
    ai: usize,
    u: &'a AssignedUser,
    /// Its lower-case UPN.
    key: &'a str,
    /// The immutable ID it carries (explicit, or derived in a federated domain).
    immutable_id: Option<String>,
    /// The first of identical listings (the one whose actions are planned).
    primary: bool,
    /// Found soft-deleted: restored, so `adoptExisting` does not apply.
    restoring: bool,
}

/// Which tenant user a listed user is.
enum Found<'a> {
    Live(&'a ObservedUser),
    Deleted(&'a ObservedUser),
    /// Not live, and deleted users could not be read (reason).
    DeletedUnknown(&'a str),
    Missing,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Missing {
    Created,
    WaitingForExport,
    Pending,
}

/// The usage location of the first covering policy (by object name) that has one. For an
/// existing user (`existing_user`) only an Enforce policy may set it.
pub(crate) fn fallback_usage_location(
    ctx: &Ctx,
    ai: usize,
    existing_user: bool,
) -> Option<(String, usize)> {
    ctx.policies_of[ai].iter().find_map(|&pi| {
        let p = &ctx.desired.policies[pi];
        if existing_user && p.mode != Mode::Enforce {
            return None;
        }
        p.spec.usage_location.clone().map(|l| (l, pi))
    })
}

/// `users[<upn>]`, the drift field of a user's existence.
fn user_field(upn: &str) -> String {
    let mut field = String::with_capacity(upn.len() + 7);
    field.push_str("users[");
    field.push_str(upn);
    field.push(']');
    field
}

/// ` -n <namespace>` for a kubectl command, or nothing.
pub(crate) fn namespace_flag(namespace: &str) -> String {
    if namespace.is_empty() {
        String::new()
    } else {
        format!(" -n {namespace}")
    }
}

fn count(n: usize) -> i32 {
    i32::try_from(n).unwrap_or(i32::MAX)
}
