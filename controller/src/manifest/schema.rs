//! Validation of a document against a CRD's OpenAPI v3 schema, compiled once per run into a
//! tree ([`Schema`]): first the structural checks the API server makes before CEL (unknown
//! fields, types, required fields, enums, lengths, bounds and list-map keys), with messages
//! worded as the API server words them; then, on a structurally valid document, the CRD's
//! `x-kubernetes-validations` rules. Rules of the form `self.matches('…')` are regexes compiled
//! here once ([`super::patterns`]); every other rule is a CEL program compiled once for the
//! schema node that carries it and evaluated on that node's value only, so a 5,000-user list
//! is neither converted to CEL values nor walked by the CEL validator at every level above
//! the rules. Field paths are built in one buffer and copied only into a violation.

use std::collections::BTreeMap;

use kube::core::cel::{CompiledSchema, Validator, compile_schema};
use serde_json::Value;

use super::patterns::{self, PatternRule};

/// One violation at a field path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Violation {
    /// Field path, e.g. `spec.users[0].displayName`.
    pub path: String,
    /// What is wrong.
    pub message: String,
}

/// How a list is keyed (`x-kubernetes-list-type`).
#[derive(Debug, Default)]
enum ListType {
    #[default]
    Atomic,
    /// `map` with these `x-kubernetes-list-map-keys`.
    Map(Vec<String>),
    Set,
}

/// `additionalProperties`.
#[derive(Debug, Default)]
enum Additional {
    #[default]
    Absent,
    Allowed(bool),
    Schema(Box<Schema>),
}

/// One compiled schema node.
#[derive(Default)]
pub struct Schema {
    type_name: Option<String>,
    nullable: bool,
    enumeration: Option<Vec<Value>>,
    max_length: Option<u64>,
    min_length: Option<u64>,
    maximum: Option<f64>,
    minimum: Option<f64>,
    max_items: Option<u64>,
    min_items: Option<u64>,
    items: Option<Box<Schema>>,
    list_type: ListType,
    properties: Option<BTreeMap<String, Schema>>,
    required: Vec<String>,
    preserve_unknown: bool,
    additional: Additional,
    default: Option<Value>,
    /// `self.matches('…')` rules of this node.
    patterns: Vec<PatternRule>,
    /// This node's other rules (and those of its `allOf`/`oneOf`/`anyOf` branches), compiled
    /// against a copy of the node's schema whose children carry no rules.
    cel: Option<CompiledSchema>,
    /// Whether this node or a node below it has a rule.
    has_rules: bool,
}

impl std::fmt::Debug for Schema {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Schema")
            .field("type", &self.type_name)
            .field("properties", &self.properties)
            .field("items", &self.items)
            .field("patterns", &self.patterns.len())
            .field("cel", &self.cel.is_some())
            .finish_non_exhaustive()
    }
}

const RULES: &str = "x-kubernetes-validations";

/// Takes the rules out of every node below `node` (not of `node` itself).
fn strip_child_rules(node: &mut Value) {
    fn strip(node: &mut Value) {
        if let Some(map) = node.as_object_mut() {
            map.remove(RULES);
        }
        strip_child_rules(node);
    }
    if let Some(props) = node.get_mut("properties").and_then(Value::as_object_mut) {
        props.values_mut().for_each(strip);
    }
    for key in ["items", "additionalProperties"] {
        if let Some(child) = node.get_mut(key).filter(|c| c.is_object()) {
            strip(child);
        }
    }
}

/// Whether a rule is anywhere in `node`.
fn mentions_rules(node: &Value) -> bool {
    match node {
        Value::Object(map) => map.contains_key(RULES) || map.values().any(mentions_rules),
        Value::Array(items) => items.iter().any(mentions_rules),
        _ => false,
    }
}

impl Schema {
    /// Compiles a CRD version's `openAPIV3Schema`.
    pub fn compile(schema: &Value) -> Schema {
        let get_u64 = |key: &str| schema.get(key).and_then(Value::as_u64);
        let get_f64 = |key: &str| schema.get(key).and_then(Value::as_f64);
        let mut node = Schema {
            type_name: schema
                .get("type")
                .and_then(Value::as_str)
                .map(str::to_owned),
            nullable: schema.get("nullable").and_then(Value::as_bool) == Some(true),
            enumeration: schema.get("enum").and_then(Value::as_array).cloned(),
            max_length: get_u64("maxLength"),
            min_length: get_u64("minLength"),
            maximum: get_f64("maximum"),
            minimum: get_f64("minimum"),
            max_items: get_u64("maxItems"),
            min_items: get_u64("minItems"),
            items: schema
                .get("items")
                .filter(|i| i.is_object())
                .map(|i| Box::new(Schema::compile(i))),
            list_type: match schema.get("x-kubernetes-list-type").and_then(Value::as_str) {
                Some("map") => ListType::Map(
                    schema
                        .get("x-kubernetes-list-map-keys")
                        .and_then(Value::as_array)
                        .map(|k| {
                            k.iter()
                                .filter_map(Value::as_str)
                                .map(str::to_owned)
                                .collect()
                        })
                        .unwrap_or_default(),
                ),
                Some("set") => ListType::Set,
                _ => ListType::Atomic,
            },
            properties: schema
                .get("properties")
                .and_then(Value::as_object)
                .map(|p| {
                    p.iter()
                        .map(|(k, v)| (k.clone(), Schema::compile(v)))
                        .collect()
                }),
            required: schema
                .get("required")
                .and_then(Value::as_array)
                .map(|r| {
                    r.iter()
                        .filter_map(Value::as_str)
                        .map(str::to_owned)
                        .collect()
                })
                .unwrap_or_default(),
            preserve_unknown: schema
                .get("x-kubernetes-preserve-unknown-fields")
                .and_then(Value::as_bool)
                == Some(true),
            additional: match schema.get("additionalProperties") {
                Some(Value::Bool(b)) => Additional::Allowed(*b),
                Some(a @ Value::Object(_)) => Additional::Schema(Box::new(Schema::compile(a))),
                _ => Additional::Absent,
            },
            default: schema.get("default").cloned(),
            ..Schema::default()
        };
        // This node's own rules: the simple `matches` ones become regexes, the rest CEL.
        let mut own = schema.clone();
        if let Some(rules) = own.get_mut(RULES).and_then(Value::as_array_mut) {
            rules.retain(|rule| match patterns::extract(rule) {
                Some(pattern) => {
                    node.patterns.push(pattern);
                    false
                }
                None => true,
            });
        }
        let own_rules = own
            .get(RULES)
            .and_then(Value::as_array)
            .is_some_and(|r| !r.is_empty());
        let branch_rules = ["allOf", "oneOf", "anyOf"]
            .iter()
            .filter_map(|k| own.get(*k))
            .any(mentions_rules);
        if own_rules || branch_rules {
            strip_child_rules(&mut own);
            node.cel = Some(compile_schema(&own));
        }
        node.has_rules = node.cel.is_some()
            || !node.patterns.is_empty()
            || node.items.as_ref().is_some_and(|i| i.has_rules)
            || node
                .properties
                .as_ref()
                .is_some_and(|p| p.values().any(|c| c.has_rules))
            || matches!(&node.additional, Additional::Schema(a) if a.has_rules);
        node
    }

    /// The structural violations of `value`.
    pub fn validate(&self, value: &Value) -> Vec<Violation> {
        let mut out = Vec::new();
        let mut path = String::with_capacity(64);
        self.walk(value, &mut path, &mut out);
        out
    }

    /// The rule violations of a structurally valid `value`: the `matches` rules first, then
    /// the CEL rules, each message as the rule words it.
    pub fn check_rules(&self, validator: &Validator, value: &Value) -> Vec<Violation> {
        let mut patterns = Vec::new();
        let mut cel = Vec::new();
        if self.has_rules {
            let mut path = String::with_capacity(64);
            self.rules(validator, value, &mut path, &mut patterns, &mut cel);
        }
        patterns.append(&mut cel);
        patterns
    }

    fn rules(
        &self,
        validator: &Validator,
        value: &Value,
        path: &mut String,
        patterns: &mut Vec<Violation>,
        cel: &mut Vec<Violation>,
    ) {
        if let Some(text) = value.as_str() {
            for rule in self.patterns.iter().filter(|r| !r.regex.is_match(text)) {
                patterns.push(Violation {
                    path: path.clone(),
                    message: rule.message.clone(),
                });
            }
        }
        if let Some(compiled) = &self.cel
            && let Err(errors) = validator.validate_compiled(compiled, value, None)
        {
            for error in errors.iter() {
                cel.push(Violation {
                    path: under(path, &error.field_path),
                    message: error.message.clone(),
                });
            }
        }
        match value {
            Value::Object(map) => {
                if let Some(properties) = &self.properties {
                    for (key, child) in properties.iter().filter(|(_, c)| c.has_rules) {
                        // As the API server: defaults are applied before the rules run.
                        let Some(v) = map.get(key).or(child.default.as_ref()) else {
                            continue;
                        };
                        let len = push_key(path, key);
                        child.rules(validator, v, path, patterns, cel);
                        path.truncate(len);
                    }
                }
                if let Additional::Schema(additional) = &self.additional
                    && additional.has_rules
                    && !self.preserve_unknown
                {
                    for (key, v) in map {
                        if self
                            .properties
                            .as_ref()
                            .is_some_and(|p| p.contains_key(key))
                        {
                            continue;
                        }
                        let len = push_key(path, key);
                        additional.rules(validator, v, path, patterns, cel);
                        path.truncate(len);
                    }
                }
            }
            Value::Array(items) => {
                if let Some(item) = self.items.as_ref().filter(|i| i.has_rules) {
                    for (i, v) in items.iter().enumerate() {
                        let len = push_index(path, i);
                        item.rules(validator, v, path, patterns, cel);
                        path.truncate(len);
                    }
                }
            }
            _ => {}
        }
    }

    fn walk(&self, value: &Value, path: &mut String, out: &mut Vec<Violation>) {
        if value.is_null() {
            if !self.nullable {
                push(
                    out,
                    path,
                    format!(
                        "Invalid value: null: {} in body must not be null; remove the field or give it a value",
                        display_path(path)
                    ),
                );
            }
            return;
        }
        if let Some(expected) = &self.type_name {
            let actual = json_type(value);
            let compatible = actual == expected || (expected == "number" && actual == "integer");
            if !compatible {
                push(
                    out,
                    path,
                    format!(
                        "Invalid value: \"{actual}\": {} in body must be of type {expected}: {}",
                        display_path(path),
                        short(value)
                    ),
                );
                return;
            }
        }
        if let Some(allowed) = &self.enumeration
            && !allowed.contains(value)
        {
            let supported: Vec<String> = allowed.iter().map(Value::to_string).collect();
            push(
                out,
                path,
                format!(
                    "Unsupported value: {}: supported values: {}",
                    short(value),
                    supported.join(", ")
                ),
            );
        }
        match value {
            Value::String(s) => self.check_string(s, path, out),
            Value::Number(_) => self.check_number(value, path, out),
            Value::Array(items) => self.check_array(items, path, out),
            Value::Object(map) => self.check_object(map, path, out),
            _ => {}
        }
    }

    fn check_string(&self, s: &str, path: &str, out: &mut Vec<Violation>) {
        if self.max_length.is_none() && self.min_length.is_none() {
            return;
        }
        let len = s.chars().count() as u64;
        if let Some(max) = self.max_length
            && len > max
        {
            push(
                out,
                path,
                format!("Too long: may not be more than {max} bytes (has {len})"),
            );
        }
        if let Some(min) = self.min_length
            && len < min
        {
            push(
                out,
                path,
                format!(
                    "Invalid value: \"{s}\": {} in body should be at least {min} chars long",
                    display_path(path)
                ),
            );
        }
    }

    fn check_number(&self, value: &Value, path: &str, out: &mut Vec<Violation>) {
        let Some(v) = value.as_f64() else { return };
        if let Some(max) = self.maximum
            && v > max
        {
            push(
                out,
                path,
                format!(
                    "Invalid value: {value}: {} in body should be less than or equal to {max}",
                    display_path(path)
                ),
            );
        }
        if let Some(min) = self.minimum
            && v < min
        {
            push(
                out,
                path,
                format!(
                    "Invalid value: {value}: {} in body should be greater than or equal to {min}",
                    display_path(path)
                ),
            );
        }
    }

    fn check_array(&self, items: &[Value], path: &mut String, out: &mut Vec<Violation>) {
        if let Some(max) = self.max_items
            && items.len() as u64 > max
        {
            push(
                out,
                path,
                format!(
                    "Too many: {}: must have at most {max} items; split the list over several objects",
                    items.len()
                ),
            );
        }
        if let Some(min) = self.min_items
            && (items.len() as u64) < min
        {
            push(
                out,
                path,
                format!(
                    "Invalid value: {}: {} in body should have at least {min} items",
                    items.len(),
                    display_path(path)
                ),
            );
        }
        if let Some(item_schema) = &self.items {
            for (i, item) in items.iter().enumerate() {
                let len = push_index(path, i);
                item_schema.walk(item, path, out);
                path.truncate(len);
            }
        }
        match &self.list_type {
            ListType::Map(keys) => check_list_map(keys, items, path, out),
            ListType::Set => {
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
            ListType::Atomic => {}
        }
    }

    fn check_object(
        &self,
        map: &serde_json::Map<String, Value>,
        path: &mut String,
        out: &mut Vec<Violation>,
    ) {
        for name in &self.required {
            if !map.contains_key(name) {
                out.push(Violation {
                    path: join(path, name),
                    message: "Required value".to_owned(),
                });
            }
        }
        let at_root = path.is_empty();
        for (key, child) in map {
            let len = push_key(path, key);
            if let Some(child_schema) = self.properties.as_ref().and_then(|p| p.get(key)) {
                child_schema.walk(child, path, out);
            } else if let Additional::Schema(additional) = &self.additional {
                additional.walk(child, path, out);
            } else if at_root && ["apiVersion", "kind", "metadata"].contains(&key.as_str()) {
                // Checked by the loader itself: the API server owns these.
            } else if !self.preserve_unknown
                && !matches!(self.additional, Additional::Allowed(true))
            {
                // As the API server: an object schema without properties (e.g.
                // `workloadIdentity: {}`) declares no field, so every field is unknown.
                let known: Vec<&str> = self
                    .properties
                    .as_ref()
                    .map(|p| p.keys().map(String::as_str).collect())
                    .unwrap_or_default();
                let known = if known.is_empty() {
                    "this object takes no fields".to_owned()
                } else {
                    format!("known fields here: {}", known.join(", "))
                };
                out.push(Violation {
                    path: path.clone(),
                    message: format!(
                        "unknown field \"{path}\": field not declared in schema; {known}"
                    ),
                });
            }
            path.truncate(len);
        }
    }
}

/// Duplicate keys of a `map` list, in one pass (5,000 users are 5,000 keys, not 12.5 million
/// comparisons). A single string key, the common case, is compared without copying it.
fn check_list_map(keys: &[String], items: &[Value], path: &str, out: &mut Vec<Violation>) {
    let mut duplicate = |i: usize, first: usize, item: &Value| {
        let shown: Vec<String> = keys
            .iter()
            .filter_map(|k| item.get(k).map(|v| format!("{k}={v}")))
            .collect();
        out.push(Violation {
            path: format!("{path}[{i}]"),
            message: format!(
                "Duplicate value: duplicate entries for key [{}]: already listed at {path}[{first}]; list each entry once",
                shown.join(", ")
            ),
        });
    };
    if let [key] = keys {
        let mut seen: std::collections::HashMap<&Value, usize> =
            std::collections::HashMap::with_capacity(items.len());
        for (i, item) in items.iter().enumerate() {
            let Some(k) = item.get(key) else { continue };
            match seen.entry(k) {
                std::collections::hash_map::Entry::Occupied(first) => {
                    duplicate(i, *first.get(), item);
                }
                std::collections::hash_map::Entry::Vacant(slot) => {
                    slot.insert(i);
                }
            }
        }
        return;
    }
    let mut seen: std::collections::HashMap<String, usize> =
        std::collections::HashMap::with_capacity(items.len());
    for (i, item) in items.iter().enumerate() {
        let key: Vec<&Value> = keys.iter().filter_map(|k| item.get(k)).collect();
        if key.len() != keys.len() {
            continue;
        }
        let text: Vec<String> = key.iter().map(|v| v.to_string()).collect();
        match seen.entry(text.join("\u{0}")) {
            std::collections::hash_map::Entry::Occupied(first) => {
                duplicate(i, *first.get(), item);
            }
            std::collections::hash_map::Entry::Vacant(slot) => {
                slot.insert(i);
            }
        }
    }
}

/// `path` followed by a rule's own field path (relative to the node the rule is on).
fn under(path: &str, relative: &str) -> String {
    if relative.is_empty() {
        path.to_owned()
    } else if relative.starts_with('.') || relative.starts_with('[') || path.is_empty() {
        format!("{path}{relative}")
    } else {
        format!("{path}.{relative}")
    }
}

fn push(out: &mut Vec<Violation>, path: &str, message: String) {
    out.push(Violation {
        path: path.to_owned(),
        message,
    });
}

/// Appends `.key` (or `key` at the root); returns the length to truncate back to.
fn push_key(path: &mut String, key: &str) -> usize {
    let len = path.len();
    if !path.is_empty() {
        path.push('.');
    }
    path.push_str(key);
    len
}

/// Appends `[i]`; returns the length to truncate back to.
fn push_index(path: &mut String, i: usize) -> usize {
    use std::fmt::Write;
    let len = path.len();
    let _ = write!(path, "[{i}]");
    len
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

fn display_path(path: &str) -> &str {
    if path.is_empty() { "<root>" } else { path }
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
        let v = Schema::compile(&schema()).validate(
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
        let v = Schema::compile(&schema()).validate(&json!({"name": true}));
        assert_eq!(v.len(), 1);
        assert!(v[0].message.contains("must be of type string"), "{v:?}");
    }

    #[test]
    fn too_long_string_is_reported() {
        let v = Schema::compile(&schema()).validate(&json!({"name": "abcd"}));
        assert!(v[0].message.starts_with("Too long"), "{v:?}");
    }

    fn rules_schema() -> Value {
        json!({"type": "object", "properties": {
            "users": {"type": "array", "items": {"type": "object", "properties": {
                "loc": {"type": "string", "x-kubernetes-validations": [
                    {"rule": "self.matches('^[A-Z]{2}$')", "message": "two capitals"},
                    {"rule": "self.size() == 2", "message": "two"},
                ]}}}},
            "budget": {"type": "object", "default": {}, "properties": {
                "percent": {"type": "integer", "default": 150}},
                "x-kubernetes-validations": [
                    {"rule": "self.percent <= 100", "message": "at most 100"},
                    {"rule": "self.percent >= 0", "message": "not negative", "fieldPath": ".percent"},
                ]},
        }})
    }

    #[test]
    fn matches_rules_become_regexes_and_other_rules_stay_with_cel_at_their_node() {
        let schema = Schema::compile(&rules_schema());
        let loc = schema
            .properties
            .as_ref()
            .and_then(|p| p.get("users"))
            .and_then(|u| u.items.as_ref())
            .and_then(|i| i.properties.as_ref())
            .and_then(|p| p.get("loc"));
        assert_eq!(
            loc.map(|l| (l.patterns.len(), l.cel.is_some())),
            Some((1, true))
        );
        let found = schema.check_rules(
            &Validator::new(),
            &json!({"users": [{"loc": "US"}, {"loc": "us"}, {"loc": "USA"}], "budget": {"percent": 5}}),
        );
        let shown: Vec<String> = found
            .iter()
            .map(|v| format!("{}: {}", v.path, v.message))
            .collect();
        assert_eq!(
            shown,
            [
                "users[1].loc: two capitals",
                "users[2].loc: two capitals",
                "users[2].loc: two"
            ],
            "{shown:?}"
        );
    }

    #[test]
    fn rules_see_defaults_and_name_their_field_path() {
        let schema = Schema::compile(&rules_schema());
        // `budget` is absent: its default (and the default of `percent` within) is checked.
        let found = schema.check_rules(&Validator::new(), &json!({}));
        let shown: Vec<String> = found
            .iter()
            .map(|v| format!("{}: {}", v.path, v.message))
            .collect();
        assert_eq!(shown, ["budget: at most 100"], "{shown:?}");
        let found = schema.check_rules(&Validator::new(), &json!({"budget": {"percent": -1}}));
        let shown: Vec<String> = found
            .iter()
            .map(|v| format!("{}: {}", v.path, v.message))
            .collect();
        assert_eq!(shown, ["budget.percent: not negative"], "{shown:?}");
    }

    #[test]
    fn duplicate_keys_of_a_map_list_name_the_first_listing() {
        let v = Schema::compile(&schema()).validate(&json!({"name": "a",
            "users": [{"upn": "a"}, {"upn": "b"}, {"upn": "a"}]}));
        assert_eq!(v.len(), 1, "{v:?}");
        assert_eq!(v[0].path, "users[2]");
        assert!(
            v[0].message
                .contains("key [upn=\"a\"]: already listed at users[0]"),
            "{v:?}"
        );
    }
}
