//! Measures how many simple user GETs per second the simulator serves (throttling off).
//! Run: `cargo run --release -p o365-graph-sim --example get_throughput -- [seconds] [connections]`
//! The server runs on a current-thread runtime (one core); the load generator on another thread.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use o365_graph_sim::{Fixture, SimConfig, Simulator};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    let secs: u64 = args.get(1).and_then(|s| s.parse().ok()).unwrap_or(5);
    let conns: usize = args.get(2).and_then(|s| s.parse().ok()).unwrap_or(16);
    let (tx, rx) = std::sync::mpsc::channel();
    let server = std::thread::spawn(move || -> Result<(), String> {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| e.to_string())?;
        rt.block_on(async {
            let config = SimConfig {
                throttling: false,
                ..SimConfig::default()
            };
            let sim = Simulator::start(Fixture::demo(), config)
                .await
                .map_err(|e| e.to_string())?;
            let _ = tx.send((sim.graph_base_url(), sim.tenant_id()));
            tokio::time::sleep(Duration::from_secs(secs + 5)).await;
            sim.shutdown().await;
            Ok(())
        })
    });
    let (base, tenant) = rx.recv()?;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()?;
    let rate = rt.block_on(async move {
        let http = reqwest::Client::new();
        let body: serde_json::Value = http
            .post(format!("{base}/{tenant}/oauth2/v2.0/token"))
            .form(&[
                ("client_id", "22222222-2222-2222-2222-222222222222"),
                ("client_secret", "demo-client-secret"),
                ("scope", "https://graph.microsoft.com/.default"),
                ("grant_type", "client_credentials"),
            ])
            .send()
            .await?
            .json()
            .await?;
        let token = body["access_token"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        let url = format!("{base}/v1.0/users/adele.vance@contoso.com");
        let count = Arc::new(AtomicU64::new(0));
        let stop = Arc::new(AtomicBool::new(false));
        let mut tasks = Vec::new();
        for _ in 0..conns {
            let (http, url, token) = (http.clone(), url.clone(), token.clone());
            let (count, stop) = (count.clone(), stop.clone());
            tasks.push(tokio::spawn(async move {
                while !stop.load(Ordering::Relaxed) {
                    if let Ok(r) = http.get(&url).bearer_auth(&token).send().await
                        && r.status().is_success()
                        && r.bytes().await.is_ok()
                    {
                        count.fetch_add(1, Ordering::Relaxed);
                    }
                }
            }));
        }
        let start = Instant::now();
        tokio::time::sleep(Duration::from_secs(secs)).await;
        stop.store(true, Ordering::Relaxed);
        let n = count.load(Ordering::Relaxed);
        for t in tasks {
            let _ = t.await;
        }
        Ok::<f64, Box<dyn std::error::Error>>(n as f64 / start.elapsed().as_secs_f64())
    })?;
    println!(
        "{{\"benchmark\":\"sim_user_get\",\"requests_per_second\":{rate:.0},\"connections\":{conns}}}"
    );
    let _ = server.join();
    Ok(())
}
