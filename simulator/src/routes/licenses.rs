//! `/users/{id}/assignLicense`, `/users/{id}/licenseDetails`, `/subscribedSkus`.

use serde_json::{Map, Value, json};

use super::{GraphRequest, GraphResponse, GraphResult, context};
use crate::Shared;
use crate::error::GraphError;
use crate::model::License;
use crate::render;

fn guid_list(v: &Value) -> Option<Vec<String>> {
    v.as_array()?
        .iter()
        .map(|x| x.as_str().map(str::to_ascii_lowercase))
        .collect()
}

/// The `assignLicense` body: licences to add and SKU ids to remove (both arrays required).
pub fn parse_assign_body(req: &GraphRequest) -> Result<(Vec<License>, Vec<String>), GraphError> {
    let body = req.object()?;
    let missing: Vec<&str> = ["addLicenses", "removeLicenses"]
        .into_iter()
        .filter(|k| !body.get(*k).is_some_and(Value::is_array))
        .collect();
    if !missing.is_empty() {
        return Err(GraphError::bad_request(format!(
            "One or more parameters of the function import 'assignLicense' are missing from the request payload. The missing parameters are: {}.",
            missing.join(", ")
        )));
    }
    let mut adds = Vec::new();
    for item in body["addLicenses"].as_array().into_iter().flatten() {
        let sku = item
            .get("skuId")
            .and_then(Value::as_str)
            .ok_or_else(|| {
                GraphError::bad_request(
                    "Invalid value specified for property 'skuId' of resource 'AssignedLicense'.",
                )
            })?
            .to_ascii_lowercase();
        let plans = match item.get("disabledPlans") {
            None | Some(Value::Null) => Vec::new(),
            Some(v) => guid_list(v).ok_or_else(|| {
                GraphError::bad_request("Invalid value specified for property 'disabledPlans' of resource 'AssignedLicense'.")
            })?,
        };
        adds.push(License {
            sku,
            disabled_plans: plans,
        });
    }
    let removes = guid_list(&body["removeLicenses"]).ok_or_else(|| {
        GraphError::bad_request("Invalid value specified for property 'removeLicenses'.")
    })?;
    Ok((adds, removes))
}

pub fn assign(sh: &Shared, req: &GraphRequest, id: &str) -> GraphResult {
    let (adds, removes) = parse_assign_body(req)?;

    let mut st = crate::lock(&sh.state);
    let uid = st.user_id(id).ok_or_else(|| GraphError::not_found(id))?;
    let user = st
        .users
        .get(&uid)
        .cloned()
        .ok_or_else(|| GraphError::not_found(id))?;
    if user.usage_location.is_none() {
        return Err(GraphError::bad_request(
            "License assignment cannot be done for user with invalid usage location.",
        ));
    }
    for add in &adds {
        let sku = st
            .sku(&add.sku)
            .filter(|s| s.sku_id == add.sku)
            .ok_or_else(|| {
                GraphError::bad_request(format!(
                    "License {} does not correspond to a valid company License.",
                    add.sku
                ))
            })?;
        for plan in &add.disabled_plans {
            if !sku
                .service_plans
                .iter()
                .any(|p| p.service_plan_id.eq_ignore_ascii_case(plan))
            {
                // Invented message.
                return Err(GraphError::bad_request(format!(
                    "Service plan {plan} is not part of license {}.",
                    add.sku
                )));
            }
        }
        let holds = user.licenses.iter().any(|l| l.sku == add.sku)
            || user
                .group_licenses
                .iter()
                .any(|l| l.is_active() && l.sku == add.sku);
        if !holds && !removes.contains(&add.sku) {
            let available = sku.enabled + sku.warning - st.consumed_units(&sku.sku_id);
            if available < 1 {
                return Err(GraphError::bad_request(format!(
                    "Subscription with SKU {} does not have any available licenses.",
                    add.sku
                )));
            }
        }
    }
    for r in &removes {
        if user.licenses.iter().any(|l| l.sku == *r) {
            continue;
        }
        if user.group_licenses.iter().any(|l| l.sku == *r) {
            return Err(GraphError::bad_request(
                "User license is inherited from a group membership and it cannot be removed directly from the user.",
            ));
        }
        return Err(GraphError::bad_request(format!(
            "User does not have a corresponding license {r}."
        )));
    }
    st.modify_user(&uid, |u| {
        u.licenses.retain(|l| !removes.contains(&l.sku));
        for add in adds {
            match u.licenses.iter_mut().find(|l| l.sku == add.sku) {
                Some(existing) => existing.disabled_plans = add.disabled_plans,
                None => u.licenses.push(add),
            }
        }
    });
    let user = st
        .users
        .get(&uid)
        .cloned()
        .ok_or_else(|| GraphError::not_found(id))?;
    drop(st);
    let mut out = Map::new();
    out.insert("@odata.context".into(), json!(context(sh, "users/$entity")));
    if let Value::Object(m) = render::user_selected(&user, None) {
        out.extend(m);
    }
    Ok(GraphResponse::ok(Value::Object(out)))
}

pub fn details(sh: &Shared, id: &str) -> GraphResult {
    let st = crate::lock(&sh.state);
    let uid = st.user_id(id).ok_or_else(|| GraphError::not_found(id))?;
    let user = st
        .users
        .get(&uid)
        .ok_or_else(|| GraphError::not_found(id))?;
    let mut value = Vec::new();
    for lic in render::assigned_licenses(user) {
        let sku_id = lic["skuId"].as_str().unwrap_or_default();
        let Some(sku) = st.sku(sku_id) else { continue };
        let disabled: Vec<&str> = lic["disabledPlans"]
            .as_array()
            .map(|a| a.iter().filter_map(Value::as_str).collect())
            .unwrap_or_default();
        let plans: Vec<Value> = sku
            .service_plans
            .iter()
            .map(|p| {
                let status = if disabled
                    .iter()
                    .any(|d| d.eq_ignore_ascii_case(&p.service_plan_id))
                {
                    "Disabled"
                } else {
                    "Success"
                };
                json!({"servicePlanId": p.service_plan_id, "servicePlanName": p.service_plan_name,
                       "provisioningStatus": status, "appliesTo": p.applies_to})
            })
            .collect();
        value.push(json!({
            "id": crate::util::stable_guid(&uid, &sku.sku_id),
            "skuId": sku.sku_id,
            "skuPartNumber": sku.sku_part_number,
            "servicePlans": plans,
        }));
    }
    drop(st);
    Ok(GraphResponse::ok(json!({
        "@odata.context": context(sh, &format!("users('{uid}')/licenseDetails")),
        "value": value,
    })))
}

fn unsupported_options(req: &GraphRequest) -> Result<(), GraphError> {
    if let Some((k, _)) = req
        .query
        .params
        .iter()
        .find(|(k, _)| k.starts_with('$') && k != "$select")
    {
        // subscribedSkus "supports only the $select OData query parameter".
        return Err(GraphError::unsupported_query(format!(
            "The query parameter '{k}' is not supported."
        )));
    }
    Ok(())
}

pub fn list_skus(sh: &Shared, req: &GraphRequest) -> GraphResult {
    unsupported_options(req)?;
    let select = req.query.select();
    let st = crate::lock(&sh.state);
    let value: Vec<Value> = st
        .skus
        .iter()
        .map(|s| {
            let v = render::sku(&st.tenant, s, st.consumed_units(&s.sku_id));
            render::select_keys(v, select.as_deref())
        })
        .collect();
    drop(st);
    Ok(GraphResponse::ok(
        json!({"@odata.context": context(sh, "subscribedSkus"), "value": value}),
    ))
}

pub fn get_sku(sh: &Shared, req: &GraphRequest, id: &str) -> GraphResult {
    unsupported_options(req)?;
    let select = req.query.select();
    let st = crate::lock(&sh.state);
    let sku = st
        .skus
        .iter()
        .find(|s| format!("{}_{}", st.tenant.id, s.sku_id).eq_ignore_ascii_case(id))
        .ok_or_else(|| GraphError::not_found(id))?;
    let v = render::select_keys(
        render::sku(&st.tenant, sku, st.consumed_units(&sku.sku_id)),
        select.as_deref(),
    );
    drop(st);
    let mut out = Map::new();
    out.insert(
        "@odata.context".into(),
        json!(context(sh, "subscribedSkus/$entity")),
    );
    if let Value::Object(m) = v {
        out.extend(m);
    }
    Ok(GraphResponse::ok(Value::Object(out)))
}
