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
    let fixture = match &args.fixture {
        Some(path) => Fixture::from_path(path)?,
        None => Fixture::demo(),
    };
    let faults = args
        .faults
        .as_deref()
        .map(FaultPlan::from_path)
        .transpose()?;
    let config = SimConfig {
        listen: args.listen,
        tls: args.tls,
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
        let path =
            std::env::temp_dir().join(format!("o365-sim-ca-{}.pem", sim.local_addr().port()));
        std::fs::write(&path, ca)?;
        println!("ca:      {}", path.display());
    }
    // A Tenant pointing here is Blocked (EndpointNotAllowed) unless its host is allowed.
    let allow =
        crate::graph::HostPort::of_url(&sim.graph_base_url()).map_err(anyhow::Error::msg)?;
    println!("allow:   --allow-endpoint {allow} (for run, plan, apply and import)");
    println!("serving until interrupted (Ctrl-C)");
    tokio::signal::ctrl_c().await?;
    sim.shutdown().await;
    Ok(())
}
