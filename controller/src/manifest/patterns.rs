//! CEL rules of the form `self.matches('<regex>')`, compiled once per run instead of once per
//! value: the CEL interpreter compiles the regex at every call, which made a 100,000-user file
//! spend minutes building the same automaton. [`super::schema::Schema`] takes such rules out
//! of what it gives the CEL validator and checks them with the same regex engine and the same
//! message; every other rule stays with CEL.

use regex::Regex;
use serde_json::Value;

/// One extracted rule.
pub struct PatternRule {
    /// The rule's regex, compiled.
    pub regex: Regex,
    /// The rule's message.
    pub message: String,
}

/// The rule `rule` (one entry of `x-kubernetes-validations`) as a compiled regex, when it is
/// exactly `self.matches('...')` with a message and a pattern the regex engine accepts; `None`
/// leaves it to CEL (which reports a bad pattern as it always did).
pub fn extract(rule: &Value) -> Option<PatternRule> {
    let text = rule.get("rule").and_then(Value::as_str)?;
    let message = rule.get("message").and_then(Value::as_str)?;
    let regex = Regex::new(&simple_pattern(text)?).ok()?;
    Some(PatternRule {
        regex,
        message: message.to_owned(),
    })
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
    fn a_matches_rule_with_a_message_is_extracted_and_others_are_not() {
        let rule =
            extract(&json!({"rule": "self.matches('^[A-Z]{2}$')", "message": "two capitals"}))
                .map(|r| (r.regex.is_match("US"), r.regex.is_match("us"), r.message));
        assert_eq!(rule, Some((true, false, "two capitals".to_owned())));
        assert!(extract(&json!({"rule": "self.matches('^[A-Z]{2}$')"})).is_none());
        assert!(extract(&json!({"rule": "self.matches('(')", "message": "m"})).is_none());
        assert!(extract(&json!({"rule": "self.size() == 2", "message": "m"})).is_none());
    }
}
