//! What `plan`, `apply` and `import` share: reading manifests, the optional in-process
//! simulator with its persisted state, and connecting to each Tenant's Graph.

use std::path::PathBuf;

use kube::ResourceExt;
use o365_graph_sim::{Fixture, SimConfig, Simulator};

use super::run::OperatorArgs;
use crate::api::Tenant;
use crate::graph::{
    AllowedEndpoints, Cloud, ErrorKind, GraphClient, GraphConfig, HostPort, Mirror,
};
use crate::manifest::{self, Manifests};
use crate::model::DesiredTenant;
use crate::resolve::{self, ManifestKeys, OperatorSettings, Overrides};

/// The default file the simulated tenant is kept in between runs.
pub const DEFAULT_SIM_STATE: &str = ".o365-sim-state.json";

/// Where the manifests come from and which tenant to talk to.
#[derive(Debug, clap::Args)]
pub struct TargetArgs {
    /// A manifest file or a directory (read recursively). Repeatable.
    #[arg(short = 'f', long = "filename", value_name = "PATH", required = true)]
    pub files: Vec<PathBuf>,
    /// The namespace of documents without `metadata.namespace` (as `kubectl apply -n`).
    /// References resolve within each object's namespace, as in the cluster.
    #[arg(
        short = 'n',
        long = "namespace",
        value_name = "NAMESPACE",
        default_value = "default"
    )]
    pub namespace: String,
    /// Run against the built-in Graph simulator instead of Microsoft: it starts in-process
    /// with the demo tenant (or --fixture), and its state persists in --sim-state.
    #[arg(long)]
    pub simulate: bool,
    /// With --simulate: the tenant fixture to start from (default: the demo tenant).
    #[arg(long, value_name = "FILE", requires = "simulate")]
    pub fixture: Option<PathBuf>,
    /// With --simulate: where the simulated tenant is kept between runs.
    #[arg(long, value_name = "FILE", default_value = DEFAULT_SIM_STATE)]
    pub sim_state: PathBuf,
    /// With --simulate: forget the saved state and start from the fixture again.
    #[arg(long, requires = "simulate")]
    pub sim_reset: bool,
    /// The largest manifest file read (e.g. 128MiB); only regular files are read.
    #[arg(long, value_name = "SIZE", default_value = "64MiB", value_parser = manifest::parse_size)]
    pub max_file_size: u64,
    /// Where credentials may be sent (from this command line only, never from manifests;
    /// --simulate needs none).
    #[command(flatten)]
    pub operator: OperatorArgs,
}

/// An open session: manifests read and, with --simulate, the simulator running.
pub struct Session {
    /// The manifests.
    pub manifests: Manifests,
    sim: Option<Simulator>,
    sim_state: PathBuf,
    operator: OperatorSettings,
}

/// A failure of the CLI itself (not of a plan): exit code 1.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct CliError(pub String);

impl From<String> for CliError {
    fn from(s: String) -> Self {
        CliError(s)
    }
}

/// Why a Tenant could not be connected to.
#[derive(Debug)]
pub enum ConnectError {
    /// The Tenant is Blocked (e.g. `EndpointNotAllowed`): reported for that Tenant, per the
    /// truth table, and nothing was sent.
    Blocked {
        /// The reason, as on the Tenant's `Blocked` condition in the cluster.
        reason: crate::model::Reason,
        /// What to do.
        message: String,
    },
    /// Anything else: the command fails (exit 1).
    Failed(CliError),
}

impl From<ConnectError> for CliError {
    fn from(e: ConnectError) -> CliError {
        match e {
            ConnectError::Blocked { reason, message } => {
                CliError(format!("Blocked ({reason}): {message}"))
            }
            ConnectError::Failed(e) => e,
        }
    }
}

impl Session {
    /// Reads the manifests (printing every problem) and starts the simulator if asked.
    pub async fn open(args: &TargetArgs) -> Result<Session, CliError> {
        let limits = manifest::Limits {
            max_file_size: args.max_file_size,
        };
        let mut manifests = manifest::load_with(&args.files, &limits).map_err(|diagnostics| {
            for d in &diagnostics {
                eprintln!("{d}");
            }
            CliError(format!("{} problem(s) in the manifests", diagnostics.len()))
        })?;
        let twice = manifests.default_namespace(&args.namespace);
        if !twice.is_empty() {
            for t in &twice {
                eprintln!("{t}");
            }
            return Err(CliError(format!(
                "{} problem(s) in the manifests",
                twice.len()
            )));
        }
        for warning in resolve::unbound_objects(&manifests) {
            eprintln!("warning: {warning}");
        }
        if manifests.tenants.is_empty() {
            return Err(CliError(
                "no Tenant among the manifests: add one (see examples/tenant/tenant.yaml)".into(),
            ));
        }
        let sim = if args.simulate {
            Some(start_simulator(args).await?)
        } else {
            None
        };
        Ok(Session {
            manifests,
            sim,
            sim_state: args.sim_state.clone(),
            operator: args.operator.settings(),
        })
    }

    /// The Tenants, in file order.
    pub fn tenants(&self) -> &[Tenant] {
        &self.manifests.tenants
    }

    /// Connects to `tenant`'s Graph (the simulator with --simulate) and reads the tenant. A
    /// Tenant naming an endpoint that this command line does not allow is `Blocked`.
    pub async fn connect(&self, tenant: &Tenant) -> Result<(GraphClient, Mirror), ConnectError> {
        let failed = |e: String| {
            ConnectError::Failed(CliError(format!(
                "Tenant {}/{}: {e}",
                tenant.namespace().unwrap_or_default(),
                tenant.name_any()
            )))
        };
        let config = self.graph_config(tenant).map_err(failed)?;
        let client = GraphClient::new(config).map_err(|e| {
            if e.kind == ErrorKind::EndpointNotAllowed {
                ConnectError::Blocked {
                    reason: crate::model::Reason::EndpointNotAllowed,
                    message: e.message.clone(),
                }
            } else {
                failed(e.to_string())
            }
        })?;
        client
            .check_token()
            .await
            .map_err(|e| failed(e.to_string()))?;
        let mirror = Mirror::load(&client).await;
        Ok((client, mirror))
    }

    /// The Tenant's Graph configuration; the error is the line printed for it.
    fn graph_config(&self, tenant: &Tenant) -> Result<GraphConfig, String> {
        let keys = ManifestKeys(&self.manifests.secrets);
        let env = |name: &str| std::env::var(name).ok();
        let mut config = resolve::graph_config(tenant, &keys, &env, &self.operator)
            .map_err(|e| e.to_string())?;
        if let Some(sim) = &self.sim {
            // The built-in simulator is trusted by construction: it replaces whatever the
            // Tenant names, and it is the only host allowed.
            let (login, graph) = Cloud::Custom {
                login_endpoint: sim.login_base_url(),
                graph_endpoint: sim.graph_base_url(),
            }
            .endpoints();
            config.allowed_endpoints = AllowedEndpoints::with([HostPort::of_url(&graph)?]);
            config.login_endpoint = login;
            config.graph_endpoint = graph;
            config.ca_bundle = sim.ca_pem();
        }
        Ok(config)
    }

    /// The desired state of `tenant` from the manifests: the objects of its namespace, and
    /// AppAssignments of other namespaces that its domains admit.
    pub fn desired(&self, tenant: &Tenant, overrides: &Overrides) -> DesiredTenant {
        resolve::desired_from_manifests(&self.manifests, tenant, overrides)
    }

    /// Saves the simulated tenant (so the next run sees this run's changes) and stops.
    pub async fn close(self) -> Result<(), CliError> {
        if let Some(sim) = self.sim {
            let state = sim
                .export_fixture()
                .to_json()
                .map_err(|e| CliError(format!("cannot save the simulated tenant: {e}")))?;
            write_private(&self.sim_state, state.as_bytes())
                .map_err(|e| CliError(format!("cannot write {}: {e}", self.sim_state.display())))?;
            sim.shutdown().await;
        }
        Ok(())
    }
}

/// Writes `bytes` to `path` readable by its owner only (mode 0600, also when the file already
/// existed with a wider mode): the simulated tenant holds the generated passwords.
pub(super) fn write_private(path: &std::path::Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
        options.mode(0o600);
        let mut file = options.open(path)?;
        file.set_permissions(std::fs::Permissions::from_mode(0o600))?;
        file.write_all(bytes)
    }
    #[cfg(not(unix))]
    {
        options.open(path)?.write_all(bytes)
    }
}

async fn start_simulator(args: &TargetArgs) -> Result<Simulator, CliError> {
    let fixture = if !args.sim_reset && args.sim_state.exists() {
        let text = std::fs::read_to_string(&args.sim_state)
            .map_err(|e| CliError(format!("cannot read {}: {e}", args.sim_state.display())))?;
        Fixture::from_json(&text).map_err(|e| {
            CliError(format!(
                "{} is not a saved simulator state ({e}); use --sim-reset to start over",
                args.sim_state.display()
            ))
        })?
    } else if let Some(path) = &args.fixture {
        Fixture::from_path(path).map_err(|e| CliError(format!("{}: {e}", path.display())))?
    } else {
        Fixture::demo()
    };
    Simulator::start(fixture, SimConfig::default())
        .await
        .map_err(|e| CliError(format!("cannot start the simulator: {e}")))
}
