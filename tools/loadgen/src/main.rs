//! `rampart-load`: drives a Rampart server with correctly signed V3 (`ACS3-HMAC-SHA256`)
//! requests, a fresh nonce each, over keep-alive HTTP/1.1 connections, and reports
//! throughput and latency percentiles.
//!
//! The HTTP client is deliberately minimal (one request in flight per connection, bodies
//! framed by `Content-Length`, which is what Rampart sends) so the generator costs little of
//! the CPU it shares with the server on one machine.

#![forbid(unsafe_code)]

mod sign;

use std::collections::BTreeMap;
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use clap::Parser;
use serde::Serialize;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use sign::{Credentials, Signer};

#[derive(Debug, Parser)]
#[command(
    name = "rampart-load",
    about = "Signed-request load generator for Rampart"
)]
struct Args {
    /// host:port of the server
    #[arg(long, default_value = "127.0.0.1:9720")]
    endpoint: String,
    /// bootstrap.json-style file with AccessKeyId and AccessKeySecret
    #[arg(long)]
    credentials: Option<std::path::PathBuf>,
    #[arg(long)]
    access_key_id: Option<String>,
    #[arg(long)]
    access_key_secret: Option<String>,
    #[arg(long, default_value = "2015-05-01")]
    version: String,
    #[arg(long, default_value = "GetUser")]
    action: String,
    /// NAME=VALUE; `{seq}` in a value becomes a number unique to the request
    #[arg(long = "param")]
    params: Vec<String>,
    #[arg(long, default_value_t = 64)]
    connections: usize,
    /// Seconds measured
    #[arg(long, default_value_t = 10.0)]
    duration: f64,
    /// Seconds of load before measuring starts
    #[arg(long, default_value_t = 2.0)]
    warmup: f64,
    /// Print the report as JSON
    #[arg(long)]
    json: bool,
}

#[derive(Debug, Serialize)]
struct Report {
    action: String,
    connections: usize,
    seconds: f64,
    requests: u64,
    requests_per_sec: f64,
    p50_ms: f64,
    p90_ms: f64,
    p99_ms: f64,
    max_ms: f64,
    /// HTTP status (and error code) → count; only non-200s
    errors: BTreeMap<String, u64>,
}

#[derive(Debug, thiserror::Error)]
enum LoadError {
    #[error("{0}")]
    Usage(String),
    #[error("connection: {0}")]
    Io(#[from] std::io::Error),
    #[error("malformed response: {0}")]
    Response(&'static str),
}

struct Sample {
    latencies_us: Vec<u32>,
    errors: BTreeMap<String, u64>,
}

/// Reads one response; returns the status and body.
async fn read_response(
    stream: &mut TcpStream,
    buf: &mut Vec<u8>,
) -> Result<(u16, Vec<u8>), LoadError> {
    buf.clear();
    let mut chunk = [0u8; 8192];
    let head_end = loop {
        if let Some(pos) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break pos + 4;
        }
        let n = stream.read(&mut chunk).await?;
        if n == 0 {
            return Err(LoadError::Response("connection closed"));
        }
        buf.extend_from_slice(chunk.get(..n).unwrap_or_default());
    };
    let head = std::str::from_utf8(buf.get(..head_end).unwrap_or_default())
        .map_err(|_| LoadError::Response("head is not text"))?;
    let status: u16 = head
        .get(9..12)
        .and_then(|s| s.parse().ok())
        .ok_or(LoadError::Response("no status"))?;
    let length: usize = head
        .lines()
        .find_map(|l| {
            let (k, v) = l.split_once(':')?;
            k.eq_ignore_ascii_case("content-length")
                .then(|| v.trim().parse().ok())?
        })
        .ok_or(LoadError::Response("no content-length"))?;
    while buf.len() < head_end + length {
        let n = stream.read(&mut chunk).await?;
        if n == 0 {
            return Err(LoadError::Response("connection closed in body"));
        }
        buf.extend_from_slice(chunk.get(..n).unwrap_or_default());
    }
    let body = buf
        .get(head_end..head_end + length)
        .unwrap_or_default()
        .to_vec();
    buf.drain(..head_end + length);
    Ok((status, body))
}

fn error_key(status: u16, body: &[u8]) -> String {
    let code = serde_json::from_slice::<serde_json::Value>(body)
        .ok()
        .and_then(|v| v.get("Code").and_then(|c| c.as_str()).map(str::to_owned))
        .unwrap_or_default();
    format!("{status} {code}")
}

async fn connection(
    args: Arc<Args>,
    signer: Arc<Signer>,
    seq: Arc<AtomicU64>,
    measuring: Arc<AtomicBool>,
    stop: Arc<AtomicBool>,
) -> Result<Sample, LoadError> {
    let mut stream = TcpStream::connect(&args.endpoint).await?;
    stream.set_nodelay(true)?;
    let mut sample = Sample {
        latencies_us: Vec::with_capacity(1 << 16),
        errors: BTreeMap::new(),
    };
    let mut buf = Vec::with_capacity(16 * 1024);
    while !stop.load(Ordering::Relaxed) {
        let n = seq.fetch_add(1, Ordering::Relaxed);
        let request = signer.request(&args.endpoint, &args.action, &args.version, n);
        let started = Instant::now();
        stream.write_all(request.as_bytes()).await?;
        let (status, body) = read_response(&mut stream, &mut buf).await?;
        let elapsed = started.elapsed();
        if measuring.load(Ordering::Relaxed) {
            sample
                .latencies_us
                .push(u32::try_from(elapsed.as_micros()).unwrap_or(u32::MAX));
            if status != 200 {
                *sample.errors.entry(error_key(status, &body)).or_insert(0) += 1;
            }
        }
    }
    Ok(sample)
}

fn percentile(sorted: &[u32], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let rank = ((p / 100.0) * (sorted.len() - 1) as f64).round() as usize;
    f64::from(sorted.get(rank).copied().unwrap_or(0)) / 1000.0
}

async fn run(args: Args) -> Result<Report, LoadError> {
    let credentials = Credentials::load(
        args.credentials.as_deref(),
        args.access_key_id.as_deref(),
        args.access_key_secret.as_deref(),
    )
    .map_err(LoadError::Usage)?;
    let params = args
        .params
        .iter()
        .map(|p| {
            p.split_once('=')
                .map(|(k, v)| (k.to_owned(), v.to_owned()))
                .ok_or_else(|| LoadError::Usage(format!("--param {p:?} is not NAME=VALUE")))
        })
        .collect::<Result<Vec<_>, _>>()?;
    let signer = Arc::new(Signer::new(credentials, params));
    let args = Arc::new(args);
    let seq = Arc::new(AtomicU64::new(0));
    let measuring = Arc::new(AtomicBool::new(false));
    let stop = Arc::new(AtomicBool::new(false));
    let mut tasks = Vec::new();
    for _ in 0..args.connections {
        tasks.push(tokio::spawn(connection(
            Arc::clone(&args),
            Arc::clone(&signer),
            Arc::clone(&seq),
            Arc::clone(&measuring),
            Arc::clone(&stop),
        )));
    }
    tokio::time::sleep(Duration::from_secs_f64(args.warmup)).await;
    measuring.store(true, Ordering::Relaxed);
    let started = Instant::now();
    tokio::time::sleep(Duration::from_secs_f64(args.duration)).await;
    measuring.store(false, Ordering::Relaxed);
    let seconds = started.elapsed().as_secs_f64();
    stop.store(true, Ordering::Relaxed);
    let mut latencies = Vec::new();
    let mut errors = BTreeMap::new();
    for t in tasks {
        let sample = t
            .await
            .map_err(|e| LoadError::Usage(format!("a connection task failed: {e}")))??;
        latencies.extend(sample.latencies_us);
        for (k, v) in sample.errors {
            *errors.entry(k).or_insert(0) += v;
        }
    }
    latencies.sort_unstable();
    let requests = latencies.len() as u64;
    Ok(Report {
        action: args.action.clone(),
        connections: args.connections,
        seconds,
        requests,
        requests_per_sec: requests as f64 / seconds,
        p50_ms: percentile(&latencies, 50.0),
        p90_ms: percentile(&latencies, 90.0),
        p99_ms: percentile(&latencies, 99.0),
        max_ms: latencies.last().map_or(0.0, |m| f64::from(*m) / 1000.0),
        errors,
    })
}

fn main() -> ExitCode {
    let args = Args::parse();
    let json = args.json;
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("rampart-load: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(args)) {
        Ok(report) => {
            if json {
                println!("{}", serde_json::to_string(&report).unwrap_or_default());
            } else {
                println!(
                    "{}: {} requests in {:.1} s over {} connections: {:.0} req/s, p50 {:.2} ms, p90 {:.2} ms, p99 {:.2} ms, max {:.2} ms",
                    report.action, report.requests, report.seconds, report.connections,
                    report.requests_per_sec, report.p50_ms, report.p90_ms, report.p99_ms, report.max_ms
                );
                for (k, v) in &report.errors {
                    println!("  errors {k}: {v}");
                }
            }
            if report.errors.is_empty() {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(1)
            }
        }
        Err(e) => {
            eprintln!("rampart-load: {e}");
            ExitCode::from(2)
        }
    }
}
