//! Input limits of `validate`/`plan`/`apply`: a FIFO, a device, an oversized file, invalid
//! UTF-8, a symbolic-link loop and an alias bomb each get a clear error within a second and
//! without the process growing by 100 MB (nothing huge is read); a file of 100,000 users
//! within the schema's limits loads; a Secret's value is never echoed.
//!
//! Memory is the process's peak resident set (`VmHWM`), reset before each case through
//! `/proc/self/clear_refs`; the cases run one at a time (a lock) so that they measure only
//! themselves.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use o365_controller::manifest::{self, Diagnostic, Limits};

static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());

const SECOND: Duration = Duration::from_secs(1);
const HUNDRED_MB: u64 = 100 * 1000 * 1000;

const TENANT: &str = "apiVersion: o365-controller.io/v1alpha1
kind: Tenant
metadata:
  name: t
spec:
  tenantId: 11111111-1111-1111-1111-111111111111
  clientId: 22222222-2222-2222-2222-222222222222
  credentials:
    clientSecret:
      secretName: s
";

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("o365-limits-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn peak_rss_bytes() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb * 1024)
}

/// Runs `f` and checks it took under `time` and grew the peak RSS by under `memory` bytes.
fn within<T>(time: Duration, memory: u64, f: impl FnOnce() -> T) -> T {
    let reset = std::fs::write("/proc/self/clear_refs", "5").is_ok();
    let before = peak_rss_bytes();
    let start = Instant::now();
    let out = f();
    let took = start.elapsed();
    assert!(took < time, "took {took:?}, more than {time:?}");
    if let (true, Some(before), Some(after)) = (reset, before, peak_rss_bytes()) {
        let grew = after.saturating_sub(before);
        assert!(grew < memory, "the peak RSS grew by {grew} bytes");
    }
    out
}

fn refused(paths: &[PathBuf], limits: &Limits) -> Vec<Diagnostic> {
    match within(SECOND, HUNDRED_MB, || manifest::load_with(paths, limits)) {
        Ok(m) => panic!("accepted: {m:?}"),
        Err(d) => d,
    }
}

fn shown(d: &[Diagnostic]) -> Vec<String> {
    d.iter().map(ToString::to_string).collect()
}

#[cfg(unix)]
#[test]
fn dev_zero_is_refused_as_a_device_before_anything_is_read() {
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let d = refused(&[PathBuf::from("/dev/zero")], &Limits::default());
    let s = shown(&d);
    assert_eq!(s.len(), 1, "{s:#?}");
    assert!(s[0].starts_with("/dev/zero:"), "{s:#?}");
    assert!(
        s[0].contains("not a regular file (a character device)"),
        "{s:#?}"
    );
}

#[cfg(unix)]
#[test]
fn a_fifo_is_refused_without_waiting_for_a_writer() {
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let dir = scratch("fifo");
    let fifo = dir.join("pipe.yaml");
    let made = Command::new("mkfifo").arg(&fifo).status().unwrap();
    assert!(made.success());
    // Named directly, and found in a directory.
    for path in [fifo.clone(), dir.clone()] {
        let s = shown(&refused(&[path], &Limits::default()));
        assert_eq!(s.len(), 1, "{s:#?}");
        assert!(s[0].contains("pipe.yaml"), "{s:#?}");
        assert!(
            s[0].contains("not a regular file (a FIFO (named pipe))"),
            "{s:#?}"
        );
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_file_over_the_size_limit_is_refused_before_it_is_read() {
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let dir = scratch("size");
    let big = dir.join("big.yaml");
    // Sparse: 1 GiB on paper, nothing on disk. Reading it would take seconds and 1 GiB.
    std::fs::File::create(&big)
        .unwrap()
        .set_len(1 << 30)
        .unwrap();
    let s = shown(&refused(std::slice::from_ref(&big), &Limits::default()));
    assert_eq!(s.len(), 1, "{s:#?}");
    assert!(s[0].contains("big.yaml"), "{s:#?}");
    assert!(s[0].contains("the file is 1 GiB"), "{s:#?}");
    assert!(s[0].contains("more than the limit of 64 MiB"), "{s:#?}");
    assert!(s[0].contains("--max-file-size"), "{s:#?}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn max_file_size_raises_or_lowers_the_limit() {
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let dir = scratch("limit");
    let file = dir.join("tenant.yaml");
    std::fs::write(&file, TENANT).unwrap();
    let small = Limits { max_file_size: 100 };
    let s = shown(&refused(std::slice::from_ref(&file), &small));
    assert!(s[0].contains("more than the limit of 100 bytes"), "{s:#?}");
    let roomy = Limits {
        max_file_size: 4096,
    };
    assert!(manifest::load_with(std::slice::from_ref(&file), &roomy).is_ok());

    // The same through the command line.
    let cli = |size: &str| {
        Command::new(env!("CARGO_BIN_EXE_o365-controller"))
            .args(["validate", "-f"])
            .arg(&file)
            .args(["--max-file-size", size])
            .output()
            .unwrap()
    };
    let out = cli("100");
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("more than the limit of 100 bytes"));
    assert_eq!(cli("1KiB").status.code(), Some(0));
    let out = cli("lots");
    assert_eq!(out.status.code(), Some(2), "clap refuses a bad size");
    assert!(String::from_utf8_lossy(&out.stderr).contains("is not a size"));
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn invalid_utf8_is_reported_at_its_line_and_column() {
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let dir = scratch("utf8");
    let file = dir.join("latin1.yaml");
    let mut bytes = TENANT.replace("name: t", "name: caf").into_bytes();
    let at = bytes.windows(8).position(|w| w == b"name: ca").unwrap() + 9;
    bytes.insert(at, 0xE9); // "café" in Latin-1
    std::fs::write(&file, bytes).unwrap();
    let d = refused(std::slice::from_ref(&file), &Limits::default());
    assert_eq!(d.len(), 1, "{:#?}", shown(&d));
    assert_eq!(
        (d[0].position.line, d[0].position.column),
        (4, 12),
        "{}",
        d[0]
    );
    assert!(
        d[0].message.contains("not valid UTF-8 (byte 0xE9"),
        "{}",
        d[0]
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[cfg(unix)]
#[test]
fn a_symlink_loop_is_named_once_instead_of_forty_duplicate_objects() {
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let dir = scratch("loop");
    std::fs::write(dir.join("tenant.yaml"), TENANT).unwrap();
    std::os::unix::fs::symlink(&dir, dir.join("again")).unwrap();
    std::os::unix::fs::symlink("self.yaml", dir.join("self.yaml")).unwrap();
    let s = shown(&refused(std::slice::from_ref(&dir), &Limits::default()));
    assert_eq!(s.len(), 2, "{s:#?}");
    assert!(s.iter().all(|m| !m.contains("defined twice")), "{s:#?}");
    assert!(
        s.iter()
            .any(|m| m.contains("again:") && m.contains("symbolic link loop")),
        "{s:#?}"
    );
    assert!(
        s.iter()
            .any(|m| m.contains("self.yaml:") && m.contains("symbolic link loop")),
        "{s:#?}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn an_alias_bomb_is_refused_and_called_one() {
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let mut bomb = String::from("apiVersion: v1\nkind: Secret\nmetadata:\n  name: lol\n");
    bomb.push_str(
        "a: &a [\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\"]\n",
    );
    let names = ["b", "c", "d", "e", "f", "g", "h", "i"];
    let mut previous = "a";
    for name in names {
        let refs = vec![format!("*{previous}"); 9].join(",");
        bomb.push_str(&format!("{name}: &{name} [{refs}]\n"));
        previous = name;
    }
    let dir = scratch("bomb");
    let file = dir.join("bomb.yaml");
    std::fs::write(&file, bomb).unwrap();
    let s = shown(&refused(std::slice::from_ref(&file), &Limits::default()));
    assert_eq!(s.len(), 1, "{s:#?}");
    assert!(s[0].contains("alias bomb"), "{s:#?}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_type_error_on_a_secret_value_does_not_print_the_value() {
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let text = "apiVersion: v1
kind: Secret
metadata:
  name: s
stringData:
  client-secret: 8675309123
  other: [s3cr3t-in-a-list]
";
    let d = match manifest::load_str(Path::new("s.yaml"), text) {
        Ok(m) => panic!("accepted: {m:?}"),
        Err(d) => shown(&d),
    };
    assert_eq!(d.len(), 2, "{d:#?}");
    for m in &d {
        assert!(!m.contains("8675309123") && !m.contains("s3cr3t"), "{m}");
    }
    assert!(
        d[0].starts_with("s.yaml:6:3: stringData.client-secret: must be a string"),
        "{d:#?}"
    );
}

/// `users` AppAssignments of `per` users each, in one file.
fn assignments(count: usize, per: usize) -> String {
    let mut text = String::with_capacity(count * per * 110);
    for a in 0..count {
        text.push_str(&format!(
            "---\napiVersion: o365-controller.io/v1alpha1\nkind: AppAssignment\nmetadata:\n  name: team-{a}\nspec:\n  domainRef:\n    name: corp\n  users:\n"
        ));
        for u in 0..per {
            text.push_str(&format!(
                "    - userPrincipalName: user{a}x{u}@corp.example.com\n      displayName: User {a} {u}\n"
            ));
        }
    }
    text
}

#[test]
fn one_file_of_twenty_assignments_of_5000_users_loads() {
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let dir = scratch("many");
    let file = dir.join("users.yaml");
    std::fs::write(&file, assignments(20, 5_000)).unwrap();
    let start = Instant::now();
    let loaded = manifest::load(std::slice::from_ref(&file))
        .unwrap_or_else(|d| panic!("{:#?}", shown(&d[..d.len().min(5)])));
    eprintln!("100,000 users loaded in {:?}", start.elapsed());
    assert_eq!(loaded.assignments.len(), 20);
    let users: usize = loaded.assignments.iter().map(|a| a.spec.users.len()).sum();
    assert_eq!(users, 100_000);
    let _ = std::fs::remove_dir_all(&dir);
}

mod arbitrary_input {
    use proptest::prelude::*;

    use super::*;

    /// Pieces of YAML and of our manifests, glued at random.
    fn fragment() -> impl Strategy<Value = String> {
        prop_oneof![
            Just("apiVersion: o365-controller.io/v1alpha1\n".to_owned()),
            Just("apiVersion: v1\n".to_owned()),
            Just("kind: Tenant\n".to_owned()),
            Just("kind: AppAssignment\n".to_owned()),
            Just("kind: Secret\n".to_owned()),
            Just("metadata:\n  name: x\n".to_owned()),
            Just("spec:\n".to_owned()),
            Just("  resyncInterval: 18446744073709551615s1s\n".to_owned()),
            Just("  users:\n".to_owned()),
            Just("stringData:\n".to_owned()),
            Just("---\n".to_owned()),
            Just("...\n".to_owned()),
            Just("- ".to_owned()),
            Just("&a ".to_owned()),
            Just("*a".to_owned()),
            Just("<<: *a\n".to_owned()),
            Just("? ".to_owned()),
            Just(": ".to_owned()),
            Just("[".to_owned()),
            Just("]".to_owned()),
            Just("{".to_owned()),
            Just("}".to_owned()),
            Just(", ".to_owned()),
            Just("!!binary ".to_owned()),
            Just("|\n".to_owned()),
            Just("%YAML 1.2\n".to_owned()),
            Just("\"".to_owned()),
            Just("'".to_owned()),
            Just("\t".to_owned()),
            Just("  ".to_owned()),
            Just("\n".to_owned()),
            "[a-zA-Z0-9@._-]{0,12}",
            any::<i64>().prop_map(|n| n.to_string()),
            any::<String>(),
        ]
    }

    fn load_bounded(text: &str) {
        let _ = within(Duration::from_secs(2), HUNDRED_MB, || {
            manifest::load_str(Path::new("fuzz.yaml"), text)
        });
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

        #[test]
        fn arbitrary_text_is_loaded_or_refused_without_a_panic(text in any::<String>()) {
            let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
            load_bounded(&text);
        }

        #[test]
        fn yaml_ish_fragments_are_loaded_or_refused_without_a_panic(
            parts in proptest::collection::vec(fragment(), 0..60)
        ) {
            let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
            load_bounded(&parts.concat());
        }

        #[test]
        fn a_tenant_with_a_random_edit_is_loaded_or_refused_without_a_panic(
            at in any::<proptest::sample::Index>(),
            cut in 0usize..20,
            insert in fragment(),
        ) {
            let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
            let start = at.index(TENANT.len());
            let end = (start + cut).min(TENANT.len());
            let text = format!("{}{insert}{}", &TENANT[..start], &TENANT[end..]);
            load_bounded(&text);
        }

        #[test]
        fn arbitrary_bytes_in_a_file_are_loaded_or_refused_without_a_panic(
            bytes in proptest::collection::vec(any::<u8>(), 0..2048)
        ) {
            let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
            let dir = std::env::temp_dir().join(format!("o365-limits-bytes-{}", std::process::id()));
            std::fs::create_dir_all(&dir).unwrap();
            let file = dir.join("random.yaml");
            std::fs::write(&file, &bytes).unwrap();
            let _ = within(Duration::from_secs(2), HUNDRED_MB, || {
                manifest::load(std::slice::from_ref(&file))
            });
        }
    }
}
