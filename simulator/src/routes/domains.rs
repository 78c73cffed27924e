//! `/domains` and `/domains/{id}/federationConfiguration`.

use serde_json::{Map, Value, json};

use super::{GraphRequest, GraphResponse, GraphResult, context};
use crate::Shared;
use crate::error::GraphError;
use crate::model::{Domain, Federation, SigningCertificateUpdateStatus};
use crate::render;
use crate::state::TenantState;

pub fn list(sh: &Shared, req: &GraphRequest) -> GraphResult {
    let select = req.query.select();
    let st = crate::lock(&sh.state);
    let value: Vec<Value> = st
        .domains
        .iter()
        .map(|d| render::select_keys(render::domain(d), select.as_deref()))
        .collect();
    drop(st);
    Ok(GraphResponse::ok(
        json!({"@odata.context": context(sh, "domains"), "value": value}),
    ))
}

fn find<'a>(st: &'a TenantState, id: &str) -> Result<&'a Domain, GraphError> {
    st.domain(id).ok_or_else(|| GraphError::not_found(id))
}

pub fn get(sh: &Shared, req: &GraphRequest, id: &str) -> GraphResult {
    let select = req.query.select();
    let st = crate::lock(&sh.state);
    let d = render::select_keys(render::domain(find(&st, id)?), select.as_deref());
    drop(st);
    let mut out = Map::new();
    out.insert(
        "@odata.context".into(),
        json!(context(sh, "domains/$entity")),
    );
    if let Value::Object(m) = d {
        out.extend(m);
    }
    Ok(GraphResponse::ok(Value::Object(out)))
}

fn int_field(body: &Map<String, Value>, key: &str) -> Result<Option<Option<i32>>, GraphError> {
    match body.get(key) {
        None => Ok(None),
        Some(Value::Null) => Ok(Some(None)),
        Some(v) => v
            .as_i64()
            .and_then(|n| i32::try_from(n).ok())
            .map(|n| Some(Some(n)))
            .ok_or_else(|| invalid_domain_value(key)),
    }
}

fn invalid_domain_value(key: &str) -> GraphError {
    GraphError::bad_request(format!(
        "Invalid value specified for property '{key}' of resource 'Domain'."
    ))
}

pub fn update(sh: &Shared, req: &GraphRequest, id: &str) -> GraphResult {
    let body = req.object()?;
    let mut st = crate::lock(&sh.state);
    let current = find(&st, id)?.clone();
    if !current.is_verified {
        // Invented message; the doc says "Only verified domains can be updated."
        return Err(GraphError::bad_request(
            "Only verified domains can be updated.",
        ));
    }
    let mut next = current.clone();
    if let Some(v) = body.get("authenticationType") {
        match v.as_str() {
            Some(t) if t.eq_ignore_ascii_case("Managed") => {
                next.authentication_type = "Managed".into();
                next.federation = None;
            }
            Some(t) if t.eq_ignore_ascii_case("Federated") => {
                if current.authentication_type != "Federated" {
                    return Err(GraphError::bad_request(
                        "Changing authenticationType from Managed to Federated is currently not supported.",
                    ));
                }
            }
            _ => return Err(invalid_domain_value("authenticationType")),
        }
    }
    let make_default = match body.get("isDefault") {
        None => false,
        Some(Value::Bool(b)) => {
            if !*b && current.is_default {
                // Invented message: a tenant always has one default domain.
                return Err(GraphError::bad_request(
                    "The default domain cannot be unset. Set another domain as the default instead.",
                ));
            }
            *b && !current.is_default
        }
        Some(_) => return Err(invalid_domain_value("isDefault")),
    };
    if make_default && next.authentication_type == "Federated" {
        // Wording from the docs rule "must be Managed to be set as the default".
        return Err(GraphError::bad_request(
            "The domain authentication type must be Managed to be set as the default.",
        ));
    }
    if let Some(v) = int_field(body, "passwordValidityPeriodInDays")? {
        next.password_validity_period_in_days = v;
    }
    if let Some(v) = int_field(body, "passwordNotificationWindowInDays")? {
        next.password_notification_window_in_days = v;
    }
    if let Some(v) = body.get("supportedServices") {
        let list = v
            .as_array()
            .and_then(|a| {
                a.iter()
                    .map(|s| s.as_str().map(str::to_string))
                    .collect::<Option<Vec<_>>>()
            })
            .ok_or_else(|| invalid_domain_value("supportedServices"))?;
        next.supported_services = list;
    }
    if make_default {
        for d in &mut st.domains {
            d.is_default = false;
        }
        next.is_default = true;
    }
    if let Some(d) = st.domain_mut(id) {
        *d = next;
    }
    Ok(GraphResponse::no_content())
}

fn federation_context(sh: &Shared, domain: &str, entity: bool) -> String {
    let suffix = if entity { "/$entity" } else { "" };
    context(
        sh,
        &format!("domains('{domain}')/federationConfiguration{suffix}"),
    )
}

fn no_federation() -> GraphError {
    GraphError::not_found("federationConfiguration")
}

pub fn list_federation(sh: &Shared, id: &str) -> GraphResult {
    let st = crate::lock(&sh.state);
    let d = find(&st, id)?;
    let fed = d.federation.as_ref().ok_or_else(no_federation)?;
    let value = vec![render::federation(fed)];
    let domain = d.id.clone();
    drop(st);
    Ok(GraphResponse::ok(json!({
        "@odata.context": federation_context(sh, &domain, false),
        "value": value,
    })))
}

fn with_context(ctx: String, v: Value) -> Value {
    let mut out = Map::new();
    out.insert("@odata.context".into(), json!(ctx));
    if let Value::Object(m) = v {
        out.extend(m);
    }
    Value::Object(out)
}

pub fn get_federation(sh: &Shared, id: &str, fid: &str) -> GraphResult {
    let st = crate::lock(&sh.state);
    let d = find(&st, id)?;
    let fed = d
        .federation
        .as_ref()
        .filter(|f| f.id.eq_ignore_ascii_case(fid))
        .ok_or_else(|| GraphError::not_found(fid))?;
    let v = render::federation(fed);
    let domain = d.id.clone();
    drop(st);
    Ok(GraphResponse::ok(with_context(
        federation_context(sh, &domain, true),
        v,
    )))
}

const ENUMS: &[(&str, &str, &[&str])] = &[
    (
        "preferredAuthenticationProtocol",
        "authenticationProtocol",
        &["wsFed", "saml"],
    ),
    (
        "promptLoginBehavior",
        "promptLoginBehavior",
        &[
            "translateToFreshPasswordAuthentication",
            "nativeSupport",
            "disabled",
        ],
    ),
    (
        "federatedIdpMfaBehavior",
        "federatedIdpMfaBehavior",
        &[
            "acceptIfMfaDoneByFederatedIdp",
            "enforceMfaByFederatedIdp",
            "rejectMfaByFederatedIdp",
        ],
    ),
];

const STRINGS: &[&str] = &[
    "displayName",
    "issuerUri",
    "metadataExchangeUri",
    "passiveSignInUri",
    "signingCertificate",
    "activeSignInUri",
    "nextSigningCertificate",
    "passwordResetUri",
    "signOutUri",
];

/// Merges a request body into a federation configuration, validating types and enums.
fn apply_federation(fed: &mut Federation, body: &Map<String, Value>) -> Result<(), GraphError> {
    let mut m = match serde_json::to_value(&*fed) {
        Ok(Value::Object(m)) => m,
        _ => Map::new(),
    };
    for (key, value) in body {
        if key == "@odata.type" || key == "id" || key == "signingCertificateUpdateStatus" {
            continue;
        }
        if let Some((_, ty, members)) = ENUMS.iter().find(|(k, _, _)| k == key) {
            match value {
                Value::Null => {}
                Value::String(s) if members.contains(&s.as_str()) => {}
                other => {
                    return Err(GraphError::bad_request(format!(
                        "Cannot convert the literal '{}' to the expected type 'microsoft.graph.{ty}'.",
                        other
                            .as_str()
                            .map_or_else(|| other.to_string(), str::to_string)
                    )));
                }
            }
        } else if STRINGS.contains(&key.as_str()) {
            if !(value.is_string() || value.is_null()) {
                return Err(GraphError::bad_request(format!(
                    "Invalid value specified for property '{key}' of resource 'InternalDomainFederation'."
                )));
            }
        } else if key == "isSignedAuthenticationRequestRequired" {
            if !(value.is_boolean() || value.is_null()) {
                return Err(GraphError::bad_request(format!(
                    "Invalid value specified for property '{key}' of resource 'InternalDomainFederation'."
                )));
            }
        } else {
            return Err(GraphError::bad_request(format!(
                "Property '{key}' does not exist on type 'microsoft.graph.internalDomainFederation'."
            )));
        }
        if value.is_null() {
            m.remove(key);
        } else {
            m.insert(key.clone(), value.clone());
        }
    }
    *fed = serde_json::from_value(Value::Object(m))
        .map_err(|e| GraphError::bad_request(e.to_string()))?;
    Ok(())
}

pub fn create_federation(sh: &Shared, req: &GraphRequest, id: &str) -> GraphResult {
    let body = req.object()?;
    let mut st = crate::lock(&sh.state);
    let d = find(&st, id)?.clone();
    // The refusals below use invented messages (no captured Graph text exists; see README).
    if d.is_initial {
        return Err(GraphError::bad_request(format!(
            "Federation cannot be configured for the initial domain '{}'.",
            d.id
        )));
    }
    if d.is_default {
        return Err(GraphError::bad_request(format!(
            "Federation cannot be configured for the default domain '{}'. Set another domain as the default first.",
            d.id
        )));
    }
    if !d.is_verified {
        return Err(GraphError::bad_request(format!(
            "Federation cannot be configured for the unverified domain '{}'. Verify the domain first.",
            d.id
        )));
    }
    if d.federation.is_some() {
        return Err(GraphError::bad_request(format!(
            "Domain '{}' already has a federation configuration. Update or delete it instead.",
            d.id
        )));
    }
    if body
        .get("federatedIdpMfaBehavior")
        .is_none_or(Value::is_null)
    {
        return Err(GraphError::bad_request(
            "FederatedIdpMfaBehavior cannot be empty",
        ));
    }
    let mut fed = Federation {
        id: crate::util::new_guid(),
        ..Federation::default()
    };
    apply_federation(&mut fed, body)?;
    fed.signing_certificate_update_status = Some(SigningCertificateUpdateStatus {
        certificate_update_result: "Success".into(),
        last_run_date_time: crate::util::now_rfc3339(),
    });
    let v = render::federation(&fed);
    if let Some(dm) = st.domain_mut(id) {
        dm.federation = Some(fed);
        dm.authentication_type = "Federated".into();
    }
    drop(st);
    Ok(GraphResponse::created(with_context(
        federation_context(sh, &d.id, true),
        v,
    )))
}

pub fn update_federation(sh: &Shared, req: &GraphRequest, id: &str, fid: &str) -> GraphResult {
    let body = req.object()?;
    let mut st = crate::lock(&sh.state);
    let d = find(&st, id)?;
    let domain = d.id.clone();
    let mut fed = d
        .federation
        .clone()
        .filter(|f| f.id.eq_ignore_ascii_case(fid))
        .ok_or_else(|| GraphError::not_found(fid))?;
    apply_federation(&mut fed, body)?;
    let v = render::federation(&fed);
    if let Some(dm) = st.domain_mut(id) {
        dm.federation = Some(fed);
    }
    drop(st);
    Ok(GraphResponse::ok(with_context(
        federation_context(sh, &domain, true),
        v,
    )))
}

pub fn delete_federation(sh: &Shared, id: &str, fid: &str) -> GraphResult {
    let mut st = crate::lock(&sh.state);
    let d = st.domain_mut(id).ok_or_else(|| GraphError::not_found(id))?;
    if !d
        .federation
        .as_ref()
        .is_some_and(|f| f.id.eq_ignore_ascii_case(fid))
    {
        return Err(GraphError::not_found(fid));
    }
    d.federation = None;
    d.authentication_type = "Managed".into();
    Ok(GraphResponse::no_content())
}
