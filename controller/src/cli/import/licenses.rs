//! LicensePolicies inferred from direct license assignments: users grouped by the exact set of
//! SKUs they hold directly, with the service plans disabled in each; one policy per group.
//! Licenses inherited from a group are not direct assignments and make no policy (the
//! controller never touches them).

use std::collections::{BTreeMap, BTreeSet};

use crate::api::License;
use crate::model::{ObservedSku, ObservedUser};

/// The label an imported AppAssignment carries to name the policy that covers it.
pub const POLICY_LABEL: &str = "o365-controller.io/licenses";

/// A user's direct licenses: (SKU id, sorted disabled plan ids), all lower case, sorted.
pub type Signature = Vec<(String, Vec<String>)>;

/// One inferred policy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Inferred {
    /// Object name, also the value of [`POLICY_LABEL`]: at most 63 characters.
    pub name: String,
    /// The licenses, by part number (by id when two SKUs share a part number).
    pub licenses: Vec<License>,
    /// How many users hold exactly this.
    pub users: usize,
    /// "ENTERPRISEPACK without EXCHANGE_S_STANDARD + EMS".
    pub description: String,
}

/// The policies for a set of users, and each user's policy.
#[derive(Debug, Default)]
pub struct Inference {
    pub policies: Vec<Inferred>,
    /// User id → index in `policies`.
    pub of_user: BTreeMap<String, usize>,
    /// What could not be expressed (a SKU the tenant does not subscribe to, a disabled plan
    /// its SKU does not list): the user keeps it, but no policy says so.
    pub warnings: Vec<String>,
}

/// Infers policies for `users`. `taken`: names a policy may not get (the controller's license
/// groups of the tenant name policies; a Direct policy of that name would drain its group).
pub fn infer(users: &[&ObservedUser], skus: &[ObservedSku], taken: &BTreeSet<String>) -> Inference {
    let mut inference = Inference::default();
    let mut groups: BTreeMap<Signature, Vec<&str>> = BTreeMap::new();
    for u in users {
        let signature = signature(u, skus, &mut inference.warnings);
        if !signature.is_empty() {
            groups.entry(signature).or_default().push(u.id.as_str());
        }
    }
    // Most users first: the largest group gets the plainest name.
    let mut ordered: Vec<(Signature, Vec<&str>)> = groups.into_iter().collect();
    ordered.sort_by(|a, b| b.1.len().cmp(&a.1.len()).then_with(|| a.0.cmp(&b.0)));
    let mut names: BTreeSet<String> = taken.clone();
    for (signature, ids) in ordered {
        let name = unique(&candidate(&signature, skus), &mut names);
        let index = inference.policies.len();
        inference.policies.push(Inferred {
            name,
            licenses: signature.iter().map(|(s, p)| license(s, p, skus)).collect(),
            users: ids.len(),
            description: describe(&signature, skus),
        });
        for id in ids {
            inference.of_user.insert(id.to_string(), index);
        }
    }
    inference
}

/// The direct licenses of `u` the API can name; the others are warned about.
fn signature(u: &ObservedUser, skus: &[ObservedSku], warnings: &mut Vec<String>) -> Signature {
    let mut out: Signature = Vec::new();
    for l in u.licenses.iter().filter(|l| l.direct) {
        let Some(sku) = skus
            .iter()
            .find(|s| s.sku_id.eq_ignore_ascii_case(&l.sku_id))
        else {
            warnings.push(format!(
                "{}: holds SKU {} directly, which the tenant does not subscribe to; no policy \
                 can name it, so it is left as it is",
                u.user_principal_name, l.sku_id
            ));
            continue;
        };
        let mut plans: Vec<String> = Vec::new();
        for p in &l.disabled_plans {
            if sku
                .service_plans
                .iter()
                .any(|(id, _)| id.eq_ignore_ascii_case(p))
            {
                plans.push(p.to_ascii_lowercase());
            } else {
                warnings.push(format!(
                    "{}: {} has service plan {p} disabled, which the SKU does not list; no \
                     policy can name it, so the policy grants {} without disabling it (the \
                     plan would enable it)",
                    u.user_principal_name, sku.sku_part_number, sku.sku_part_number
                ));
            }
        }
        plans.sort();
        plans.dedup();
        out.push((sku.sku_id.to_ascii_lowercase(), plans));
    }
    out.sort();
    out.dedup_by(|a, b| a.0 == b.0);
    out
}

fn sku<'s>(id: &str, skus: &'s [ObservedSku]) -> Option<&'s ObservedSku> {
    skus.iter().find(|s| s.sku_id.eq_ignore_ascii_case(id))
}

fn plan_name(sku: Option<&ObservedSku>, id: &str) -> String {
    sku.and_then(|s| {
        s.service_plans
            .iter()
            .find(|(pid, _)| pid.eq_ignore_ascii_case(id))
            .map(|(_, n)| n.clone())
    })
    .unwrap_or_else(|| id.to_string())
}

fn part_number(id: &str, skus: &[ObservedSku]) -> String {
    sku(id, skus).map_or_else(|| id.to_string(), |s| s.sku_part_number.clone())
}

fn license(id: &str, plans: &[String], skus: &[ObservedSku]) -> License {
    let s = sku(id, skus);
    let part = s.map(|s| s.sku_part_number.as_str()).unwrap_or_default();
    let shared = skus
        .iter()
        .filter(|o| o.sku_part_number.eq_ignore_ascii_case(part))
        .count();
    let mut disabled: Vec<String> = plans.iter().map(|p| plan_name(s, p)).collect();
    disabled.sort();
    License {
        sku_part_number: (shared == 1).then(|| part.to_string()),
        sku_id: (shared != 1).then(|| id.to_string()),
        disabled_plans: disabled,
    }
}

/// "ENTERPRISEPACK without EXCHANGE_S_STANDARD + EMS".
pub fn describe(signature: &Signature, skus: &[ObservedSku]) -> String {
    signature
        .iter()
        .map(|(id, plans)| {
            let part = part_number(id, skus);
            if plans.is_empty() {
                part
            } else {
                let s = sku(id, skus);
                let mut names: Vec<String> = plans.iter().map(|p| plan_name(s, p)).collect();
                names.sort();
                format!("{part} without {}", names.join(", "))
            }
        })
        .collect::<Vec<_>>()
        .join(" + ")
}

/// A name a person can read: the part numbers, and the one disabled plan when there is one.
fn candidate(signature: &Signature, skus: &[ObservedSku]) -> String {
    let mut base = signature
        .iter()
        .map(|(id, _)| slug(&part_number(id, skus)))
        .collect::<Vec<_>>()
        .join("-");
    let disabled: Vec<String> = signature
        .iter()
        .flat_map(|(id, plans)| plans.iter().map(|p| slug(&plan_name(sku(id, skus), p))))
        .collect();
    match disabled.as_slice() {
        [] => {}
        [one] => base = format!("{base}-no-{one}"),
        _ => base = format!("{base}-custom"),
    }
    truncate(base, 56)
}

/// `text` as a Kubernetes name part: lower case, `[a-z0-9-]`, no leading, trailing or double dash.
fn slug(text: &str) -> String {
    let mut out = String::new();
    for c in text.chars() {
        let c = c.to_ascii_lowercase();
        if c.is_ascii_alphanumeric() {
            out.push(c);
        } else if !out.ends_with('-') && !out.is_empty() {
            out.push('-');
        }
    }
    out.trim_end_matches('-').to_string()
}

fn truncate(mut s: String, max: usize) -> String {
    s.truncate(max);
    let s = s.trim_end_matches('-').to_string();
    if s.is_empty() { "licenses".into() } else { s }
}

/// `base`, or `base-2`, `base-3`… the first not in `names`; recorded there.
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::ObservedLicense;

    const E3: &str = "6fd2c87f-b296-42f0-b197-1e91e994b900";
    const EMS: &str = "efccb6f7-5641-4e0e-bd10-b4976e1bf68e";
    const EXO: &str = "efb87545-963c-4e0d-99df-69c6916d9eb0";
    const YAMMER: &str = "7547a3fe-08ee-4ccb-b430-5077c5041653";

    fn skus() -> Vec<ObservedSku> {
        vec![
            ObservedSku {
                sku_id: E3.into(),
                sku_part_number: "ENTERPRISEPACK".into(),
                service_plans: vec![
                    (EXO.into(), "EXCHANGE_S_ENTERPRISE".into()),
                    (YAMMER.into(), "YAMMER_ENTERPRISE".into()),
                ],
                ..ObservedSku::default()
            },
            ObservedSku {
                sku_id: EMS.into(),
                sku_part_number: "EMS".into(),
                ..ObservedSku::default()
            },
        ]
    }

    fn user(id: &str, licenses: &[(&str, &[&str], bool)]) -> ObservedUser {
        ObservedUser {
            id: id.into(),
            user_principal_name: format!("{id}@corp.example.com"),
            licenses: licenses
                .iter()
                .map(|(sku, plans, direct)| {
                    let plans = plans.iter().map(|p| p.to_string()).collect();
                    if *direct {
                        ObservedLicense::direct(sku, plans)
                    } else {
                        let mut l = ObservedLicense::inherited(sku, vec!["g".into()]);
                        l.disabled_plans = plans;
                        l
                    }
                })
                .collect(),
            ..ObservedUser::default()
        }
    }

    #[test]
    fn users_are_grouped_by_exact_sku_set_and_disabled_plans() {
        let users = [
            user("a", &[(E3, &[], true)]),
            user("b", &[(E3, &[], true)]),
            user("c", &[(E3, &[YAMMER], true)]),
            user("d", &[(E3, &[YAMMER], true), (EMS, &[], true)]),
            user("e", &[(E3, &[YAMMER, EXO], true)]),
            user("f", &[]),
        ];
        let refs: Vec<&ObservedUser> = users.iter().collect();
        let inf = infer(&refs, &skus(), &BTreeSet::new());
        let names: Vec<&str> = inf.policies.iter().map(|p| p.name.as_str()).collect();
        assert_eq!(
            names,
            [
                "enterprisepack",
                "enterprisepack-no-yammer-enterprise",
                "enterprisepack-ems-no-yammer-enterprise",
                "enterprisepack-custom"
            ]
        );
        assert_eq!(inf.policies[0].users, 2);
        assert_eq!(
            inf.policies[3].description,
            "ENTERPRISEPACK without EXCHANGE_S_ENTERPRISE, YAMMER_ENTERPRISE"
        );
        assert_eq!(
            inf.policies[2].licenses[0].disabled_plans,
            vec!["YAMMER_ENTERPRISE".to_string()]
        );
        assert_eq!(inf.of_user["a"], 0);
        assert_eq!(inf.of_user["d"], 2);
        assert!(!inf.of_user.contains_key("f"));
        assert!(inf.warnings.is_empty());
    }

    #[test]
    fn group_inherited_licenses_make_no_policy() {
        let users = [
            user("g", &[(EMS, &[], false)]),
            user("h", &[(E3, &[], true), (EMS, &[], false)]),
        ];
        let refs: Vec<&ObservedUser> = users.iter().collect();
        let inf = infer(&refs, &skus(), &BTreeSet::new());
        assert_eq!(inf.policies.len(), 1);
        assert_eq!(inf.policies[0].description, "ENTERPRISEPACK");
        assert!(!inf.of_user.contains_key("g"));
    }

    #[test]
    fn names_avoid_taken_ones_and_unknown_skus_are_warned_about() {
        let users = [user("a", &[(E3, &[], true), ("0000", &[], true)])];
        let refs: Vec<&ObservedUser> = users.iter().collect();
        let taken = BTreeSet::from(["enterprisepack".to_string()]);
        let inf = infer(&refs, &skus(), &taken);
        assert_eq!(inf.policies[0].name, "enterprisepack-2");
        assert_eq!(inf.warnings.len(), 1, "{:?}", inf.warnings);
        assert_eq!(slug("SPE_E5 (x)"), "spe-e5-x");
        assert!(candidate(&vec![(E3.into(), vec![]); 9], &skus()).len() <= 56);
    }
}
