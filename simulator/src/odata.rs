//! OData query options: `$select`, `$top`, `$filter`, `$count`, `$skiptoken`, `$deltatoken`,
//! and building `@odata.nextLink` URLs.

use serde_json::{Map, Value};

use crate::error::GraphError;

/// Decoded query parameters, keys lower-cased, in request order.
#[derive(Debug, Clone, Default)]
pub struct Query {
    pub params: Vec<(String, String)>,
}

impl Query {
    pub fn parse(raw: Option<&str>) -> Query {
        let params = raw
            .map(|q| {
                form_urlencoded::parse(q.as_bytes())
                    .map(|(k, v)| (k.to_ascii_lowercase(), v.into_owned()))
                    .collect()
            })
            .unwrap_or_default();
        Query { params }
    }

    pub fn get(&self, key: &str) -> Option<&str> {
        self.params
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    pub fn select(&self) -> Option<Vec<String>> {
        self.get("$select").map(|s| {
            s.split(',')
                .map(|p| p.trim().to_string())
                .filter(|p| !p.is_empty())
                .collect()
        })
    }

    /// `$top`, validated to 1..=999 like the directory does.
    pub fn top(&self) -> Result<Option<usize>, GraphError> {
        let Some(raw) = self.get("$top") else {
            return Ok(None);
        };
        match raw.trim().parse::<i64>() {
            Ok(n) if (1..=999).contains(&n) => Ok(usize::try_from(n).ok()),
            _ => Err(GraphError::unsupported_query(format!(
                "Invalid page size specified: '{raw}'. Must be between 1 and 999 inclusive."
            ))),
        }
    }

    pub fn count(&self) -> bool {
        self.get("$count")
            .is_some_and(|v| v.eq_ignore_ascii_case("true"))
    }

    /// The URL of the next page: every original parameter except the old skip/delta token,
    /// plus `extra`. Like Graph, `$` and `,` stay literal (`?$select=id,displayName&$top=5`);
    /// spaces become `%20` and quotes `%27` (notes §3.4's example).
    pub fn link(&self, base: &str, path: &str, extra: (&str, &str)) -> String {
        let parts: Vec<String> = self
            .params
            .iter()
            .filter(|(k, _)| k != "$skiptoken" && k != "$deltatoken")
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .chain(std::iter::once(extra))
            .map(|(k, v)| format!("{}={}", link_encode(k), link_encode(v)))
            .collect();
        format!("{base}{path}?{}", parts.join("&"))
    }
}

/// Characters percent-encoded in a query key or value of a nextLink: controls, space and the
/// characters that would end or confuse a query component. `$`, `,`, `(`, `)`, `:`, `/`, `@`
/// and `*` stay literal, as in Graph's links.
const LINK_ENCODE: &percent_encoding::AsciiSet = &percent_encoding::CONTROLS
    .add(b' ')
    .add(b'"')
    .add(b'#')
    .add(b'%')
    .add(b'&')
    .add(b'\'')
    .add(b'+')
    .add(b'<')
    .add(b'=')
    .add(b'>')
    .add(b'?')
    .add(b'[')
    .add(b'\\')
    .add(b']')
    .add(b'^')
    .add(b'`')
    .add(b'{')
    .add(b'|')
    .add(b'}');

fn link_encode(s: &str) -> String {
    percent_encoding::utf8_percent_encode(s, LINK_ENCODE).to_string()
}

/// A parsed `$filter` expression.
#[derive(Debug, Clone, PartialEq)]
pub enum Filter {
    Or(Vec<Filter>),
    And(Vec<Filter>),
    Eq(String, Literal),
    Ne(String, Literal),
    StartsWith(String, String),
    EndsWith(String, String),
}

#[derive(Debug, Clone, PartialEq)]
pub enum Literal {
    Str(String),
    Bool(bool),
    Null,
}

/// Properties of a user that may appear in `$filter`.
pub const USER_FILTERABLE: &[&str] = &[
    "id",
    "userPrincipalName",
    "mail",
    "displayName",
    "givenName",
    "surname",
    "mailNickname",
    "onPremisesImmutableId",
    "accountEnabled",
    "usageLocation",
    "onPremisesSyncEnabled",
];

fn invalid_filter(clause: &str) -> GraphError {
    GraphError::bad_request(format!("Invalid filter clause: {clause}"))
}

/// Splits `text` at top-level occurrences of ` <word> ` (case-insensitive), outside quotes
/// and parentheses.
fn split_top_level(text: &str, word: &str) -> Vec<String> {
    let needle = format!(" {word} ");
    let lower = text.to_ascii_lowercase();
    let bytes = text.as_bytes();
    let mut parts = Vec::new();
    let (mut depth, mut in_str, mut start, mut i) = (0i32, false, 0usize, 0usize);
    while i < bytes.len() {
        match bytes[i] {
            b'\'' => in_str = !in_str,
            b'(' if !in_str => depth += 1,
            b')' if !in_str => depth -= 1,
            _ => {}
        }
        if !in_str && depth == 0 && lower[i..].starts_with(&needle) {
            parts.push(text[start..i].to_string());
            i += needle.len();
            start = i;
            continue;
        }
        i += 1;
    }
    parts.push(text[start..].to_string());
    parts
}

fn parse_literal(raw: &str) -> Option<Literal> {
    let raw = raw.trim();
    if raw.len() >= 2 && raw.starts_with('\'') && raw.ends_with('\'') {
        return Some(Literal::Str(raw[1..raw.len() - 1].replace("''", "'")));
    }
    match raw.to_ascii_lowercase().as_str() {
        "true" => Some(Literal::Bool(true)),
        "false" => Some(Literal::Bool(false)),
        "null" => Some(Literal::Null),
        _ => None,
    }
}

fn check_property<'a>(prop: &'a str, filterable: &[&str]) -> Result<&'a str, GraphError> {
    if filterable.contains(&prop) {
        Ok(prop)
    } else {
        Err(GraphError::unsupported_query(format!(
            "Unsupported or invalid query filter clause specified for property '{prop}' of resource 'User'."
        )))
    }
}

pub fn parse_filter(text: &str, filterable: &[&str]) -> Result<Filter, GraphError> {
    let ors = split_top_level(text.trim(), "or");
    if ors.len() > 1 {
        return ors
            .iter()
            .map(|p| parse_filter(p, filterable))
            .collect::<Result<_, _>>()
            .map(Filter::Or);
    }
    let ands = split_top_level(text.trim(), "and");
    if ands.len() > 1 {
        return ands
            .iter()
            .map(|p| parse_filter(p, filterable))
            .collect::<Result<_, _>>()
            .map(Filter::And);
    }
    let clause = text.trim();
    if clause.starts_with('(') && clause.ends_with(')') {
        return parse_filter(&clause[1..clause.len() - 1], filterable);
    }
    let lower = clause.to_ascii_lowercase();
    for (fname, is_start) in [("startswith(", true), ("endswith(", false)] {
        if lower.starts_with(fname) && clause.ends_with(')') {
            let args = &clause[fname.len()..clause.len() - 1];
            let (prop, lit) = args.split_once(',').ok_or_else(|| invalid_filter(clause))?;
            let prop = check_property(prop.trim(), filterable)?;
            let Some(Literal::Str(value)) = parse_literal(lit) else {
                return Err(invalid_filter(clause));
            };
            return Ok(if is_start {
                Filter::StartsWith(prop.to_string(), value)
            } else {
                Filter::EndsWith(prop.to_string(), value)
            });
        }
    }
    let mut words = clause.splitn(3, ' ');
    let (Some(prop), Some(op), Some(lit)) = (words.next(), words.next(), words.next()) else {
        return Err(invalid_filter(clause));
    };
    let prop = check_property(prop, filterable)?.to_string();
    let lit = parse_literal(lit).ok_or_else(|| invalid_filter(clause))?;
    match op.to_ascii_lowercase().as_str() {
        "eq" => Ok(Filter::Eq(prop, lit)),
        "ne" => Ok(Filter::Ne(prop, lit)),
        _ => Err(invalid_filter(clause)),
    }
}

impl Filter {
    /// True when the filter needs advanced query parameters (`endsWith`, `ne`).
    pub fn needs_advanced(&self) -> Option<&'static str> {
        match self {
            Filter::Or(v) | Filter::And(v) => v.iter().find_map(Filter::needs_advanced),
            Filter::EndsWith(..) => Some("endsWith"),
            Filter::Ne(..) => Some("ne"),
            _ => None,
        }
    }

    pub fn matches(&self, obj: &Map<String, Value>) -> bool {
        match self {
            Filter::Or(v) => v.iter().any(|f| f.matches(obj)),
            Filter::And(v) => v.iter().all(|f| f.matches(obj)),
            Filter::Eq(p, lit) => literal_eq(obj.get(p), lit),
            Filter::Ne(p, lit) => !literal_eq(obj.get(p), lit),
            Filter::StartsWith(p, s) => {
                str_prop(obj, p).is_some_and(|v| v.to_lowercase().starts_with(&s.to_lowercase()))
            }
            Filter::EndsWith(p, s) => {
                str_prop(obj, p).is_some_and(|v| v.to_lowercase().ends_with(&s.to_lowercase()))
            }
        }
    }
}

fn str_prop<'a>(obj: &'a Map<String, Value>, p: &str) -> Option<&'a str> {
    obj.get(p).and_then(Value::as_str)
}

fn literal_eq(v: Option<&Value>, lit: &Literal) -> bool {
    match (v, lit) {
        (Some(Value::String(s)), Literal::Str(l)) => s.eq_ignore_ascii_case(l),
        (Some(Value::Bool(b)), Literal::Bool(l)) => b == l,
        (None | Some(Value::Null), Literal::Null) => true,
        _ => false,
    }
}

/// Message of the 400 for an advanced operator used without `ConsistencyLevel` + `$count`.
pub fn advanced_query_error(operator: &str) -> GraphError {
    GraphError::unsupported_query(format!(
        "Operator '{operator}' is not supported because the required parameters might be missing. Try adding $count=true query parameter and ConsistencyLevel:eventual header. Refer to https://aka.ms/graph-docs/advanced-queries for more information"
    ))
}
