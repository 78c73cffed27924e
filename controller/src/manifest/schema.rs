//! Structural validation of a document against a CRD's OpenAPI v3 schema: the checks the API
//! server makes before CEL (unknown fields, types, required fields, enums, lengths, bounds and
//! list-map keys), with messages worded as the API server words them.

use serde_json::Value;

/// One structural violation at a field path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Violation {
    /// Field path, e.g. `spec.users[0].displayName`.
    pub path: String,
    /// What is wrong.
    pub message: String,
}

/// Validates `value` against `schema`, collecting every violation.
pub fn validate(schema: &Value, value: &Value) -> Vec<Violation> {
    let mut out = Vec::new();
    walk(schema, value, "", &mut out);
    out
}

fn join(path: &str, key: &str) -> String {
    if path.is_empty() {
        key.to_owned()
    } else {
        format!("{path}.{key}")
    }
}

fn json_type(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(n) if n.is_i64() || n.is_u64() => "integer",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

fn short(value: &Value) -> String {
    let text = value.to_string();
    if text.chars().count() > 60 {
        format!("{}...", text.chars().take(57).collect::<String>())
    } else {
        text
    }
}

fn walk(schema: &Value, value: &Value, path: &str, out: &mut Vec<Violation>) {
    let mut push = |message: String| {
        out.push(Violation {
            path: path.to_owned(),
            message,
        })
    };
    if value.is_null() {
        if schema.get("nullable").and_then(Value::as_bool) != Some(true) {
            push(format!(
                "Invalid value: null: {} in body must not be null; remove the field or give it a value",
                display_path(path)
            ));
        }
        return;
    }
    if let Some(expected) = schema.get("type").and_then(Value::as_str) {
        let actual = json_type(value);
        let compatible = actual == expected || (expected == "number" && actual == "integer");
        if !compatible {
            push(format!(
                "Invalid value: \"{actual}\": {} in body must be of type {expected}: {}",
                display_path(path),
                short(value)
            ));
            return;
        }
    }
    if let Some(allowed) = schema.get("enum").and_then(Value::as_array)
        && !allowed.contains(value)
    {
        let supported: Vec<String> = allowed.iter().map(Value::to_string).collect();
        push(format!(
            "Unsupported value: {}: supported values: {}",
            short(value),
            supported.join(", ")
        ));
    }
    match value {
        Value::String(s) => check_string(schema, s, path, out),
        Value::Number(_) => check_number(schema, value, path, out),
        Value::Array(items) => check_array(schema, items, path, out),
        Value::Object(map) => check_object(schema, map, path, out),
        _ => {}
    }
}

fn display_path(path: &str) -> &str {
    if path.is_empty() { "<root>" } else { path }
}

fn check_string(schema: &Value, s: &str, path: &str, out: &mut Vec<Violation>) {
    let len = s.chars().count() as u64;
    if let Some(max) = schema.get("maxLength").and_then(Value::as_u64)
        && len > max
    {
        out.push(Violation {
            path: path.to_owned(),
            message: format!("Too long: may not be more than {max} bytes (has {len})"),
        });
    }
    if let Some(min) = schema.get("minLength").and_then(Value::as_u64)
        && len < min
    {
        out.push(Violation {
            path: path.to_owned(),
            message: format!(
                "Invalid value: \"{s}\": {} in body should be at least {min} chars long",
                display_path(path)
            ),
        });
    }
}

fn check_number(schema: &Value, value: &Value, path: &str, out: &mut Vec<Violation>) {
    let Some(v) = value.as_f64() else { return };
    if let Some(max) = schema.get("maximum").and_then(Value::as_f64)
        && v > max
    {
        out.push(Violation {
            path: path.to_owned(),
            message: format!(
                "Invalid value: {value}: {} in body should be less than or equal to {max}",
                display_path(path)
            ),
        });
    }
    if let Some(min) = schema.get("minimum").and_then(Value::as_f64)
        && v < min
    {
        out.push(Violation {
            path: path.to_owned(),
            message: format!(
                "Invalid value: {value}: {} in body should be greater than or equal to {min}",
                display_path(path)
            ),
        });
    }
}

fn check_array(schema: &Value, items: &[Value], path: &str, out: &mut Vec<Violation>) {
    if let Some(max) = schema.get("maxItems").and_then(Value::as_u64)
        && items.len() as u64 > max
    {
        out.push(Violation {
            path: path.to_owned(),
            message: format!(
                "Too many: {}: must have at most {max} items; split the list over several objects",
                items.len()
            ),
        });
    }
    if let Some(min) = schema.get("minItems").and_then(Value::as_u64)
        && (items.len() as u64) < min
    {
        out.push(Violation {
            path: path.to_owned(),
            message: format!(
                "Invalid value: {}: {} in body should have at least {min} items",
                items.len(),
                display_path(path)
            ),
        });
    }
    if let Some(item_schema) = schema.get("items") {
        for (i, item) in items.iter().enumerate() {
            walk(item_schema, item, &format!("{path}[{i}]"), out);
        }
    }
    match schema.get("x-kubernetes-list-type").and_then(Value::as_str) {
        Some("map") => {
            let keys: Vec<&str> = schema
                .get("x-kubernetes-list-map-keys")
                .and_then(Value::as_array)
                .map(|k| k.iter().filter_map(Value::as_str).collect())
                .unwrap_or_default();
            // Keyed by the keys' JSON text: one pass, not a comparison per pair (5,000 users).
            let mut seen: std::collections::HashMap<String, usize> =
                std::collections::HashMap::with_capacity(items.len());
            for (i, item) in items.iter().enumerate() {
                let key: Vec<&Value> = keys.iter().filter_map(|k| item.get(*k)).collect();
                if key.len() != keys.len() {
                    continue;
                }
                let text: Vec<String> = key.iter().map(|v| v.to_string()).collect();
                if let Some(first) = seen.get(&text.join("\u{0}")) {
                    let shown: Vec<String> = keys
                        .iter()
                        .zip(&key)
                        .map(|(k, v)| format!("{k}={v}"))
                        .collect();
                    out.push(Violation {
                        path: format!("{path}[{i}]"),
                        message: format!(
                            "Duplicate value: duplicate entries for key [{}]: already listed at {path}[{first}]; list each entry once",
                            shown.join(", ")
                        ),
                    });
                } else {
                    seen.insert(text.join("\u{0}"), i);
                }
            }
        }
        Some("set") => {
            let mut seen: std::collections::HashMap<String, usize> =
                std::collections::HashMap::with_capacity(items.len());
            for (i, item) in items.iter().enumerate() {
                match seen.entry(item.to_string()) {
                    std::collections::hash_map::Entry::Occupied(first) => {
                        out.push(Violation {
                            path: format!("{path}[{i}]"),
                            message: format!(
                                "Duplicate value: {} is already listed at {path}[{}]",
                                short(item),
                                first.get()
                            ),
                        });
                    }
                    std::collections::hash_map::Entry::Vacant(slot) => {
                        slot.insert(i);
                    }
                }
            }
        }
        _ => {}
    }
}

fn check_object(
    schema: &Value,
    map: &serde_json::Map<String, Value>,
    path: &str,
    out: &mut Vec<Violation>,
) {
    let properties = schema.get("properties").and_then(Value::as_object);
    let preserve = schema
        .get("x-kubernetes-preserve-unknown-fields")
        .and_then(Value::as_bool)
        == Some(true);
    let additional = schema.get("additionalProperties");
    if let Some(required) = schema.get("required").and_then(Value::as_array) {
        for name in required.iter().filter_map(Value::as_str) {
            if !map.contains_key(name) {
                out.push(Violation {
                    path: join(path, name),
                    message: "Required value".to_owned(),
                });
            }
        }
    }
    for (key, child) in map {
        let child_path = join(path, key);
        if let Some(child_schema) = properties.and_then(|p| p.get(key)) {
            walk(child_schema, child, &child_path, out);
        } else if let Some(additional) = additional.filter(|a| a.is_object()) {
            walk(additional, child, &child_path, out);
        } else if path.is_empty() && ["apiVersion", "kind", "metadata"].contains(&key.as_str()) {
            // Checked by the loader itself: the API server owns these.
        } else if !preserve && additional.and_then(Value::as_bool) != Some(true) {
            // As the API server: an object schema without properties (e.g.
            // `workloadIdentity: {}`) declares no field, so every field is unknown.
            let known: Vec<&str> = properties
                .map(|p| p.keys().map(String::as_str).collect())
                .unwrap_or_default();
            let known = if known.is_empty() {
                "this object takes no fields".to_owned()
            } else {
                format!("known fields here: {}", known.join(", "))
            };
            out.push(Violation {
                path: child_path.clone(),
                message: format!(
                    "unknown field \"{child_path}\": field not declared in schema; {known}"
                ),
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn schema() -> Value {
        json!({"type": "object", "required": ["name"], "properties": {
            "name": {"type": "string", "maxLength": 3},
            "mode": {"type": "string", "enum": ["A", "B"]},
            "n": {"type": "integer", "minimum": 0, "maximum": 10},
            "users": {"type": "array", "x-kubernetes-list-type": "map",
                      "x-kubernetes-list-map-keys": ["upn"],
                      "items": {"type": "object", "properties": {"upn": {"type": "string"}}}}
        }})
    }

    #[test]
    fn reports_every_violation_not_just_the_first() {
        let v = validate(
            &schema(),
            &json!({"mode": "C", "n": 11, "extra": 1, "users": [{"upn": "a"}, {"upn": "a"}]}),
        );
        let messages: Vec<String> = v
            .iter()
            .map(|v| format!("{}: {}", v.path, v.message))
            .collect();
        assert!(
            messages
                .iter()
                .any(|m| m.starts_with("name: Required value")),
            "{messages:?}"
        );
        assert!(
            messages
                .iter()
                .any(|m| m.contains("Unsupported value: \"C\"")),
            "{messages:?}"
        );
        assert!(
            messages
                .iter()
                .any(|m| m.contains("less than or equal to 10")),
            "{messages:?}"
        );
        assert!(
            messages
                .iter()
                .any(|m| m.contains("unknown field \"extra\"")),
            "{messages:?}"
        );
        assert!(
            messages
                .iter()
                .any(|m| m.starts_with("users[1]: Duplicate value")),
            "{messages:?}"
        );
        assert_eq!(messages.len(), 5, "{messages:?}");
    }

    #[test]
    fn wrong_type_names_the_expected_type() {
        let v = validate(&schema(), &json!({"name": true}));
        assert_eq!(v.len(), 1);
        assert!(v[0].message.contains("must be of type string"), "{v:?}");
    }

    #[test]
    fn too_long_string_is_reported() {
        let v = validate(&schema(), &json!({"name": "abcd"}));
        assert!(v[0].message.starts_with("Too long"), "{v:?}");
    }
}
