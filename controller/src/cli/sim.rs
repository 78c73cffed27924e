//! `o365-controller sim`: serve the Graph simulator until interrupted.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use o365_graph_sim::{FaultPlan, Fixture, ReplicationLag, SimConfig, Simulator};

/// Options of `sim`.
#[derive(Debug, clap::Args)]
pub struct SimArgs {
    /// The tenant fixture (YAML); default: the built-in demo tenant of the quickstart.
    #[arg(long, value_name = "FILE")]
    pub fixture: Option<PathBuf>,
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:8443", value_name = "ADDR")]
    pub listen: SocketAddr,
    /// Serve HTTPS with a generated CA; its PEM is written next to the printed URLs.
    #[arg(long)]
    pub tls: bool,
    /// With --tls: keep the CA in this directory (ca.pem, ca.key) and reuse it on the next
    /// start, so clients that trust it keep working across restarts.
    #[arg(long, value_name = "DIR", requires = "tls")]
    pub ca_dir: Option<PathBuf>,
    /// Keep the tenant in this file across restarts: read at start when it exists (instead of
    /// --fixture), written on shutdown (Ctrl-C or SIGTERM), as --simulate does with --sim-state.
    #[arg(long, value_name = "FILE")]
    pub state: Option<PathBuf>,
    /// Compress throttling windows by this factor (10 makes a 150 s window last 15 s).
    #[arg(long, default_value_t = 1.0, value_name = "N")]
    pub time_scale: f64,
    /// Switch the throttling model off.
    #[arg(long)]
    pub no_throttling: bool,
    /// A fault-injection plan (YAML, see simulator/README.md).
    #[arg(long, value_name = "FILE")]
    pub faults: Option<PathBuf>,
    /// Replication lag: for this many seconds (scaled) after an object is created, requests
    /// touching it may answer 404 and lists may miss it. Off unless given (or set by the
    /// fixture or fault plan).
    #[arg(long, value_name = "SECONDS")]
    pub replication_lag: Option<f64>,
    /// With --replication-lag: the chance that one such request misses the object.
    #[arg(long, default_value_t = 0.5, value_name = "P")]
    pub replication_lag_probability: f64,
    /// With --replication-lag: the seed of its generator.
    #[arg(long, default_value_t = 0, value_name = "N")]
    pub replication_lag_seed: u64,
}

/// Runs the simulator until Ctrl-C.
pub fn run(args: SimArgs) -> ExitCode {
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(serve(args)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

async fn serve(args: SimArgs) -> anyhow::Result<()> {
    let fixture = match (&args.state, &args.fixture) {
        (Some(state), _) if state.exists() => Fixture::from_path(state).map_err(|e| {
            anyhow::anyhow!("{}: not a saved simulator state: {e}", state.display())
        })?,
        (_, Some(path)) => Fixture::from_path(path)?,
        (_, None) => Fixture::demo(),
    };
    let faults = args
        .faults
        .as_deref()
        .map(FaultPlan::from_path)
        .transpose()?;
    let config = SimConfig {
        listen: args.listen,
        tls: args.tls,
        ca_dir: args.ca_dir.clone(),
        time_scale: args.time_scale,
        throttling: !args.no_throttling,
        faults,
        replication_lag: args.replication_lag.map(|window_seconds| ReplicationLag {
            window_seconds,
            probability: args.replication_lag_probability,
            seed: args.replication_lag_seed,
        }),
        ..SimConfig::default()
    };
    let sim = Simulator::start(fixture, config).await?;
    println!("tenant:  {}", sim.tenant_id());
    println!("login:   {}", sim.login_base_url());
    println!("graph:   {}", sim.graph_base_url());
    println!(
        "token:   {}/{}/oauth2/v2.0/token",
        sim.login_base_url(),
        sim.tenant_id()
    );
    if let Some(ca) = sim.ca_pem() {
        let path = match &args.ca_dir {
            Some(dir) => dir.join(o365_graph_sim::CA_CERT_FILE),
            None => {
                let path = std::env::temp_dir()
                    .join(format!("o365-sim-ca-{}.pem", sim.local_addr().port()));
                std::fs::write(&path, ca)?;
                path
            }
        };
        println!("ca:      {}", path.display());
    }
    // A Tenant pointing here is Blocked (EndpointNotAllowed) unless its host is allowed.
    let allow =
        crate::graph::HostPort::of_url(&sim.graph_base_url()).map_err(anyhow::Error::msg)?;
    println!("allow:   --allow-endpoint {allow} (for run, plan, apply and import)");
    let stop = shutdown_signal()?;
    println!("serving until interrupted (Ctrl-C)");
    stop.await;
    if let Some(path) = &args.state {
        let state = sim.export_fixture().to_json()?;
        super::session::write_private(path, state.as_bytes())
            .map_err(|e| anyhow::anyhow!("cannot write {}: {e}", path.display()))?;
        println!("state:   saved to {}", path.display());
    }
    sim.shutdown().await;
    Ok(())
}

/// Ctrl-C or (on Unix) SIGTERM, the signal a supervisor or `kill` sends. The handlers are
/// installed when this is called, so a signal sent right after the "serving" line counts.
fn shutdown_signal() -> std::io::Result<impl std::future::Future<Output = ()>> {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let mut term = signal(SignalKind::terminate())?;
        let mut int = signal(SignalKind::interrupt())?;
        Ok(async move {
            tokio::select! {
                _ = term.recv() => {}
                _ = int.recv() => {}
            }
        })
    }
    #[cfg(not(unix))]
    {
        Ok(async {
            let _ = tokio::signal::ctrl_c().await;
        })
    }
}
