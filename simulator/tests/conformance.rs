//! Checks every property the simulator returns against Microsoft's official Graph v1.0 CSDL
//! (`shared/graph-schema/graph-v1.0-subset.csdl.xml`, beside the repository).

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "tests unwrap: a panic is a failed test"
)]

use std::collections::HashMap;
use std::path::PathBuf;

use o365_graph_sim::{Fixture, SimConfig, Simulator};
use serde_json::{Value, json};

/// property name → (type, nullable)
type Properties = HashMap<String, (String, bool)>;

#[derive(Debug, Default)]
struct Schema {
    /// type name (without namespace) → (base type, properties)
    types: HashMap<String, (Option<String>, Properties)>,
    enums: HashMap<String, Vec<String>>,
}

fn strip(t: &str) -> String {
    t.trim_start_matches("graph.")
        .trim_start_matches("microsoft.graph.")
        .to_string()
}

fn load_schema() -> Schema {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../shared/graph-schema/graph-v1.0-subset.csdl.xml");
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    let doc = roxmltree::Document::parse(&text).unwrap();
    let mut schema = Schema::default();
    for node in doc.descendants().filter(|n| n.is_element()) {
        let tag = node.tag_name().name();
        let Some(name) = node.attribute("Name") else {
            continue;
        };
        match tag {
            "EntityType" | "ComplexType" => {
                let props = node
                    .children()
                    .filter(|c| c.is_element() && c.tag_name().name() == "Property")
                    .map(|p| {
                        let nullable = p.attribute("Nullable") != Some("false");
                        (
                            p.attribute("Name").unwrap().to_string(),
                            (p.attribute("Type").unwrap().to_string(), nullable),
                        )
                    })
                    .collect();
                schema.types.insert(
                    name.to_string(),
                    (node.attribute("BaseType").map(strip), props),
                );
            }
            "EnumType" => {
                let members = node
                    .children()
                    .filter(|c| c.is_element() && c.tag_name().name() == "Member")
                    .filter_map(|m| m.attribute("Name").map(str::to_string))
                    .collect();
                schema.enums.insert(name.to_string(), members);
            }
            _ => {}
        }
    }
    schema
}

impl Schema {
    /// A property of `ty` or one of its base types.
    fn property(&self, ty: &str, name: &str) -> Option<(String, bool)> {
        let mut current = Some(ty.to_string());
        while let Some(t) = current {
            let (base, props) = self.types.get(&t)?;
            if let Some(p) = props.get(name) {
                return Some(p.clone());
            }
            current = base.clone();
        }
        None
    }

    fn check_object(&self, ty: &str, v: &Value, at: &str, errors: &mut Vec<String>) {
        let Some(obj) = v.as_object() else {
            errors.push(format!("{at}: expected an object of {ty}, got {v}"));
            return;
        };
        for (k, value) in obj {
            if k.starts_with('@') {
                continue;
            }
            match self.property(ty, k) {
                None => errors.push(format!("{at}.{k}: not a property of microsoft.graph.{ty}")),
                Some((pty, nullable)) => {
                    self.check_value(&pty, nullable, value, &format!("{at}.{k}"), errors)
                }
            }
        }
    }

    fn check_value(&self, ty: &str, nullable: bool, v: &Value, at: &str, errors: &mut Vec<String>) {
        if v.is_null() {
            if !nullable {
                errors.push(format!("{at}: null but the schema says Nullable=false"));
            }
            return;
        }
        if let Some(inner) = ty
            .strip_prefix("Collection(")
            .and_then(|t| t.strip_suffix(')'))
        {
            match v.as_array() {
                Some(items) => {
                    for (i, item) in items.iter().enumerate() {
                        self.check_value(inner, false, item, &format!("{at}[{i}]"), errors);
                    }
                }
                None => errors.push(format!("{at}: expected an array for {ty}")),
            }
            return;
        }
        let ok = match ty {
            "Edm.String" => v.is_string(),
            "Edm.Guid" => v.as_str().is_some_and(uuid_like),
            "Edm.Boolean" => v.is_boolean(),
            "Edm.Int32" | "Edm.Int64" => v.is_i64() || v.is_u64(),
            "Edm.DateTimeOffset" => v.as_str().is_some_and(|s| s.contains('T')),
            other => {
                let name = strip(other);
                if let Some(members) = self.enums.get(&name) {
                    let member = v.as_str().unwrap_or_default();
                    if !members.iter().any(|m| m == member) {
                        errors.push(format!("{at}: '{member}' is not a member of enum {name}"));
                    }
                    true
                } else if self.types.contains_key(&name) {
                    self.check_object(&name, v, at, errors);
                    true
                } else {
                    errors.push(format!("{at}: type {other} is not in the schema subset"));
                    true
                }
            }
        };
        if !ok {
            errors.push(format!("{at}: {v} is not compatible with {ty}"));
        }
    }
}

fn uuid_like(s: &str) -> bool {
    s.len() == 36 && s.chars().all(|c| c.is_ascii_hexdigit() || c == '-')
}

struct Client {
    sim: Simulator,
    http: reqwest::Client,
    token: String,
}

impl Client {
    async fn start() -> Client {
        let sim = Simulator::start(
            Fixture::demo(),
            SimConfig {
                throttling: false,
                ..SimConfig::default()
            },
        )
        .await
        .unwrap();
        let http = reqwest::Client::new();
        let body: Value = http
            .post(format!(
                "{}/{}/oauth2/v2.0/token",
                sim.login_base_url(),
                sim.tenant_id()
            ))
            .form(&[
                ("client_id", "22222222-2222-2222-2222-222222222222"),
                ("client_secret", "demo-client-secret"),
                ("scope", "https://graph.microsoft.com/.default"),
                ("grant_type", "client_credentials"),
            ])
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let token = body["access_token"].as_str().unwrap().to_string();
        Client { sim, http, token }
    }

    async fn call(&self, method: &str, path: &str, body: Option<Value>) -> Value {
        let mut req = self
            .http
            .request(
                method.parse().unwrap(),
                format!("{}/v1.0{path}", self.sim.graph_base_url()),
            )
            .bearer_auth(&self.token);
        if let Some(b) = body {
            req = req.json(&b);
        }
        let resp = req.send().await.unwrap();
        assert!(
            resp.status().is_success(),
            "{method} {path}: {}",
            resp.status()
        );
        resp.json().await.unwrap_or(Value::Null)
    }
}

fn all_user_properties(schema: &Schema) -> String {
    let mut names: Vec<String> = Vec::new();
    for ty in ["entity", "directoryObject", "user"] {
        names.extend(schema.types[ty].1.keys().cloned());
    }
    names.sort();
    names.join(",")
}

fn check_all(schema: &Schema, ty: &str, values: &[Value]) {
    let mut errors = Vec::new();
    for (i, v) in values.iter().enumerate() {
        schema.check_object(ty, v, &format!("{ty}[{i}]"), &mut errors);
    }
    assert!(
        errors.is_empty(),
        "schema violations:\n{}",
        errors.join("\n")
    );
}

fn items(v: &Value) -> Vec<Value> {
    v["value"].as_array().cloned().unwrap_or_default()
}

#[tokio::test]
async fn users_with_default_and_every_selectable_property_match_the_schema() {
    let schema = load_schema();
    let c = Client::start().await;
    check_all(
        &schema,
        "user",
        &items(&c.call("GET", "/users", None).await),
    );
    let all = all_user_properties(&schema);
    let selected = c.call("GET", &format!("/users?$select={all}"), None).await;
    check_all(&schema, "user", &items(&selected));
    let one = c
        .call(
            "GET",
            &format!("/users/adele.vance@contoso.com?$select={all}"),
            None,
        )
        .await;
    check_all(&schema, "user", &[one]);
    let created = c
        .call(
            "POST",
            "/users",
            Some(
                json!({"accountEnabled": true, "displayName": "N", "mailNickname": "n",
            "userPrincipalName": "n@contoso.com", "passwordProfile": {"password": "Passw0rd!x"}}),
            ),
        )
        .await;
    check_all(&schema, "user", &[created]);
    let assigned = c
        .call("POST", "/users/adele.vance@contoso.com/assignLicense",
            Some(json!({"addLicenses": [{"skuId": "a403ebcc-fae0-4ca2-8c8c-7a907fd6c235", "disabledPlans": []}], "removeLicenses": []})))
        .await;
    check_all(&schema, "user", &[assigned]);
    let delta = c.call("GET", "/users/delta", None).await;
    check_all(&schema, "user", &items(&delta));
}

#[tokio::test]
async fn domains_and_federation_configurations_match_the_schema() {
    let schema = load_schema();
    let c = Client::start().await;
    let fed = c
        .call("POST", "/domains/contoso.com/federationConfiguration", Some(json!({
            "displayName": "Contoso", "issuerUri": "http://contoso.com/adfs/services/trust",
            "signingCertificate": "MIIE3jCCAsagAwIBAgIQQcyDaZz3MI", "passiveSignInUri": "https://sts.contoso.com/adfs/ls",
            "preferredAuthenticationProtocol": "wsFed", "promptLoginBehavior": "nativeSupport",
            "federatedIdpMfaBehavior": "rejectMfaByFederatedIdp", "isSignedAuthenticationRequestRequired": true})))
        .await;
    check_all(
        &schema,
        "internalDomainFederation",
        std::slice::from_ref(&fed),
    );
    let listed = c
        .call("GET", "/domains/contoso.com/federationConfiguration", None)
        .await;
    check_all(&schema, "internalDomainFederation", &items(&listed));
    let patched = c
        .call(
            "PATCH",
            &format!(
                "/domains/contoso.com/federationConfiguration/{}",
                fed["id"].as_str().unwrap()
            ),
            Some(json!({"federatedIdpMfaBehavior": "acceptIfMfaDoneByFederatedIdp"})),
        )
        .await;
    check_all(&schema, "internalDomainFederation", &[patched]);
    check_all(
        &schema,
        "domain",
        &items(&c.call("GET", "/domains", None).await),
    );
    check_all(
        &schema,
        "domain",
        &[c.call("GET", "/domains/contoso.com", None).await],
    );
}

#[tokio::test]
async fn subscribed_skus_and_directory_roles_match_the_schema() {
    let schema = load_schema();
    let c = Client::start().await;
    check_all(
        &schema,
        "subscribedSku",
        &items(&c.call("GET", "/subscribedSkus", None).await),
    );
    check_all(
        &schema,
        "directoryRole",
        &items(&c.call("GET", "/directoryRoles", None).await),
    );
    let members = c
        .call(
            "GET",
            "/directoryRoles(roleTemplateId='62e90394-69f5-4237-9190-012177145e10')/members",
            None,
        )
        .await;
    check_all(&schema, "user", &items(&members));
}

#[test]
fn the_schema_checker_rejects_unknown_properties_wrong_types_and_enum_members() {
    let schema = load_schema();
    let mut errors = Vec::new();
    schema.check_object(
        "user",
        &json!({"frobnicate": 1, "accountEnabled": "yes"}),
        "u",
        &mut errors,
    );
    schema.check_object(
        "internalDomainFederation",
        &json!({"promptLoginBehavior": "sometimes"}),
        "f",
        &mut errors,
    );
    schema.check_object(
        "subscribedSku",
        &json!({"prepaidUnits": {"enabled": "25"}}),
        "s",
        &mut errors,
    );
    assert_eq!(errors.len(), 4, "{errors:#?}");
}

/// A schema of Microsoft's OpenAPI document (`graph-v1.0-subset.openapi.yaml`, from
/// msgraph-sdk-powershell): property name → (OpenAPI type or `$ref`, nullable), following
/// `allOf` to the base types.
fn openapi_properties(doc: &Value, name: &str) -> HashMap<String, (String, bool)> {
    let mut out = HashMap::new();
    let schema = &doc["components"]["schemas"][name];
    assert!(schema.is_object(), "{name} is not in the OpenAPI document");
    let mut parts = vec![schema.clone()];
    if let Some(all) = schema["allOf"].as_array() {
        parts = all.clone();
    }
    for part in parts {
        if let Some(r) = part["$ref"].as_str() {
            let base = r.trim_start_matches("#/components/schemas/");
            out.extend(openapi_properties(doc, base));
            continue;
        }
        for (k, v) in part["properties"].as_object().into_iter().flatten() {
            let ty = v["type"]
                .as_str()
                .map(str::to_string)
                .or_else(|| v["$ref"].as_str().map(str::to_string))
                .unwrap_or_else(|| "object".to_string());
            let nullable = v["nullable"].as_bool().unwrap_or(false) || v["anyOf"].is_array();
            out.insert(k.clone(), (ty, nullable));
        }
    }
    out
}

fn load_openapi() -> Value {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../shared/graph-schema/graph-v1.0-subset.openapi.yaml");
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    serde_saphyr::from_str(&text).unwrap()
}

fn check_openapi(props: &HashMap<String, (String, bool)>, ty: &str, v: &Value) -> Vec<String> {
    let mut errors = Vec::new();
    for (k, value) in v.as_object().into_iter().flatten() {
        if k.starts_with('@') {
            continue;
        }
        let Some((t, nullable)) = props.get(k) else {
            errors.push(format!("{ty}.{k}: not a property of microsoft.graph.{ty}"));
            continue;
        };
        let ok = match (value, t.as_str()) {
            (Value::Null, _) => *nullable || t.starts_with('#') || t == "object",
            (Value::String(_), "string") => true,
            (Value::Bool(_), "boolean") => true,
            (Value::Number(_), "number" | "integer") => true,
            (Value::Array(_), "array") => true,
            (Value::Object(_), t) => t.starts_with('#') || t == "object",
            _ => false,
        };
        if !ok {
            errors.push(format!("{ty}.{k}: {value} is not compatible with {t}"));
        }
    }
    errors
}

#[tokio::test]
async fn groups_and_license_assignment_states_match_the_schema() {
    let schema = load_schema();
    let doc = load_openapi();
    let group_props = openapi_properties(&doc, "microsoft.graph.group");
    let state_props = openapi_properties(&doc, "microsoft.graph.licenseAssignmentState");
    let c = Client::start().await;
    let created = c
        .call(
            "POST",
            "/groups",
            Some(
                json!({"displayName": "E3", "mailEnabled": false, "mailNickname": "e3",
                        "securityEnabled": true}),
            ),
        )
        .await;
    let gid = created["id"].as_str().unwrap().to_string();
    let ids: Vec<String> = c
        .sim
        .users()
        .iter()
        .map(|u| format!("{}/v1.0/directoryObjects/{}", c.sim.graph_base_url(), u.id))
        .collect();
    c.call(
        "PATCH",
        &format!("/groups/{gid}"),
        Some(json!({"members@odata.bind": ids})),
    )
    .await;
    // EMS has 10 seats; set them to 1 so that processing also produces errors.
    c.sim
        .set_sku_seats("EMS", c.sim.consumed_units("EMS").unwrap() + 1);
    let assigned = c
        .call(
            "POST",
            &format!("/groups/{gid}/assignLicense"),
            Some(
                json!({"addLicenses": [{"skuId": "efccb6f7-5641-4e0e-bd10-b4976e1bf68e",
                        "disabledPlans": []}], "removeLicenses": []}),
            ),
        )
        .await;
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while c.sim.group_license_processing_pending(&gid) {
        assert!(std::time::Instant::now() < deadline);
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let mut groups = vec![created, assigned];
    groups.extend(items(&c.call("GET", "/groups", None).await));
    groups.push(
        c.call(
            "GET",
            &format!(
                "/groups/{gid}?$select=id,displayName,assignedLicenses,hasMembersWithLicenseErrors,licenseProcessingState"
            ),
            None,
        )
        .await,
    );
    let mut errors = Vec::new();
    for g in &groups {
        errors.extend(check_openapi(&group_props, "group", g));
    }
    // licenseAssignmentStates: against the CSDL (user) and the OpenAPI complex type.
    let users = c
        .call(
            "GET",
            "/users?$select=id,assignedLicenses,licenseAssignmentStates",
            None,
        )
        .await;
    check_all(&schema, "user", &items(&users));
    let mut saw_error = false;
    for u in items(&users) {
        for s in u["licenseAssignmentStates"]
            .as_array()
            .into_iter()
            .flatten()
        {
            errors.extend(check_openapi(&state_props, "licenseAssignmentState", s));
            saw_error |= s["state"] == "Error";
        }
    }
    assert!(saw_error, "the scenario should produce an Error state");
    let members = c.call("GET", &format!("/groups/{gid}/members"), None).await;
    check_all(&schema, "user", &items(&members));
    assert!(
        errors.is_empty(),
        "schema violations:\n{}",
        errors.join("\n")
    );
}

#[tokio::test]
async fn synced_users_and_the_organizations_sync_properties_match_the_schema() {
    let schema = load_schema();
    let c = Client::start().await;
    let mut synced = o365_graph_sim::User::new("nestor.wilke@contoso.com", "Nestor Wilke");
    synced.on_premises_immutable_id = Some("TmVzdG9yV2lsa2UtQUQ=".into());
    synced.on_premises_sync_enabled = true;
    synced.on_premises_last_sync_date_time = Some("2026-11-30T23:40:00Z".into());
    synced.on_premises_domain_name = Some("corp.contoso.com".into());
    synced.on_premises_sam_account_name = Some("nwilke".into());
    c.sim.insert_user(synced).unwrap();
    let all = all_user_properties(&schema);
    let one = c
        .call(
            "GET",
            &format!("/users/nestor.wilke@contoso.com?$select={all}"),
            None,
        )
        .await;
    // The synced values are there (not nulls that would pass any nullable type).
    for p in [
        "onPremisesSyncEnabled",
        "onPremisesLastSyncDateTime",
        "onPremisesDomainName",
        "onPremisesSamAccountName",
        "onPremisesImmutableId",
    ] {
        assert!(!one[p].is_null(), "{p} is null");
    }
    check_all(&schema, "user", &[one]);
    let delta = c
        .call(
            "GET",
            "/users/delta?$select=id,onPremisesSyncEnabled,onPremisesLastSyncDateTime",
            None,
        )
        .await;
    check_all(&schema, "user", &items(&delta));
    // `organization` is not in the schema subset; its two sync properties are declared like the
    // user's (Edm.Boolean, Edm.DateTimeOffset, both nullable), so they are checked against those.
    let org = items(&c.call("GET", "/organization", None).await);
    let mut errors = Vec::new();
    for p in ["onPremisesSyncEnabled", "onPremisesLastSyncDateTime"] {
        let (ty, nullable) = schema.property("user", p).unwrap();
        assert!(!org[0][p].is_null(), "organization.{p} is null");
        schema.check_value(
            &ty,
            nullable,
            &org[0][p],
            &format!("organization.{p}"),
            &mut errors,
        );
    }
    assert!(
        errors.is_empty(),
        "schema violations:\n{}",
        errors.join("\n")
    );
}
