//! The order of a plan and its id. Actions run by phase (users → federation → licenses →
//! deprovisioning), then by subject; the id is a hash of the ordered actions, so the same
//! actions always give the same id.

use sha2::{Digest, Sha256};

use super::output::Planned;
use crate::model::Action;

/// Sorts by phase, then subject; a license addition comes before a removal of the same user.
pub(crate) fn sort_actions(actions: &mut [Planned]) {
    actions.sort_by(|a, b| {
        let (a, b) = (&a.action, &b.action);
        (a.phase(), a.subject(), rank(a)).cmp(&(b.phase(), b.subject(), rank(b)))
    });
}

fn rank(a: &Action) -> u8 {
    match a {
        Action::AssignLicenses { remove, .. } if !remove.is_empty() => 1,
        _ => 0,
    }
}

/// The plan id: the first 12 hex digits of the SHA-256 of the canonical JSON of the ordered
/// actions (all of them, including those a change budget will hold).
pub(crate) fn plan_id(actions: &[Planned]) -> String {
    let list: Vec<&Action> = actions.iter().map(|p| &p.action).collect();
    // Streamed into the hash: a large plan's JSON is tens of megabytes.
    let mut hasher = HashWriter(Sha256::new());
    let _ = serde_json::to_writer(std::io::BufWriter::new(&mut hasher), &list);
    hasher
        .0
        .finalize()
        .iter()
        .take(6)
        .map(|b| format!("{b:02x}"))
        .collect()
}

struct HashWriter(Sha256);

impl std::io::Write for HashWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.update(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}
