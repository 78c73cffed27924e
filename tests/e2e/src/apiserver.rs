//! A kube-apiserver of one test's own, started as `tests/envtest/up` starts the shared one (its
//! certificates, token file and etcd) but on its own port and under its own etcd prefix: a test
//! may stop and restart it without disturbing the tests that share the envtest API server.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, anyhow, bail, ensure};
use kube::{Api, Client, Config};

use crate::{DEFAULT_TIMEOUT, envtest, free_local_addr, kubectl_path, random_suffix, repo_root};

/// A private kube-apiserver (stopped when dropped).
pub struct PrivateApiServer {
    port: u16,
    /// `ENVTEST_RUN_DIR` of the shared server: its `pki/` and token.
    run: PathBuf,
    bin: PathBuf,
    etcd: String,
    prefix: String,
    /// This server's kubeconfig and log.
    dir: PathBuf,
    child: Option<Child>,
}

impl std::fmt::Debug for PrivateApiServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PrivateApiServer")
            .field("port", &self.port)
            .field("prefix", &self.prefix)
            .finish_non_exhaustive()
    }
}

/// The shared etcd's client URL: from `etcd-port` (written by `tests/envtest/up`), else from the
/// running kube-apiserver's `--etcd-servers` argument.
fn etcd_url(run: &Path) -> Result<String> {
    if let Ok(port) = std::fs::read_to_string(run.join("etcd-port")) {
        return Ok(format!("http://127.0.0.1:{}", port.trim()));
    }
    let pids = std::fs::read_to_string(run.join("pids")).context("reading the envtest pids")?;
    let pid = pids
        .lines()
        .find_map(|l| l.strip_prefix("kube-apiserver "))
        .and_then(|rest| rest.split_whitespace().next())
        .context("no kube-apiserver in the envtest pids")?;
    let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).context("reading its cmdline")?;
    let args: Vec<String> = cmdline
        .split(|b| *b == 0)
        .map(|a| String::from_utf8_lossy(a).into_owned())
        .collect();
    args.iter()
        .position(|a| a == "--etcd-servers")
        .and_then(|i| args.get(i + 1).cloned())
        .context("the envtest kube-apiserver has no --etcd-servers")
}

impl PrivateApiServer {
    /// Starts it and waits until it is ready, with the project's CRDs installed.
    pub async fn start() -> Result<PrivateApiServer> {
        let env = envtest();
        let run = std::env::var_os("ENVTEST_RUN_DIR")
            .map(PathBuf::from)
            .or_else(|| env.kubeconfig.parent().map(Path::to_path_buf))
            .context("ENVTEST_RUN_DIR is not set")?;
        let suffix = random_suffix(8);
        let dir = std::env::temp_dir().join(format!("o365-e2e-apiserver-{suffix}"));
        std::fs::create_dir_all(&dir)?;
        let port = free_local_addr()?.port();
        // The shared kubeconfig (CA and admin token), pointed at this server's port.
        let kubeconfig = std::fs::read_to_string(&env.kubeconfig)?;
        let server = kubeconfig
            .lines()
            .find_map(|l| l.trim().strip_prefix("server: "))
            .context("no server in the envtest kubeconfig")?
            .to_owned();
        std::fs::write(
            dir.join("kubeconfig"),
            kubeconfig.replace(&server, &format!("https://127.0.0.1:{port}")),
        )?;
        let mut server = PrivateApiServer {
            port,
            etcd: etcd_url(&run)?,
            run,
            bin: env.bin,
            prefix: format!("/o365-e2e-{suffix}"),
            dir,
            child: None,
        };
        server.spawn()?;
        server.wait_ready(Duration::from_secs(120)).await?;
        server.install_crds().await?;
        Ok(server)
    }

    fn spawn(&mut self) -> Result<()> {
        let pki = self.run.join("pki");
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.dir.join("kube-apiserver.log"))?;
        let p = |f: &str| pki.join(f).display().to_string();
        let child = Command::new(self.bin.join("kube-apiserver"))
            .args(["--etcd-servers", &self.etcd, "--etcd-prefix", &self.prefix])
            .args([
                "--bind-address",
                "127.0.0.1",
                "--advertise-address",
                "127.0.0.1",
            ])
            .args(["--secure-port", &self.port.to_string()])
            .args(["--cert-dir", &pki.display().to_string()])
            .args(["--tls-cert-file", &p("server.crt")])
            .args(["--tls-private-key-file", &p("server.key")])
            .args(["--client-ca-file", &p("ca.crt")])
            .args(["--token-auth-file", &p("tokens.csv")])
            .args(["--authorization-mode", "RBAC"])
            .args([
                "--service-account-issuer",
                "https://kubernetes.default.svc.cluster.local",
            ])
            .args(["--service-account-key-file", &p("sa.pub")])
            .args(["--service-account-signing-key-file", &p("sa.key")])
            .args(["--service-cluster-ip-range", "10.96.0.0/24"])
            .args(["--endpoint-reconciler-type", "none"])
            .args(["--disable-admission-plugins", "ServiceAccount"])
            .args(["--allow-privileged=true", "--profiling=false", "--v", "1"])
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log)
            .spawn()
            .context("starting kube-apiserver")?;
        self.child = Some(child);
        Ok(())
    }

    /// The kubeconfig of this server.
    pub fn kubeconfig(&self) -> PathBuf {
        self.dir.join("kubeconfig")
    }

    /// A client of this server.
    pub async fn client(&self) -> Result<Client> {
        o365_controller::k8s::install_crypto_provider();
        let kubeconfig = kube::config::Kubeconfig::read_from(self.kubeconfig())?;
        let config =
            Config::from_custom_kubeconfig(kubeconfig, &kube::config::KubeConfigOptions::default())
                .await?;
        Ok(Client::try_from(config)?)
    }

    /// Whether `/readyz` answers 200.
    pub async fn is_ready(&self) -> bool {
        let Ok(client) = self.client().await else {
            return false;
        };
        let Ok(request) = http::Request::get("/readyz").body(Vec::new()) else {
            return false;
        };
        client.request_text(request).await.is_ok()
    }

    /// Waits until `/readyz` answers 200; how long that took.
    pub async fn wait_ready(&mut self, timeout: Duration) -> Result<Duration> {
        let start = Instant::now();
        while !self.is_ready().await {
            if let Some(child) = self.child.as_mut()
                && let Some(status) = child.try_wait()?
            {
                bail!(
                    "kube-apiserver exited ({status}); see {}",
                    self.dir.join("kube-apiserver.log").display()
                );
            }
            ensure!(
                start.elapsed() < timeout,
                "kube-apiserver not ready after {timeout:?}"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        Ok(start.elapsed())
    }

    /// Stops it abruptly (SIGKILL: a crash or a node loss; its graceful shutdown would hold
    /// watches open for ~20 s first); etcd and its data stay.
    pub async fn stop(&mut self) -> Result<()> {
        let Some(mut child) = self.child.take() else {
            return Ok(());
        };
        child.kill()?;
        child.wait()?;
        Ok(())
    }

    /// Starts it again on the same port and etcd prefix; returns once `/readyz` answers, with
    /// the time that took.
    pub async fn restart(&mut self) -> Result<Duration> {
        ensure!(self.child.is_none(), "the API server is still running");
        self.spawn()?;
        self.wait_ready(Duration::from_secs(120)).await
    }

    async fn install_crds(&self) -> Result<()> {
        use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
        use kube::runtime::wait::conditions::is_crd_established;
        let out = Command::new(kubectl_path())
            .arg("--kubeconfig")
            .arg(self.kubeconfig())
            .args([
                "apply",
                "--server-side",
                "--field-manager=o365-e2e",
                "-o",
                "name",
            ])
            .arg("-f")
            .arg(repo_root().join("crds"))
            .output()
            .context("running kubectl")?;
        if !out.status.success() {
            return Err(anyhow!(
                "kubectl apply -f crds/ failed: {}",
                String::from_utf8_lossy(&out.stderr)
            ));
        }
        let crds: Api<CustomResourceDefinition> = Api::all(self.client().await?);
        for name in String::from_utf8_lossy(&out.stdout)
            .lines()
            .filter_map(|l| l.strip_prefix("customresourcedefinition.apiextensions.k8s.io/"))
        {
            crate::wait_for(&crds, name, DEFAULT_TIMEOUT, is_crd_established()).await?;
        }
        Ok(())
    }
}

impl Drop for PrivateApiServer {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
