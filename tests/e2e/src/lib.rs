//! Helpers for the end-to-end tests (see tests/run).
//!
//! The tests run against the real kube-apiserver + etcd started by `tests/envtest/up`, which
//! exports `KUBECONFIG` (a kubeconfig with the envtest CA and an admin token) and `ENVTEST_BIN`
//! (the cached kube-apiserver, etcd, kubectl and helm). Without them the helpers panic with a
//! message saying how to start the API server: the end-to-end tests never skip silently.
//!
//! There is no controller-manager: namespaces are never finalized (a deleted namespace stays
//! `Terminating`), there is no garbage collection and no default ServiceAccount.

pub mod apiserver;

use std::collections::hash_map::RandomState;
use std::ffi::OsStr;
use std::fmt::Debug;
use std::future::Future;
use std::hash::{BuildHasher, Hasher};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::{Context, Result, anyhow, bail};
use k8s_openapi::api::core::v1::Namespace;
use kube::api::{DeleteParams, ObjectMeta, PostParams};
use kube::runtime::wait::{Condition, await_condition};
use kube::{Api, Client, Config, Resource};
use serde::de::DeserializeOwned;

/// Default timeout of the `wait_*` helpers.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(60);

/// Where the envtest API server is, from the environment written by `tests/envtest/up`.
#[derive(Debug, Clone)]
pub struct Envtest {
    /// The kubeconfig of the envtest API server (`KUBECONFIG`).
    pub kubeconfig: PathBuf,
    /// The directory with the cached kube-apiserver, etcd, kubectl and helm (`ENVTEST_BIN`).
    pub bin: PathBuf,
}

/// The envtest environment. Panics with instructions when `tests/envtest/up` was not run: an
/// end-to-end test must fail loudly rather than skip when there is no API server.
pub fn envtest() -> Envtest {
    const HOW: &str = "the end-to-end tests need the envtest API server: run `tests/run`, or \
                       `tests/envtest/build && eval \"$(tests/envtest/up)\"` and then \
                       `cargo test -p o365-e2e --features envtest` (stop it with tests/envtest/down)";
    let var = |name: &str| match std::env::var_os(name) {
        Some(v) if !v.is_empty() => PathBuf::from(v),
        _ => panic!("{name} is not set; {HOW}"),
    };
    let kubeconfig = var("KUBECONFIG");
    let bin = var("ENVTEST_BIN");
    if !kubeconfig.is_file() {
        panic!("KUBECONFIG={} does not exist; {HOW}", kubeconfig.display());
    }
    if !bin.join("kube-apiserver").is_file() {
        panic!("ENVTEST_BIN={} has no kube-apiserver; {HOW}", bin.display());
    }
    Envtest { kubeconfig, bin }
}

/// The repository root (the tests read `crds/` and `examples/` from it). `O365_E2E_REPO_ROOT`
/// overrides it, to check the harness against a fixture tree.
pub fn repo_root() -> PathBuf {
    if let Some(root) = std::env::var_os("O365_E2E_REPO_ROOT").filter(|r| !r.is_empty()) {
        return PathBuf::from(root);
    }
    workspace_root()
}

/// The workspace root of this checkout.
fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .ancestors()
        .nth(2)
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")))
}

/// A kube-rs client for the envtest API server (from the kubeconfig in `KUBECONFIG`).
pub async fn client() -> Result<Client> {
    // With the controller crate linked, rustls sees two providers (ring from kube, aws-lc-rs
    // from reqwest) and refuses to pick; use the controller's choice.
    o365_controller::k8s::install_crypto_provider();
    let env = envtest();
    let kubeconfig = kube::config::Kubeconfig::read_from(&env.kubeconfig)
        .with_context(|| format!("reading {}", env.kubeconfig.display()))?;
    let config =
        Config::from_custom_kubeconfig(kubeconfig, &kube::config::KubeConfigOptions::default())
            .await
            .context("loading the envtest kubeconfig")?;
    Client::try_from(config).context("creating the kube client")
}

/// The kubectl to use: the cached one in `ENVTEST_BIN` (its minor version is within one of the
/// API server's), else the first on `PATH`.
pub fn kubectl_path() -> PathBuf {
    let cached = envtest().bin.join("kubectl");
    if cached.is_file() {
        cached
    } else {
        PathBuf::from("kubectl")
    }
}

/// Runs kubectl against the envtest API server and returns its output, whatever its exit status.
pub fn kubectl<I, S>(args: I) -> Result<Output>
where
    I: IntoIterator<Item = S>,
    S: AsRef<OsStr>,
{
    let env = envtest();
    let path = kubectl_path();
    let args: Vec<_> = args
        .into_iter()
        .map(|a| a.as_ref().to_os_string())
        .collect();
    Command::new(&path)
        .args(&args)
        .env("KUBECONFIG", &env.kubeconfig)
        .current_dir(repo_root())
        .output()
        .with_context(|| format!("running {} {args:?}", path.display()))
}

/// Runs kubectl and returns its stdout; an error (with stderr) if it exits non-zero.
pub fn kubectl_ok<I, S>(args: I) -> Result<String>
where
    I: IntoIterator<Item = S>,
    S: AsRef<OsStr>,
{
    let args: Vec<_> = args
        .into_iter()
        .map(|a| a.as_ref().to_os_string())
        .collect();
    let out = kubectl(&args)?;
    if !out.status.success() {
        bail!(
            "kubectl {} failed ({}):\n{}{}",
            display_args(&args),
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

fn display_args(args: &[std::ffi::OsString]) -> String {
    args.iter()
        .map(|a| a.to_string_lossy())
        .collect::<Vec<_>>()
        .join(" ")
}

/// A random lowercase suffix usable in DNS-1123 names.
pub fn random_suffix(len: usize) -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    const ALPHABET: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789";
    let mut out = String::with_capacity(len);
    let mut round = 0u64;
    while out.len() < len {
        let mut h = RandomState::new().build_hasher();
        h.write_u64(COUNTER.fetch_add(1, Ordering::Relaxed));
        h.write_u64(round);
        h.write_u32(std::process::id());
        h.write_u128(
            SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map(|d| d.as_nanos())
                .unwrap_or_default(),
        );
        let mut v = h.finish();
        for _ in 0..8 {
            if out.len() == len {
                break;
            }
            let idx = usize::try_from(v % ALPHABET.len() as u64).unwrap_or(0);
            out.push(char::from(ALPHABET[idx]));
            v /= ALPHABET.len() as u64;
        }
        round += 1;
    }
    out
}

/// A namespace with a random name for one test; deleted (best-effort, without waiting) when
/// dropped or by [`TestNamespace::delete`].
pub struct TestNamespace {
    name: String,
    client: Client,
    deleted: bool,
}

impl std::fmt::Debug for TestNamespace {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TestNamespace")
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

impl TestNamespace {
    /// Creates `<prefix>-<random>` (prefix trimmed so the name stays within 63 characters).
    pub async fn new(client: &Client, prefix: &str) -> Result<Self> {
        let prefix: String = prefix
            .to_ascii_lowercase()
            .chars()
            .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
            .take(50)
            .collect();
        let name = format!("{}-{}", prefix.trim_matches('-'), random_suffix(8));
        let ns = Namespace {
            metadata: ObjectMeta {
                name: Some(name.clone()),
                labels: Some(
                    [("o365-controller.io/e2e".to_owned(), "true".to_owned())]
                        .into_iter()
                        .collect(),
                ),
                ..ObjectMeta::default()
            },
            ..Namespace::default()
        };
        Api::<Namespace>::all(client.clone())
            .create(&PostParams::default(), &ns)
            .await
            .with_context(|| format!("creating namespace {name}"))?;
        Ok(Self {
            name,
            client: client.clone(),
            deleted: false,
        })
    }

    /// The namespace's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// A namespaced API in this namespace.
    pub fn api<K>(&self) -> Api<K>
    where
        K: Resource<Scope = k8s_openapi::NamespaceResourceScope>,
        <K as Resource>::DynamicType: Default,
    {
        Api::namespaced(self.client.clone(), &self.name)
    }

    /// Deletes the namespace (without waiting: there is no namespace controller in envtest).
    pub async fn delete(mut self) -> Result<()> {
        self.deleted = true;
        Api::<Namespace>::all(self.client.clone())
            .delete(&self.name, &DeleteParams::background())
            .await
            .with_context(|| format!("deleting namespace {}", self.name))?;
        Ok(())
    }
}

impl Drop for TestNamespace {
    fn drop(&mut self) {
        if self.deleted {
            return;
        }
        // Best-effort and synchronous (Drop cannot await): a failed test leaves at worst a
        // namespace in a throwaway API server.
        let _ = kubectl([
            "delete",
            "namespace",
            self.name.as_str(),
            "--wait=false",
            "--ignore-not-found",
        ]);
    }
}

/// Watches `name` until `cond` holds and returns the object; an error after `timeout`.
pub async fn wait_for<K>(
    api: &Api<K>,
    name: &str,
    timeout: Duration,
    cond: impl Condition<K>,
) -> Result<K>
where
    K: Clone + Debug + Send + DeserializeOwned + Resource + 'static,
{
    let kind = std::any::type_name::<K>();
    match tokio::time::timeout(timeout, await_condition(api.clone(), name, cond)).await {
        Ok(Ok(Some(obj))) => Ok(obj),
        Ok(Ok(None)) => Err(anyhow!("{kind} {name} was deleted while waiting for it")),
        Ok(Err(e)) => Err(e).with_context(|| format!("watching {kind} {name}")),
        Err(_) => bail!("timed out after {timeout:?} waiting for a condition on {kind} {name}"),
    }
}

/// Polls `check` (with a short backoff) until it returns `Ok(Some(value))`; an error with the
/// last observation after `timeout`. `check` returns `Ok(None)` for "not yet" and may describe
/// what it saw in the error it returns, which is reported if the time runs out.
pub async fn wait_until<T, F, Fut>(what: &str, timeout: Duration, mut check: F) -> Result<T>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<Option<T>>>,
{
    let start = Instant::now();
    let mut delay = Duration::from_millis(50);
    let mut last: Option<anyhow::Error> = None;
    loop {
        match check().await {
            Ok(Some(v)) => return Ok(v),
            Ok(None) => {}
            Err(e) => last = Some(e),
        }
        if start.elapsed() >= timeout {
            let detail = last
                .map(|e| format!(": last error: {e:#}"))
                .unwrap_or_default();
            bail!("timed out after {timeout:?} waiting until {what}{detail}");
        }
        tokio::time::sleep(delay.min(timeout.saturating_sub(start.elapsed()))).await;
        delay = (delay * 2).min(Duration::from_secs(1));
    }
}

/// `kubectl apply --server-side -f crds/` (idempotent; concurrent callers are fine), then waits
/// until every CRD is Established and served.
pub async fn install_crds(client: &Client) -> Result<()> {
    use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
    use kube::runtime::wait::conditions::is_crd_established;
    let crds_dir = repo_root().join("crds");
    let out = kubectl_ok([
        "apply".to_owned(),
        "--server-side".to_owned(),
        "--force-conflicts".to_owned(),
        "--field-manager=o365-e2e".to_owned(),
        "-o".to_owned(),
        "name".to_owned(),
        "-f".to_owned(),
        crds_dir.display().to_string(),
    ])
    .context("installing crds/")?;
    let crds: Api<CustomResourceDefinition> = Api::all(client.clone());
    for name in out
        .lines()
        .filter_map(|l| l.strip_prefix("customresourcedefinition.apiextensions.k8s.io/"))
    {
        wait_for(&crds, name, DEFAULT_TIMEOUT, is_crd_established())
            .await
            .with_context(|| format!("CRD {name} did not become Established"))?;
    }
    Ok(())
}

/// The status (`True`, `False`, `Unknown`) of condition `type_` in `status.conditions` of any
/// object, read from its JSON form.
pub fn condition_status<K: serde::Serialize>(obj: &K, type_: &str) -> Option<String> {
    condition_field(obj, type_, "status")
}

/// One field (`reason`, `message`, …) of condition `type_` of any object.
pub fn condition_field<K: serde::Serialize>(obj: &K, type_: &str, field: &str) -> Option<String> {
    let value = serde_json::to_value(obj).ok()?;
    value
        .pointer("/status/conditions")?
        .as_array()?
        .iter()
        .find(|c| c.get("type").and_then(|t| t.as_str()) == Some(type_))?
        .get(field)?
        .as_str()
        .map(str::to_owned)
}

/// A wait condition: condition `type_` has `status` (and, if given, `reason`).
pub fn has_condition<K: serde::Serialize>(
    type_: &'static str,
    status: &'static str,
    reason: Option<&'static str>,
) -> impl Condition<K> {
    move |obj: Option<&K>| {
        obj.is_some_and(|o| {
            condition_status(o, type_).as_deref() == Some(status)
                && reason.is_none_or(|r| condition_field(o, type_, "reason").as_deref() == Some(r))
        })
    }
}

/// A free port on 127.0.0.1 (bound and released: a tiny race, fine for tests).
pub fn free_local_addr() -> Result<std::net::SocketAddr> {
    let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
    Ok(listener.local_addr()?)
}

/// `GET http://addr/path` over plain HTTP/1.0; the body.
pub async fn http_get(addr: std::net::SocketAddr, path: &str) -> Result<String> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut stream = tokio::net::TcpStream::connect(addr).await?;
    stream
        .write_all(format!("GET {path} HTTP/1.0\r\nHost: {addr}\r\n\r\n").as_bytes())
        .await?;
    let mut response = String::new();
    stream.read_to_string(&mut response).await?;
    let (head, body) = response
        .split_once("\r\n\r\n")
        .ok_or_else(|| anyhow!("malformed HTTP response from {addr}{path}"))?;
    if !head.starts_with("HTTP/1.1 200") && !head.starts_with("HTTP/1.0 200") {
        bail!(
            "GET {addr}{path}: {}",
            head.lines().next().unwrap_or_default()
        );
    }
    Ok(body.to_owned())
}

/// Percentile `p` (0..=100) of `samples` (nearest rank); zero for none.
pub fn percentile(samples: &[Duration], p: f64) -> Duration {
    if samples.is_empty() {
        return Duration::ZERO;
    }
    let mut sorted = samples.to_vec();
    sorted.sort();
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentile_uses_the_nearest_rank() {
        let ms = |n: u64| Duration::from_millis(n);
        let samples: Vec<Duration> = (1..=20).map(ms).collect();
        assert_eq!(percentile(&samples, 50.0), ms(10));
        assert_eq!(percentile(&samples, 95.0), ms(19));
        assert_eq!(percentile(&[], 95.0), Duration::ZERO);
    }

    #[test]
    fn random_suffix_is_dns_safe_and_varies() {
        let a = random_suffix(8);
        let b = random_suffix(8);
        assert_eq!(a.len(), 8);
        assert!(
            a.chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
        );
        assert_ne!(a, b);
    }

    #[test]
    fn workspace_root_has_the_workspace_manifest() {
        assert!(workspace_root().join("Cargo.toml").is_file());
        assert!(workspace_root().join("tests/e2e").is_dir());
    }
}
