//! CEL rules of the form `self.matches('<regex>')`, compiled once per run instead of once per
//! value: the CEL interpreter compiles the regex at every call, which made a 100,000-user file
//! spend minutes building the same automaton. Such rules are taken out of the schema given to
//! the CEL validator and checked here with the same regex engine and the same message; every
//! other rule stays with CEL.

use regex::Regex;
use serde_json::Value;

/// Where a node's extracted rules are recorded in the annotated schema.
const MARK: &str = "x-o365-controller-patterns";

/// One extracted rule.
struct PatternRule {
    regex: Regex,
    message: String,
}

/// The extracted rules of one CRD schema.
pub struct Patterns {
    rules: Vec<PatternRule>,
}

/// One failed rule: the field path and the rule's message.
pub struct Mismatch {
    /// Field path, as the CEL validator writes it (`spec.users[3].userPrincipalName`).
    pub path: String,
    /// The rule's message.
    pub message: String,
}

/// The pattern of a rule that is exactly `self.matches('...')`, unescaped; `None` for any
/// other rule (or an escape this reader does not know: that rule stays with CEL).
fn simple_pattern(rule: &str) -> Option<String> {
    let body = rule
        .trim()
        .strip_prefix("self.matches('")?
        .strip_suffix("')")?;
    let mut out = String::with_capacity(body.len());
    let mut chars = body.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => match chars.next()? {
                c @ ('\\' | '\'' | '"') => out.push(c),
                _ => return None,
            },
            '\'' => return None, // the literal ended early: not a single call
            c => out.push(c),
        }
    }
    Some(out)
}

impl Patterns {
    /// Takes the simple `matches` rules out of `cel_schema` (the schema the CEL validator
    /// compiles) and marks them in `annotated` (a copy walked by [`Patterns::check`]).
    pub fn extract(cel_schema: &mut Value, annotated: &mut Value) -> Patterns {
        let mut patterns = Patterns { rules: Vec::new() };
        patterns.walk(cel_schema, annotated);
        patterns
    }

    fn walk(&mut self, cel: &mut Value, annotated: &mut Value) {
        let mut marks = Vec::new();
        if let Some(rules) = cel
            .get_mut("x-kubernetes-validations")
            .and_then(Value::as_array_mut)
        {
            rules.retain(|rule| {
                let text = rule.get("rule").and_then(Value::as_str).unwrap_or_default();
                let message = rule.get("message").and_then(Value::as_str);
                let Some((pattern, message)) = simple_pattern(text).zip(message) else {
                    return true;
                };
                match Regex::new(&pattern) {
                    Ok(regex) => {
                        marks.push(Value::from(self.rules.len()));
                        self.rules.push(PatternRule {
                            regex,
                            message: message.to_owned(),
                        });
                        false
                    }
                    Err(_) => true, // CEL reports it as it always did
                }
            });
        }
        if !marks.is_empty()
            && let Some(node) = annotated.as_object_mut()
        {
            node.insert(MARK.to_owned(), Value::Array(marks));
        }
        if let (Some(cel_props), Some(ann_props)) = (
            cel.get_mut("properties").and_then(Value::as_object_mut),
            annotated
                .get_mut("properties")
                .and_then(Value::as_object_mut),
        ) {
            for (name, cel_child) in cel_props.iter_mut() {
                if let Some(ann_child) = ann_props.get_mut(name) {
                    self.walk(cel_child, ann_child);
                }
            }
        }
        for key in ["items", "additionalProperties"] {
            if let (Some(cel_child), Some(ann_child)) = (cel.get_mut(key), annotated.get_mut(key))
                && cel_child.is_object()
            {
                self.walk(cel_child, ann_child);
            }
        }
    }

    /// Checks `value` against the rules marked in `annotated`.
    pub fn check(&self, annotated: &Value, value: &Value) -> Vec<Mismatch> {
        let mut out = Vec::new();
        if !self.rules.is_empty() {
            self.check_node(annotated, value, String::new(), &mut out);
        }
        out
    }

    fn check_node(&self, schema: &Value, value: &Value, path: String, out: &mut Vec<Mismatch>) {
        if let (Some(marks), Some(text)) =
            (schema.get(MARK).and_then(Value::as_array), value.as_str())
        {
            for rule in marks
                .iter()
                .filter_map(Value::as_u64)
                .filter_map(|i| self.rules.get(usize::try_from(i).ok()?))
            {
                if !rule.regex.is_match(text) {
                    out.push(Mismatch {
                        path: path.clone(),
                        message: rule.message.clone(),
                    });
                }
            }
        }
        match value {
            Value::Object(map) => {
                let properties = schema.get("properties").and_then(Value::as_object);
                let additional = schema.get("additionalProperties").filter(|a| a.is_object());
                for (key, child) in map {
                    let Some(child_schema) = properties.and_then(|p| p.get(key)).or(additional)
                    else {
                        continue;
                    };
                    let child_path = if path.is_empty() {
                        key.clone()
                    } else {
                        format!("{path}.{key}")
                    };
                    self.check_node(child_schema, child, child_path, out);
                }
            }
            Value::Array(items) => {
                if let Some(item_schema) = schema.get("items") {
                    for (i, item) in items.iter().enumerate() {
                        self.check_node(item_schema, item, format!("{path}[{i}]"), out);
                    }
                }
            }
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn only_single_matches_calls_are_taken_out_of_cel() {
        assert_eq!(
            simple_pattern("self.matches('^[A-Z]{2}$')").as_deref(),
            Some("^[A-Z]{2}$")
        );
        assert_eq!(
            simple_pattern(r"self.matches('^[a\'b\\[]$')").as_deref(),
            Some(r"^[a'b\[]$")
        );
        assert_eq!(
            simple_pattern("self.matches('a') || self.matches('b')"),
            None
        );
        assert_eq!(simple_pattern("self.startsWith('x')"), None);
        assert_eq!(simple_pattern(r"self.matches('\n')"), None);
    }

    #[test]
    fn extracted_rules_report_like_cel_and_the_others_stay() {
        let schema = json!({"type": "object", "properties": {"users": {"type": "array", "items": {
        "type": "object", "properties": {"loc": {"type": "string", "x-kubernetes-validations": [
            {"rule": "self.matches('^[A-Z]{2}$')", "message": "two capitals"},
            {"rule": "self.size() == 2", "message": "two"},
        ]}}}}}});
        let mut cel = schema.clone();
        let mut annotated = schema.clone();
        let patterns = Patterns::extract(&mut cel, &mut annotated);
        let left =
            &cel["properties"]["users"]["items"]["properties"]["loc"]["x-kubernetes-validations"];
        assert_eq!(left.as_array().map(Vec::len), Some(1));
        assert_eq!(left[0]["message"], "two");
        let found = patterns.check(
            &annotated,
            &json!({"users": [{"loc": "US"}, {"loc": "us"}]}),
        );
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].path, "users[1].loc");
        assert_eq!(found[0].message, "two capitals");
    }
}
