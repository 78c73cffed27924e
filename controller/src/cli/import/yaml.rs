//! The YAML `import` writes: each object serialised by serde-saphyr (the data), with comments
//! added around it (what was inferred, what was skipped and why). Comments may carry text from
//! the tenant (UPNs, names), so every line is made inert: control characters, which could end
//! the comment and start YAML, become spaces.

use std::collections::BTreeMap;

use serde::Serialize;

/// Comment lines are wrapped at this many columns (a longer word keeps its own line).
const WIDTH: usize = 100;

/// `text` as comment lines at `indent`: each of its lines prefixed by `# ` and wrapped at
/// [`WIDTH`] columns, each ending in a newline; control characters become spaces.
pub fn comment_lines(text: &str, indent: &str) -> String {
    let mut out = String::with_capacity(text.len() + 8);
    let room = WIDTH.saturating_sub(indent.len() + 2).max(20);
    for line in text.split('\n') {
        let clean: String = line
            .chars()
            .map(|c| if c.is_control() { ' ' } else { c })
            .collect();
        let mut current = String::new();
        let mut wrote = false;
        for word in clean.split(' ').filter(|w| !w.is_empty()) {
            if !current.is_empty() && current.chars().count() + 1 + word.chars().count() > room {
                push_comment(&mut out, indent, &current);
                wrote = true;
                current.clear();
            }
            if !current.is_empty() {
                current.push(' ');
            }
            current.push_str(word);
        }
        if !current.is_empty() || !wrote {
            push_comment(&mut out, indent, &current);
        }
    }
    out
}

fn push_comment(out: &mut String, indent: &str, text: &str) {
    out.push_str(indent);
    out.push('#');
    if !text.is_empty() {
        out.push(' ');
        out.push_str(text);
    }
    out.push('\n');
}

/// One YAML document: the header comments, then `object` as serde-saphyr writes it, with
/// `notes` (keyed by lower-case user principal name) put above the list entry
/// `- userPrincipalName: <upn>` they concern, at its indentation.
pub fn document<T: Serialize>(
    object: &T,
    header: &[String],
    notes: &BTreeMap<String, Vec<String>>,
) -> Result<String, String> {
    let yaml = serde_saphyr::to_string(object).map_err(|e| e.to_string())?;
    let mut out = String::with_capacity(yaml.len() + 256);
    for (i, h) in header.iter().enumerate() {
        if i > 0 {
            // Paragraphs: one empty comment line between items.
            out.push_str("#\n");
        }
        out.push_str(&comment_lines(h, ""));
    }
    for line in yaml.lines() {
        if !notes.is_empty() {
            let trimmed = line.trim_start();
            if let Some(value) = trimmed.strip_prefix("- userPrincipalName:") {
                let upn = value.trim().trim_matches(['\'', '"']).to_ascii_lowercase();
                if let Some(lines) = notes.get(&upn) {
                    let indent = &line[..line.len() - trimmed.len()];
                    for note in lines {
                        out.push_str(&comment_lines(note, indent));
                    }
                }
            }
        }
        out.push_str(line);
        out.push('\n');
    }
    Ok(out)
}

/// Documents joined into one multi-document stream.
pub fn stream<'a>(documents: impl IntoIterator<Item = &'a str>) -> String {
    let mut out = String::new();
    for d in documents {
        out.push_str("---\n");
        out.push_str(d);
        if !d.ends_with('\n') {
            out.push('\n');
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Serialize)]
    #[serde(rename_all = "camelCase")]
    struct Entry {
        user_principal_name: String,
        display_name: String,
    }

    #[derive(Serialize)]
    struct Doc {
        kind: String,
        users: Vec<Entry>,
    }

    fn doc() -> Doc {
        Doc {
            kind: "AppAssignment".into(),
            users: ["ann@corp.example.com", "bob@corp.example.com"]
                .iter()
                .map(|u| Entry {
                    user_principal_name: u.to_string(),
                    display_name: "# not a comment\nkind: Evil".into(),
                })
                .collect(),
        }
    }

    #[test]
    fn a_comment_cannot_end_its_line_and_start_yaml() {
        let c = comment_lines("first\nsecond\r\nkind: Evil\u{0}x\u{85}y", "  ");
        assert_eq!(c, "  # first\n  # second\n  # kind: Evil x y\n");
        assert_eq!(comment_lines("", ""), "#\n");
        let long = format!("{}end", "word ".repeat(40));
        let wrapped = comment_lines(&long, "  ");
        assert!(wrapped.lines().count() > 1, "{wrapped}");
        assert!(
            wrapped
                .lines()
                .all(|l| l.len() <= WIDTH && l.starts_with("  # "))
        );
        let words = |t: &str| {
            t.split_whitespace()
                .filter(|w| *w != "#")
                .collect::<Vec<_>>()
                .join(" ")
        };
        assert_eq!(words(&wrapped), long);
    }

    #[test]
    fn header_and_entry_notes_are_comments_and_the_data_parses_unchanged() {
        let notes = BTreeMap::from([(
            "bob@corp.example.com".to_string(),
            vec!["synced\nfrom AD".to_string()],
        )]);
        let header = ["inferred: 2 users".to_string(), "second".to_string()];
        let text = document(&doc(), &header, &notes).unwrap();
        assert!(
            text.starts_with("# inferred: 2 users\n#\n# second\nkind:"),
            "{text}"
        );
        let lines: Vec<&str> = text.lines().collect();
        let bob = lines
            .iter()
            .position(|l| l.trim_start() == "- userPrincipalName: bob@corp.example.com")
            .unwrap();
        let indent = &lines[bob][..lines[bob].len() - lines[bob].trim_start().len()];
        assert_eq!(lines[bob - 2], format!("{indent}# synced"));
        assert_eq!(lines[bob - 1], format!("{indent}# from AD"));
        assert_eq!(text.matches("# synced").count(), 1, "only bob is noted");
        // The comments change nothing in the data, and data that looks like a comment stays data.
        let back: serde_json::Value = serde_saphyr::from_str(&text).unwrap();
        let plain: serde_json::Value =
            serde_saphyr::from_str(&serde_saphyr::to_string(&doc()).unwrap()).unwrap();
        assert_eq!(back, plain);
        assert_eq!(
            back["users"][1]["displayName"],
            "# not a comment\nkind: Evil"
        );
    }

    #[test]
    fn a_stream_separates_documents() {
        assert_eq!(stream(["a: 1\n", "b: 2"]), "---\na: 1\n---\nb: 2\n");
    }
}
