//! Getting manifest text off the disk safely: regular files only (a FIFO or a device such as
//! `/dev/zero` is refused before a byte is read, never waited on), at most
//! [`Limits::max_file_size`] bytes each, UTF-8 checked with the line and column of the first bad
//! byte, and symbolic-link loops named as such (a loop is read once, not forty times).

use std::collections::HashSet;
use std::fs::{File, Metadata};
use std::io::Read;
use std::path::{Path, PathBuf};

use super::{Diagnostic, Position};

/// The default largest manifest file read: 64 MiB.
pub const DEFAULT_MAX_FILE_SIZE: u64 = 64 * 1024 * 1024;

/// Limits on what the loader reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// The largest file read, in bytes (`--max-file-size`).
    pub max_file_size: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_file_size: DEFAULT_MAX_FILE_SIZE,
        }
    }
}

/// Parses a size such as `64MiB`, `100M`, `1GiB`, `512k` or `1048576` (bytes); binary units.
pub fn parse_size(text: &str) -> Result<u64, String> {
    let t = text.trim();
    let digits = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let (number, unit) = t.split_at(digits);
    let n: u64 = number
        .parse()
        .map_err(|_| format!("{text:?} is not a size: write a number of bytes or e.g. 128MiB"))?;
    let factor: u64 = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "k" | "kb" | "kib" => 1 << 10,
        "m" | "mb" | "mib" => 1 << 20,
        "g" | "gb" | "gib" => 1 << 30,
        other => {
            return Err(format!(
                "unknown size unit {other:?} in {text:?}: use KiB, MiB or GiB (e.g. 128MiB)"
            ));
        }
    };
    n.checked_mul(factor)
        .ok_or_else(|| format!("{text:?} is too large a size"))
}

/// `bytes` for people: `64 MiB`, `1.5 KiB`, `17 bytes`.
pub fn human_size(bytes: u64) -> String {
    const UNITS: [(&str, u64); 3] = [("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)];
    for (name, size) in UNITS {
        if bytes >= size {
            let whole = bytes / size;
            let tenth = (bytes % size) * 10 / size;
            return if tenth == 0 {
                format!("{whole} {name}")
            } else {
                format!("{whole}.{tenth} {name}")
            };
        }
    }
    format!("{bytes} bytes")
}

fn problem(file: &Path, position: Position, message: String) -> Diagnostic {
    Diagnostic {
        file: file.to_owned(),
        position,
        message,
    }
}

/// Whether an I/O error is "too many levels of symbolic links".
fn is_symlink_loop(e: &std::io::Error) -> bool {
    #[cfg(unix)]
    {
        e.raw_os_error() == Some(libc::ELOOP)
    }
    #[cfg(not(unix))]
    {
        let _ = e;
        false
    }
}

fn io_message(e: &std::io::Error, what: &str) -> String {
    if is_symlink_loop(e) {
        "symbolic link loop: following this path leads back to itself (too many levels of symbolic links); fix or remove the link".to_owned()
    } else if e.kind() == std::io::ErrorKind::NotFound {
        "no such file or directory".to_owned()
    } else {
        format!("cannot {what}: {e}")
    }
}

#[cfg(unix)]
fn identity(meta: &Metadata) -> (u64, u64) {
    use std::os::unix::fs::MetadataExt;
    (meta.dev(), meta.ino())
}

#[cfg(not(unix))]
fn identity(meta: &Metadata) -> (u64, u64) {
    (0, meta.len())
}

/// The files to read under `paths`, directories recursively in name order (`.yaml`/`.yml`
/// only); a directory reached again through a symbolic link is reported once as a loop, and a
/// file reached through two paths is read once.
pub fn collect(paths: &[PathBuf], diagnostics: &mut Vec<Diagnostic>) -> Vec<PathBuf> {
    let mut walk = Walk {
        files: Vec::new(),
        seen_files: HashSet::new(),
        ancestors: Vec::new(),
        diagnostics,
    };
    for path in paths {
        walk.visit(path);
    }
    walk.files
}

struct Walk<'a> {
    files: Vec<PathBuf>,
    seen_files: HashSet<(u64, u64)>,
    ancestors: Vec<((u64, u64), PathBuf)>,
    diagnostics: &'a mut Vec<Diagnostic>,
}

impl Walk<'_> {
    fn visit(&mut self, path: &Path) {
        let meta = match std::fs::metadata(path) {
            Ok(m) => m,
            Err(e) => {
                let message = io_message(&e, "read it");
                self.diagnostics
                    .push(problem(path, Position::default(), message));
                return;
            }
        };
        if !meta.is_dir() {
            // Whether it is a regular file is checked when it is read, with the reason.
            if !meta.is_file() || self.seen_files.insert(identity(&meta)) {
                self.files.push(path.to_owned());
            }
            return;
        }
        let id = identity(&meta);
        if let Some((_, first)) = self.ancestors.iter().find(|(a, _)| *a == id) {
            let message = format!(
                "symbolic link loop: this directory is {} again; its files are read once (remove the link that points back up the tree)",
                first.display()
            );
            self.diagnostics
                .push(problem(path, Position::default(), message));
            return;
        }
        let mut entries: Vec<PathBuf> = match std::fs::read_dir(path) {
            Ok(rd) => rd.filter_map(|e| e.ok().map(|e| e.path())).collect(),
            Err(e) => {
                let message = io_message(&e, "list the directory");
                self.diagnostics
                    .push(problem(path, Position::default(), message));
                return;
            }
        };
        entries.sort();
        self.ancestors.push((id, path.to_owned()));
        for entry in entries {
            let is_yaml = entry.extension().is_some_and(|e| e == "yaml" || e == "yml");
            if entry.is_dir() || is_yaml {
                self.visit(&entry);
            }
        }
        self.ancestors.pop();
    }
}

fn file_type_name(meta: &Metadata) -> &'static str {
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileTypeExt;
        let t = meta.file_type();
        if t.is_fifo() {
            return "a FIFO (named pipe)";
        }
        if t.is_char_device() {
            return "a character device";
        }
        if t.is_block_device() {
            return "a block device";
        }
        if t.is_socket() {
            return "a socket";
        }
    }
    if meta.is_dir() {
        "a directory"
    } else {
        "not a regular file"
    }
}

fn not_regular(file: &Path, meta: &Metadata) -> Diagnostic {
    problem(
        file,
        Position::default(),
        format!(
            "not a regular file ({}): manifests are read from regular files only; save them to a file first",
            file_type_name(meta)
        ),
    )
}

fn too_large(file: &Path, size: u64, limits: &Limits) -> Diagnostic {
    problem(
        file,
        Position::default(),
        format!(
            "the file is {} ({size} bytes), more than the limit of {}: split it over several files or raise the limit with --max-file-size",
            human_size(size),
            human_size(limits.max_file_size)
        ),
    )
}

fn open_without_blocking(file: &Path) -> std::io::Result<File> {
    let mut options = std::fs::OpenOptions::new();
    options.read(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        // A FIFO swapped in after the check below must not block the open.
        options.custom_flags(libc::O_NONBLOCK);
    }
    options.open(file)
}

/// Reads one manifest file as UTF-8 text, within `limits`.
pub fn read(file: &Path, limits: &Limits) -> Result<String, Diagnostic> {
    let io_problem =
        |e: std::io::Error| problem(file, Position::default(), io_message(&e, "read the file"));
    // Checked before opening: opening a FIFO waits for a writer, and some devices act on open.
    let meta = std::fs::metadata(file).map_err(io_problem)?;
    if !meta.is_file() {
        return Err(not_regular(file, &meta));
    }
    if meta.len() > limits.max_file_size {
        return Err(too_large(file, meta.len(), limits));
    }
    let handle = open_without_blocking(file).map_err(io_problem)?;
    // And again on what was opened, in case the path changed in between.
    let meta = handle.metadata().map_err(io_problem)?;
    if !meta.is_file() {
        return Err(not_regular(file, &meta));
    }
    let capacity = usize::try_from(meta.len().min(limits.max_file_size)).unwrap_or(0);
    let mut bytes = Vec::with_capacity(capacity);
    handle
        .take(limits.max_file_size.saturating_add(1))
        .read_to_end(&mut bytes)
        .map_err(io_problem)?;
    let read = bytes.len() as u64;
    if read > limits.max_file_size {
        return Err(too_large(file, read, limits));
    }
    String::from_utf8(bytes).map_err(|e| {
        let valid = e.utf8_error().valid_up_to();
        let bytes = e.as_bytes();
        problem(
            file,
            utf8_position(bytes, valid),
            utf8_message(bytes, valid),
        )
    })
}

/// The line and column (in characters) of byte `offset`, all bytes before it being UTF-8.
fn utf8_position(bytes: &[u8], offset: usize) -> Position {
    let before = std::str::from_utf8(&bytes[..offset]).unwrap_or_default();
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    let column = before[line_start..].chars().count() + 1;
    Position {
        line: u32::try_from(line).unwrap_or(u32::MAX),
        column: u32::try_from(column).unwrap_or(u32::MAX),
    }
}

fn utf8_message(bytes: &[u8], offset: usize) -> String {
    if bytes.starts_with(&[0xFF, 0xFE]) || bytes.starts_with(&[0xFE, 0xFF]) {
        return "not UTF-8: the file looks like UTF-16 (it starts with a UTF-16 byte-order mark); save it as UTF-8".to_owned();
    }
    let byte = bytes.get(offset).copied().unwrap_or_default();
    format!(
        "not valid UTF-8 (byte 0x{byte:02X} at offset {offset}): manifests must be UTF-8 text; save the file as UTF-8"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_parse_with_binary_units() {
        assert_eq!(parse_size("64MiB"), Ok(64 << 20));
        assert_eq!(parse_size("100M"), Ok(100 << 20));
        assert_eq!(parse_size("1GiB"), Ok(1 << 30));
        assert_eq!(parse_size("512k"), Ok(512 << 10));
        assert_eq!(parse_size("1048576"), Ok(1 << 20));
        assert!(parse_size("lots").is_err());
        assert!(parse_size("5TB").is_err());
        assert!(parse_size("18446744073709551615GiB").is_err());
    }

    #[test]
    fn sizes_print_for_people() {
        assert_eq!(human_size(64 << 20), "64 MiB");
        assert_eq!(human_size(1536), "1.5 KiB");
        assert_eq!(human_size(17), "17 bytes");
    }

    #[test]
    fn utf8_errors_point_at_their_line_and_column() {
        let mut bytes = "a: 1\nbé: \u{e9}x".as_bytes().to_vec();
        bytes.push(0xFF);
        let offset = bytes.len() - 1;
        let p = utf8_position(&bytes, offset);
        assert_eq!((p.line, p.column), (2, 7));
    }
}
