//! JSON renderings of the model, as Graph returns them.

use serde_json::{Map, Value, json};

use crate::model::{Domain, Federation, Group, Sku, Tenant, User};

/// The properties `GET /users` returns without `$select`.
pub const USER_DEFAULT_PROPERTIES: &[&str] = &[
    "businessPhones",
    "displayName",
    "givenName",
    "jobTitle",
    "mail",
    "mobilePhone",
    "officeLocation",
    "preferredLanguage",
    "surname",
    "userPrincipalName",
    "id",
];

/// Every structural property of `microsoft.graph.user` (and `directoryObject`/`entity`) in the
/// official CSDL. Selecting a name outside this list is a 400, as in Graph.
pub const USER_SCHEMA_PROPERTIES: &[&str] = &[
    "id",
    "deletedDateTime",
    "aboutMe",
    "accountEnabled",
    "ageGroup",
    "assignedLicenses",
    "assignedPlans",
    "authorizationInfo",
    "birthday",
    "businessPhones",
    "city",
    "companyName",
    "consentProvidedForMinor",
    "country",
    "createdDateTime",
    "creationType",
    "customSecurityAttributes",
    "department",
    "deviceEnrollmentLimit",
    "displayName",
    "employeeHireDate",
    "employeeId",
    "employeeLeaveDateTime",
    "employeeOrgData",
    "employeeType",
    "externalUserState",
    "externalUserStateChangeDateTime",
    "faxNumber",
    "givenName",
    "hireDate",
    "identities",
    "identityParentId",
    "imAddresses",
    "interests",
    "isManagementRestricted",
    "isResourceAccount",
    "jobTitle",
    "lastPasswordChangeDateTime",
    "legalAgeGroupClassification",
    "licenseAssignmentStates",
    "mail",
    "mailboxSettings",
    "mailNickname",
    "mobilePhone",
    "mySite",
    "officeLocation",
    "onPremisesDistinguishedName",
    "onPremisesDomainName",
    "onPremisesExtensionAttributes",
    "onPremisesImmutableId",
    "onPremisesLastSyncDateTime",
    "onPremisesProvisioningErrors",
    "onPremisesSamAccountName",
    "onPremisesSecurityIdentifier",
    "onPremisesSyncEnabled",
    "onPremisesUserPrincipalName",
    "otherMails",
    "passwordPolicies",
    "passwordProfile",
    "pastProjects",
    "postalCode",
    "preferredDataLocation",
    "preferredLanguage",
    "preferredName",
    "print",
    "provisionedPlans",
    "proxyAddresses",
    "responsibilities",
    "schools",
    "securityIdentifier",
    "serviceProvisioningErrors",
    "showInAddressList",
    "signInActivity",
    "signInSessionsValidFromDateTime",
    "skills",
    "state",
    "streetAddress",
    "surname",
    "usageLocation",
    "userPrincipalName",
    "userType",
];

/// Simple string properties a client may set with POST/PATCH and that are kept in `User::extra`.
pub const USER_EXTRA_PROPERTIES: &[&str] = &[
    "jobTitle",
    "department",
    "companyName",
    "city",
    "country",
    "state",
    "streetAddress",
    "postalCode",
    "officeLocation",
    "mobilePhone",
    "preferredLanguage",
    "employeeId",
    "employeeType",
    "faxNumber",
    "passwordPolicies",
];

/// `onPremisesExtensionAttributes`: kept in `User::extra` as an object of the attributes set.
pub const EXTENSION_ATTRIBUTES: &str = "onPremisesExtensionAttributes";

/// The 15 `extensionAttributeN` of a user, `null` when unset (as Graph returns them).
pub fn extension_attributes(u: &User) -> Map<String, Value> {
    let set = u.extra.get(EXTENSION_ATTRIBUTES).and_then(Value::as_object);
    (1..=15)
        .map(|n| {
            let key = format!("extensionAttribute{n}");
            let value = set
                .and_then(|m| m.get(&key))
                .cloned()
                .unwrap_or(Value::Null);
            (key, value)
        })
        .collect()
}

fn opt(v: &Option<String>) -> Value {
    v.as_ref().map_or(Value::Null, |s| Value::String(s.clone()))
}

/// Every property the simulator models for a user. Used for `$select` and change tracking.
pub fn user_full(u: &User) -> Map<String, Value> {
    let mut m = Map::new();
    m.insert("id".into(), json!(u.id));
    m.insert("businessPhones".into(), json!([]));
    m.insert("displayName".into(), json!(u.display_name));
    m.insert("givenName".into(), opt(&u.given_name));
    m.insert("surname".into(), opt(&u.surname));
    m.insert("userPrincipalName".into(), json!(u.user_principal_name));
    m.insert("mail".into(), opt(&u.mail));
    m.insert("mailNickname".into(), json!(u.mail_nickname));
    m.insert("accountEnabled".into(), json!(u.account_enabled));
    m.insert(
        "onPremisesImmutableId".into(),
        opt(&u.on_premises_immutable_id),
    );
    m.insert("usageLocation".into(), opt(&u.usage_location));
    m.insert("userType".into(), json!("Member"));
    m.insert("createdDateTime".into(), opt(&u.created_date_time));
    m.insert("deletedDateTime".into(), opt(&u.deleted_date_time));
    // The `manager` relationship (the manager's id), for change tracking and delta's
    // `manager@delta`; `$select` on users refuses it (it is not a structural property).
    m.insert("manager".into(), opt(&u.manager));
    m.insert("passwordProfile".into(), Value::Null);
    // null for a cloud-only user (never synced), true for a synced one.
    m.insert(
        "onPremisesSyncEnabled".into(),
        if u.on_premises_sync_enabled {
            json!(true)
        } else {
            Value::Null
        },
    );
    m.insert(
        "onPremisesLastSyncDateTime".into(),
        opt(&u.on_premises_last_sync_date_time),
    );
    m.insert(
        "onPremisesDomainName".into(),
        opt(&u.on_premises_domain_name),
    );
    m.insert(
        "onPremisesSamAccountName".into(),
        opt(&u.on_premises_sam_account_name),
    );
    m.insert("proxyAddresses".into(), json!([]));
    m.insert("otherMails".into(), json!([]));
    // Non-nullable in the schema; the simulator does not model them.
    m.insert("assignedPlans".into(), json!([]));
    m.insert("provisionedPlans".into(), json!([]));
    m.insert("hireDate".into(), json!("0001-01-01T00:00:00Z"));
    m.insert("birthday".into(), json!("0001-01-01T00:00:00Z"));
    m.insert("deviceEnrollmentLimit".into(), json!(5));
    for key in USER_EXTRA_PROPERTIES {
        m.insert((*key).into(), Value::Null);
    }
    for (k, v) in &u.extra {
        m.insert(k.clone(), v.clone());
    }
    m.insert(
        EXTENSION_ATTRIBUTES.into(),
        Value::Object(extension_attributes(u)),
    );
    m.insert(
        "assignedLicenses".into(),
        Value::Array(assigned_licenses(u)),
    );
    m.insert(
        "licenseAssignmentStates".into(),
        Value::Array(license_assignment_states(u)),
    );
    m
}

/// `assignedLicenses`: direct and group-inherited licences, one entry per SKU.
pub fn assigned_licenses(u: &User) -> Vec<Value> {
    let mut out: Vec<Value> = Vec::new();
    let mut seen: Vec<&str> = Vec::new();
    let direct = u.licenses.iter().map(|l| (&l.sku, &l.disabled_plans));
    let group = u
        .group_licenses
        .iter()
        .filter(|l| l.is_active())
        .map(|l| (&l.sku, &l.disabled_plans));
    for (sku, plans) in direct.chain(group) {
        if seen.contains(&sku.as_str()) {
            continue;
        }
        seen.push(sku);
        out.push(json!({"disabledPlans": plans, "skuId": sku}));
    }
    out
}

fn license_assignment_states(u: &User) -> Vec<Value> {
    let direct = u.licenses.iter().map(|l| {
        json!({"assignedByGroup": null, "disabledPlans": l.disabled_plans, "error": "None",
               "lastUpdatedDateTime": u.created_date_time, "skuId": l.sku, "state": "Active"})
    });
    let group = u.group_licenses.iter().map(|l| {
        json!({"assignedByGroup": l.group_id, "disabledPlans": l.disabled_plans,
               "error": l.error.as_deref().unwrap_or("None"),
               "lastUpdatedDateTime": u.created_date_time, "skuId": l.sku,
               "state": l.state.as_deref().unwrap_or("Active")})
    });
    direct.chain(group).collect()
}

/// The user with the selected properties (or the default set). Unknown-but-valid schema
/// properties are returned as `null`.
pub fn user_selected(u: &User, select: Option<&[String]>) -> Value {
    let full = user_full(u);
    let mut m = Map::new();
    match select {
        Some(props) => {
            for p in props {
                m.insert(p.clone(), full.get(p).cloned().unwrap_or(Value::Null));
            }
            if !m.contains_key("id") {
                // Graph always returns the key of an entity in a collection.
                m.insert("id".into(), json!(u.id));
            }
        }
        None => {
            for p in USER_DEFAULT_PROPERTIES {
                m.insert((*p).into(), full.get(*p).cloned().unwrap_or(Value::Null));
            }
        }
    }
    Value::Object(m)
}

pub fn domain(d: &Domain) -> Value {
    let federated = d.authentication_type == "Federated";
    let validity = if federated {
        Value::Null
    } else {
        json!(d.password_validity_period_in_days.unwrap_or(90))
    };
    let window = if federated {
        Value::Null
    } else {
        json!(d.password_notification_window_in_days.unwrap_or(14))
    };
    json!({
        "authenticationType": d.authentication_type,
        "availabilityStatus": null,
        "id": d.id,
        "isAdminManaged": d.is_admin_managed,
        "isDefault": d.is_default,
        "isInitial": d.is_initial,
        "isRoot": d.is_root.unwrap_or(d.is_verified),
        "isVerified": d.is_verified,
        "manufacturer": null,
        "model": null,
        "passwordNotificationWindowInDays": window,
        "passwordValidityPeriodInDays": validity,
        "supportedServices": d.supported_services,
        "state": null,
    })
}

const FEDERATION_PROPERTIES: &[&str] = &[
    "id",
    "displayName",
    "issuerUri",
    "metadataExchangeUri",
    "passiveSignInUri",
    "preferredAuthenticationProtocol",
    "signingCertificate",
    "activeSignInUri",
    "federatedIdpMfaBehavior",
    "isSignedAuthenticationRequestRequired",
    "nextSigningCertificate",
    "passwordResetUri",
    "promptLoginBehavior",
    "signOutUri",
    "signingCertificateUpdateStatus",
];

pub fn federation(f: &Federation) -> Value {
    let mut m = match serde_json::to_value(f) {
        Ok(Value::Object(m)) => m,
        _ => Map::new(),
    };
    for p in FEDERATION_PROPERTIES {
        m.entry(*p).or_insert(Value::Null);
    }
    let mut out = Map::new();
    out.insert(
        "@odata.type".into(),
        json!("#microsoft.graph.internalDomainFederation"),
    );
    out.extend(m);
    Value::Object(out)
}

pub fn sku(tenant: &Tenant, s: &Sku, consumed: i32) -> Value {
    let plans: Vec<Value> = s
        .service_plans
        .iter()
        .map(|p| {
            json!({"servicePlanId": p.service_plan_id, "servicePlanName": p.service_plan_name,
                   "provisioningStatus": "Success", "appliesTo": p.applies_to})
        })
        .collect();
    json!({
        "accountName": tenant.display_name,
        "accountId": tenant.id,
        "appliesTo": s.applies_to,
        "capabilityStatus": s.capability_status,
        "consumedUnits": consumed,
        "id": format!("{}_{}", tenant.id, s.sku_id),
        "prepaidUnits": {"enabled": s.enabled, "lockedOut": s.locked_out,
                         "suspended": s.suspended, "warning": s.warning},
        "servicePlans": plans,
        "skuId": s.sku_id,
        "skuPartNumber": s.sku_part_number,
        "subscriptionIds": s.subscription_ids,
    })
}

/// Applies `$select` to an arbitrary object (keeps only the named keys).
pub fn select_keys(v: Value, select: Option<&[String]>) -> Value {
    match (v, select) {
        (Value::Object(m), Some(props)) => {
            let mut out = Map::new();
            for p in props {
                out.insert(p.clone(), m.get(p).cloned().unwrap_or(Value::Null));
            }
            Value::Object(out)
        }
        (v, _) => v,
    }
}

/// The properties `GET /groups` returns without `$select` (`assignedLicenses`,
/// `hasMembersWithLicenseErrors` and `licenseProcessingState` are "returned only on $select").
pub const GROUP_DEFAULT_PROPERTIES: &[&str] = &[
    "id",
    "deletedDateTime",
    "classification",
    "createdDateTime",
    "description",
    "displayName",
    "expirationDateTime",
    "groupTypes",
    "isAssignableToRole",
    "mail",
    "mailEnabled",
    "mailNickname",
    "membershipRule",
    "membershipRuleProcessingState",
    "onPremisesDomainName",
    "onPremisesLastSyncDateTime",
    "onPremisesNetBiosName",
    "onPremisesSamAccountName",
    "onPremisesSecurityIdentifier",
    "onPremisesSyncEnabled",
    "preferredDataLocation",
    "preferredLanguage",
    "proxyAddresses",
    "renewedDateTime",
    "securityEnabled",
    "securityIdentifier",
    "theme",
    "visibility",
    "onPremisesProvisioningErrors",
    "serviceProvisioningErrors",
];

/// Every property the simulator models for a group. `processing`: licence processing queued.
pub fn group_full(g: &Group, has_errors: bool, processing: bool) -> Map<String, Value> {
    let mut m = Map::new();
    for p in GROUP_DEFAULT_PROPERTIES {
        m.insert((*p).into(), Value::Null);
    }
    m.insert("id".into(), json!(g.id));
    m.insert("createdDateTime".into(), json!(g.created_date_time));
    m.insert("renewedDateTime".into(), json!(g.created_date_time));
    m.insert("description".into(), json!(g.description));
    m.insert("displayName".into(), json!(g.display_name));
    m.insert("groupTypes".into(), json!([]));
    m.insert("mailEnabled".into(), json!(false));
    m.insert("mailNickname".into(), json!(g.mail_nickname));
    m.insert("proxyAddresses".into(), json!([]));
    m.insert("securityEnabled".into(), json!(true));
    m.insert(
        "securityIdentifier".into(),
        json!(format!("S-1-12-1-{}", sid_parts(&g.id))),
    );
    m.insert("onPremisesProvisioningErrors".into(), json!([]));
    m.insert("serviceProvisioningErrors".into(), json!([]));
    m.insert(
        "assignedLicenses".into(),
        Value::Array(
            g.licenses
                .iter()
                .map(|l| json!({"disabledPlans": l.disabled_plans, "skuId": l.sku}))
                .collect(),
        ),
    );
    m.insert("hasMembersWithLicenseErrors".into(), json!(has_errors));
    let state = if processing {
        "QueuedForProcessing"
    } else {
        "ProcessingComplete"
    };
    m.insert("licenseProcessingState".into(), json!({"state": state}));
    m
}

/// The four 32-bit words of a GUID, as in a cloud group's security identifier.
fn sid_parts(id: &str) -> String {
    let Ok(u) = uuid::Uuid::parse_str(id) else {
        return "0-0-0-0".into();
    };
    let b = u.to_bytes_le();
    b.chunks(4)
        .map(|c| u32::from_le_bytes([c[0], c[1], c[2], c[3]]).to_string())
        .collect::<Vec<_>>()
        .join("-")
}

/// A group with the selected properties (or the default set).
pub fn group_selected(full: &Map<String, Value>, select: Option<&[String]>) -> Value {
    let mut m = Map::new();
    match select {
        Some(props) => {
            for p in props {
                m.insert(p.clone(), full.get(p).cloned().unwrap_or(Value::Null));
            }
            if !m.contains_key("id") {
                m.insert("id".into(), full.get("id").cloned().unwrap_or(Value::Null));
            }
        }
        None => {
            for p in GROUP_DEFAULT_PROPERTIES {
                m.insert((*p).into(), full.get(*p).cloned().unwrap_or(Value::Null));
            }
        }
    }
    Value::Object(m)
}
