//! `o365-controller run`: the Kubernetes controller. Kubeconfig or in-cluster configuration
//! (`kube::Client::try_default`), leader election, metrics and probes; stops gracefully on
//! SIGTERM or SIGINT (a second signal exits at once).

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use crate::graph::{AllowedEndpoints, HostPort};
use crate::k8s::{
    ReconcileSettings, RunOptions, default_identity, install_crypto_provider, run_controller,
};
use crate::resolve::OperatorSettings;

/// Log output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum LogFormat {
    /// One JSON object per line (for log collectors).
    #[default]
    Json,
    /// Human-readable lines.
    Text,
}

/// Options of `run`.
#[derive(Debug, clap::Args)]
pub struct RunArgs {
    /// Watch only this namespace (default: all namespaces).
    #[arg(long, env = "WATCH_NAMESPACE")]
    pub namespace: Option<String>,
    /// Read Secrets and ConfigMaps only in this namespace (repeatable); Tenants elsewhere are
    /// Blocked with reason NamespaceNotServed. Default: the `--namespace`, else all namespaces
    /// (which needs cluster-wide Secret read).
    #[arg(long = "tenant-namespace", value_name = "NAMESPACE", value_parser = namespace_name)]
    pub tenant_namespaces: Vec<String>,
    /// Where `/metrics` is served (loopback by default; in a pod, the chart sets
    /// `controller.metricsBindAddress`).
    #[arg(long, default_value = "127.0.0.1:8080")]
    pub metrics_addr: SocketAddr,
    /// Where `/healthz` and `/readyz` are served (loopback by default; in a pod, the chart
    /// sets `controller.healthBindAddress` so that the kubelet can probe).
    #[arg(long, default_value = "127.0.0.1:8081")]
    pub health_addr: SocketAddr,
    /// Log format.
    #[arg(long, value_enum, default_value_t)]
    pub log_format: LogFormat,
    /// How many tenants are reconciled at once.
    #[arg(long, default_value_t = 4)]
    pub concurrency: u16,
    /// Changes arriving within this many milliseconds are reconciled once.
    #[arg(long, default_value_t = 150)]
    pub debounce_ms: u64,
    /// The longest one reconcile waits out a tenant's throttling (429 `Retry-After`) before
    /// it stops and requeues the tenant for when Graph said to come back, giving its worker
    /// to the other tenants.
    #[arg(long, default_value_t = 10, value_name = "SECONDS")]
    pub max_throttle_wait_seconds: u64,
    /// Reconcile only the Tenants with these labels (a label selector, e.g.
    /// `sharding.fluxcd.io/key=shard1`): one shard of several controllers, the Flux convention.
    /// FederatedDomains, AppAssignments and LicensePolicies follow the Tenant they reference.
    /// Each shard elects its own leader (Lease `o365-controller-shard-<hash of the selector>`).
    #[arg(long, env = "WATCH_LABEL_SELECTOR", value_name = "SELECTOR", value_parser = label_selector)]
    pub watch_label_selector: Option<String>,
    /// Only the holder of the Lease `o365-controller` (per shard: see --watch-label-selector)
    /// reconciles (safe with several replicas).
    #[arg(long, default_value_t = true, action = clap::ArgAction::Set)]
    pub leader_election: bool,
    /// Namespace of the Lease (default: the pod's namespace, else `default`).
    #[arg(long, env = "POD_NAMESPACE")]
    pub leader_election_namespace: Option<String>,
    /// Where credentials may be sent.
    #[command(flatten)]
    pub operator: OperatorArgs,
}

/// What only the operator decides: the hosts a Tenant may name besides the Microsoft clouds',
/// and the workload identity token. Shared by `run` and the commands that connect.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct OperatorArgs {
    /// Allow Tenants to name this login or Graph host (`cloud: Custom`) besides the Microsoft
    /// clouds' hosts, which are built in. HOST or HOST:PORT (port 443 when omitted).
    /// Repeatable. A Tenant naming any other host is Blocked (EndpointNotAllowed) and nothing
    /// is sent to it.
    #[arg(long = "allow-endpoint", value_name = "HOST[:PORT]")]
    pub allow_endpoints: Vec<HostPort>,
    /// The projected service-account token of Azure Workload Identity, used by Tenants with
    /// `credentials.workloadIdentity`.
    #[arg(long, value_name = "FILE", env = "AZURE_FEDERATED_TOKEN_FILE")]
    pub federated_token_file: Option<PathBuf>,
}

impl OperatorArgs {
    /// The settings every Tenant's connection is made under.
    pub fn settings(&self) -> OperatorSettings {
        OperatorSettings {
            allowed_endpoints: AllowedEndpoints::with(self.allow_endpoints.iter().cloned()),
            federated_token_file: self.federated_token_file.clone(),
        }
    }
}

/// A namespace name (an RFC 1123 label).
fn namespace_name(s: &str) -> Result<String, String> {
    let ok = !s.is_empty()
        && s.len() <= 63
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !s.starts_with('-')
        && !s.ends_with('-');
    if ok {
        Ok(s.to_owned())
    } else {
        Err(format!(
            "{s:?} is not a namespace name (lowercase letters, digits and '-', at most 63)"
        ))
    }
}

/// A label selector as the API server takes it (`key=value`, `key!=value`, `key in (a,b)`,
/// `!key`, comma-separated): refused here when it is empty or visibly malformed, so a typo is
/// an error at start rather than a watch that fails forever.
fn label_selector(s: &str) -> Result<String, String> {
    let mut depth = 0i32;
    let mut requirements = vec![String::new()];
    for c in s.chars() {
        match c {
            '(' => depth += 1,
            ')' => depth -= 1,
            ',' if depth == 0 => {
                requirements.push(String::new());
                continue;
            }
            _ => {}
        }
        if depth < 0 {
            break;
        }
        if let Some(last) = requirements.last_mut() {
            last.push(c);
        }
    }
    let key_ok = |key: &str| {
        !key.is_empty()
            && key
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"._/-".contains(&b))
    };
    let well_formed = depth == 0
        && requirements.iter().all(|r| {
            let r = r.trim();
            let key = r
                .trim_start_matches('!')
                .split(['=', '!', ' ', '('])
                .next()
                .unwrap_or_default();
            key_ok(key)
        });
    if well_formed {
        Ok(s.trim().to_owned())
    } else {
        Err(format!(
            "{s:?} is not a label selector (e.g. sharding.fluxcd.io/key=shard1, or \
             'sharding.fluxcd.io/key in (shard1,shard2)', or !sharding.fluxcd.io/key)"
        ))
    }
}

fn init_logging(format: LogFormat) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info,kube_runtime=warn"));
    // Colour codes only for a terminal: a log file or a collector gets plain text.
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_writer(std::io::stderr);
    let _ = match format {
        LogFormat::Json => builder.json().try_init(),
        LogFormat::Text => builder.try_init(),
    };
}

/// Resolves on the first SIGTERM or SIGINT; a second one exits the process at once.
async fn shutdown_signal() {
    async fn one_signal() {
        #[cfg(unix)]
        {
            let term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate());
            match term {
                Ok(mut term) => {
                    tokio::select! {
                        _ = tokio::signal::ctrl_c() => {}
                        _ = term.recv() => {}
                    }
                }
                Err(_) => {
                    let _ = tokio::signal::ctrl_c().await;
                }
            }
        }
        #[cfg(not(unix))]
        {
            let _ = tokio::signal::ctrl_c().await;
        }
    }
    one_signal().await;
    tracing::info!("shutdown requested; send the signal again to exit at once");
    tokio::spawn(async {
        one_signal().await;
        tracing::warn!("second signal: exiting now");
        std::process::exit(130);
    });
}

/// Runs the controller until a signal stops it.
pub fn run(args: RunArgs) -> ExitCode {
    init_logging(args.log_format);
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    install_crypto_provider();
    runtime.block_on(async move {
        let client = match kube::Client::try_default().await {
            Ok(c) => c,
            Err(e) => {
                tracing::error!(error = %e, "cannot configure the Kubernetes client (no kubeconfig and not in a cluster?)");
                return ExitCode::FAILURE;
            }
        };
        let options = RunOptions {
            namespace: args.namespace,
            tenant_selector: args.watch_label_selector,
            tenant_namespaces: args.tenant_namespaces,
            metrics_addr: Some(args.metrics_addr),
            health_addr: Some(args.health_addr),
            concurrency: args.concurrency.max(1),
            debounce: Duration::from_millis(args.debounce_ms),
            leader_election_namespace: args.leader_election.then(|| {
                args.leader_election_namespace
                    .unwrap_or_else(|| client.default_namespace().to_owned())
            }),
            identity: default_identity(),
            settings: ReconcileSettings {
                operator: args.operator.settings(),
                max_throttle_wait: Duration::from_secs(args.max_throttle_wait_seconds),
                ..ReconcileSettings::default()
            },
            ..RunOptions::default()
        };
        match run_controller(client, options, shutdown_signal()).await {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                tracing::error!(error = %e, "the controller failed");
                ExitCode::FAILURE
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tenant_namespaces_must_be_namespace_names() {
        assert_eq!(namespace_name("o365-system"), Ok("o365-system".to_owned()));
        for bad in ["", "Team", "-a", "a-", "a_b", &"a".repeat(64)] {
            assert!(namespace_name(bad).is_err(), "{bad:?} was accepted");
        }
    }

    #[test]
    fn shard_selectors_are_label_selectors() {
        for good in [
            "sharding.fluxcd.io/key=shard1",
            "sharding.fluxcd.io/key in (shard1, shard2)",
            "!sharding.fluxcd.io/key",
            "a=b,c!=d",
            "tier==gold",
        ] {
            assert!(label_selector(good).is_ok(), "{good:?} was refused");
        }
        for bad in ["", " ", "a=b,", "key in (a", "=b", "a=b)", "k\u{e9}y=v"] {
            assert!(label_selector(bad).is_err(), "{bad:?} was accepted");
        }
    }
}
