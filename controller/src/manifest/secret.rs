//! `Secret` documents (credentials for CLI mode). Their problems are reported by field path and
//! expected type, never with the value: a type error must not print a client secret.

use base64::Engine;
use k8s_openapi::api::core::v1::Secret;
use serde_json::Value;

const NOT_SHOWN: &str = "(the value is not shown: it may be secret)";

/// The Secret in `value`, or every problem as `(field path, message)`.
pub fn parse(value: Value) -> Result<Secret, Vec<(String, String)>> {
    let mut problems = Vec::new();
    for field in ["data", "stringData"] {
        match value.get(field) {
            None | Some(Value::Null) => {}
            Some(Value::Object(entries)) => {
                for (key, v) in entries {
                    let path = format!("{field}.{key}");
                    match v {
                        Value::String(text) if field == "data" => {
                            let decoded =
                                base64::engine::general_purpose::STANDARD.decode(text.trim());
                            if decoded.is_err() {
                                problems.push((
                                    path,
                                    format!("must be base64; put plain text under stringData instead {NOT_SHOWN}"),
                                ));
                            }
                        }
                        Value::String(_) => {}
                        other => problems.push((
                            path,
                            format!(
                                "must be a string, not {}; quote it {NOT_SHOWN}",
                                type_name(other)
                            ),
                        )),
                    }
                }
            }
            Some(other) => problems.push((
                field.to_owned(),
                format!("must be a mapping of key: value, not {}", type_name(other)),
            )),
        }
    }
    if !problems.is_empty() {
        return Err(problems);
    }
    serde_json::from_value::<Secret>(value).map_err(|e| {
        vec![(
            String::new(),
            format!("invalid Secret: {} {NOT_SHOWN}", describe(&e.to_string())),
        )]
    })
}

fn type_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "a mapping",
    }
}

/// serde's message with every quoted fragment (where it prints values) cut out.
fn describe(message: &str) -> String {
    let mut out = String::new();
    let mut quote: Option<char> = None;
    for c in message.chars() {
        match quote {
            Some(q) if c == q => quote = None,
            Some(_) => {}
            None if c == '`' || c == '"' => {
                quote = Some(c);
                out.push_str("<value>");
            }
            None => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn secret(data: Value) -> Value {
        let mut v = json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s"}});
        if let (Some(map), Value::Object(extra)) = (v.as_object_mut(), data) {
            map.extend(extra);
        }
        v
    }

    #[test]
    fn a_non_string_secret_value_is_reported_without_the_value() {
        let problems =
            parse(secret(json!({"stringData": {"client-secret": 987654321}}))).unwrap_err();
        assert_eq!(problems.len(), 1);
        assert_eq!(problems[0].0, "stringData.client-secret");
        assert!(!problems[0].1.contains("987654321"), "{problems:?}");
        assert!(problems[0].1.contains("must be a string"), "{problems:?}");
    }

    #[test]
    fn bad_base64_is_reported_without_the_value() {
        let problems = parse(secret(json!({"data": {"k": "hunter2!!"}}))).unwrap_err();
        assert!(!problems[0].1.contains("hunter2"), "{problems:?}");
        assert!(problems[0].1.contains("base64"), "{problems:?}");
    }

    #[test]
    fn other_serde_errors_lose_their_quoted_values() {
        assert_eq!(
            describe("invalid type: string \"s3cret\", expected `x` here"),
            "invalid type: string <value>, expected <value> here"
        );
        let problems = parse(secret(json!({"type": ["s3cret-type"]}))).unwrap_err();
        assert!(!problems[0].1.contains("s3cret"), "{problems:?}");
    }

    #[test]
    fn a_valid_secret_parses() {
        let s = parse(secret(
            json!({"stringData": {"a": "b"}, "data": {"c": "ZA=="}}),
        ))
        .unwrap();
        assert_eq!(s.string_data.unwrap()["a"], "b");
    }
}
