//! `rampart-load`: drives a Rampart server with correctly signed V3 (`ACS3-HMAC-SHA256`)
//! requests, a fresh nonce each, over keep-alive HTTP/1.1 connections, and reports
//! throughput and latency percentiles.
//!
//! The HTTP client is deliberately minimal (one request in flight per connection, bodies
//! framed by `Content-Length`, which is what Rampart sends) so the generator costs little of
//! the CPU it shares with the server on one machine.
//!
//! ```text
//! rampart-load --endpoint http://127.0.0.1:9720 --credentials data/bootstrap.json \
//!     --action GetUser --param UserName=bench --connections 64 --duration 20s --warmup 3s
//! rampart-load --credentials data/bootstrap.json --action CreateUser \
//!     --param 'UserName=u{run}-{seq}' --duration 10s --json
//! ```

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
    about = "Signed-request load generator for Rampart",
    after_help = "In --param values, {seq} becomes a number unique to the request and {run} a \
                  token unique to this run, so `--action CreateUser --param 'UserName=u{run}-{seq}'` \
                  measures CreateUser/s without name collisions across runs.\n\
                  Exit status: 0 all answers were 200, 1 some were not, 2 the run could not be made."
)]
struct Args {
    /// Server address: `http://host:port` or `host:port` (HTTPS is not supported)
    #[arg(long, default_value = "127.0.0.1:9720")]
    endpoint: String,
    /// bootstrap.json-style file with AccessKeyId and AccessKeySecret
    #[arg(long)]
    credentials: Option<std::path::PathBuf>,
    #[arg(long, requires = "access_key_secret")]
    access_key_id: Option<String>,
    #[arg(long, requires = "access_key_id")]
    access_key_secret: Option<String>,
    /// API version: 2015-05-01 is RAM, 2026-11-01 the authenticated no-op product
    #[arg(long, default_value = "2015-05-01")]
    version: String,
    #[arg(long, default_value = "GetUser")]
    action: String,
    /// NAME=VALUE, repeatable; `{seq}` and `{run}` in a value are substituted
    #[arg(long = "param")]
    params: Vec<String>,
    /// Keep-alive connections, each with one request in flight
    #[arg(long, default_value_t = 64)]
    connections: usize,
    /// Measured time: `20s`, `1500ms`, `2m` or plain seconds
    #[arg(long, default_value = "10s", value_parser = parse_duration)]
    duration: Duration,
    /// Load before measuring starts, same forms as --duration
    #[arg(long, default_value = "2s", value_parser = parse_duration)]
    warmup: Duration,
    /// Offered load in requests per second over all connections (open loop). Each
    /// connection sends on a fixed schedule; a request that falls due while its connection
    /// still waits for the previous answer is timed from its due time, so a slow answer also
    /// charges the requests queued behind it (no coordinated omission). Without it, every
    /// connection sends as soon as its last answer arrives.
    #[arg(long, value_parser = parse_rate)]
    rate: Option<f64>,
    /// Print the report as one line of JSON
    #[arg(long)]
    json: bool,
    /// Also write every measured request to FILE, one CSV line each: its start in µs since
    /// the connections opened, its latency in µs, its HTTP status. An exchange that failed
    /// without an answer is listed with status 0, though the latency figures leave it out.
    /// Lines up slow requests with what the server and the host did at the time.
    #[arg(long, value_name = "FILE")]
    trace: Option<std::path::PathBuf>,
}

fn parse_rate(text: &str) -> Result<f64, String> {
    match text.trim().parse::<f64>() {
        Ok(r) if r.is_finite() && r > 0.0 => Ok(r),
        _ => Err(format!(
            "{text:?} is not a positive number of requests per second"
        )),
    }
}

/// `20s`, `1500ms`, `2m`, `0.5` (seconds).
fn parse_duration(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    let (number, scale) = if let Some(n) = text.strip_suffix("ms") {
        (n, 0.001)
    } else if let Some(n) = text.strip_suffix('s') {
        (n, 1.0)
    } else if let Some(n) = text.strip_suffix('m') {
        (n, 60.0)
    } else {
        (text, 1.0)
    };
    let value: f64 = number
        .trim()
        .parse()
        .map_err(|_| format!("{text:?} is not a duration such as 20s, 500ms or 2m"))?;
    Duration::try_from_secs_f64(value * scale).map_err(|e| format!("{text:?}: {e}"))
}

/// `http://host:port/` → `host:port`, which is both the address dialled and the signed `host`.
fn host_of(endpoint: &str) -> Result<String, String> {
    if endpoint.starts_with("https://") {
        return Err("HTTPS endpoints are not supported; use http:// or host:port".into());
    }
    let host = endpoint
        .strip_prefix("http://")
        .unwrap_or(endpoint)
        .trim_end_matches('/');
    if host.is_empty() || host.contains('/') || host.contains("://") {
        return Err(format!(
            "--endpoint {endpoint:?} is not http://host:port or host:port"
        ));
    }
    Ok(host.to_owned())
}

#[derive(Debug, Serialize)]
struct Report {
    action: String,
    version: String,
    connections: usize,
    /// `--rate`, when the load was offered on a schedule.
    offered_per_sec: Option<f64>,
    seconds: f64,
    /// Answers received while measuring, whatever their status.
    requests: u64,
    /// Of those, answered 200.
    ok: u64,
    requests_per_sec: f64,
    p50_ms: f64,
    p90_ms: f64,
    p99_ms: f64,
    max_ms: f64,
    /// `"<status> <Code>"` of every non-200 answer, and `"connection: …"` for failed
    /// exchanges (the connection is then re-opened), → count.
    errors: BTreeMap<String, u64>,
}

#[derive(Debug, thiserror::Error)]
enum LoadError {
    #[error("{0}")]
    Usage(String),
    #[error("cannot connect to {0}: {1}")]
    Connect(String, std::io::Error),
    #[error("connection: {0}")]
    Io(#[from] std::io::Error),
    #[error("malformed response: {0}")]
    Response(&'static str),
}

impl LoadError {
    /// The error-table key of a failed exchange.
    fn key(&self) -> String {
        match self {
            LoadError::Io(e) => format!("connection: {:?}", e.kind()),
            other => format!("connection: {other}"),
        }
    }
}

#[derive(Default)]
struct Sample {
    latencies_us: Vec<u32>,
    errors: BTreeMap<String, u64>,
    /// `(start µs since origin, latency µs, status)`, kept only with `--trace`.
    trace: Vec<(u64, u32, u16)>,
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
    format!("{status} {code}").trim_end().to_owned()
}

async fn connect(host: &str) -> Result<TcpStream, LoadError> {
    let stream = TcpStream::connect(host)
        .await
        .map_err(|e| LoadError::Connect(host.to_owned(), e))?;
    stream.set_nodelay(true)?;
    Ok(stream)
}

struct Shared {
    args: Args,
    host: String,
    signer: Signer,
    seq: AtomicU64,
    measuring: AtomicBool,
    stop: AtomicBool,
    /// When the connections started: the origin of `--rate` schedules.
    origin: Instant,
}

/// One keep-alive connection's request loop. A failed exchange is counted and the connection
/// re-opened; only a failure to open the first connection ends the task with an error.
async fn connection(shared: Arc<Shared>, index: usize, first: TcpStream) -> Sample {
    let mut sample = Sample {
        latencies_us: Vec::with_capacity(1 << 16),
        errors: BTreeMap::new(),
        trace: Vec::new(),
    };
    let tracing = shared.args.trace.is_some();
    let mut stream = Some(first);
    let mut buf = Vec::with_capacity(16 * 1024);
    // Open loop: this connection's k-th request is due at origin + (k·C + index) / rate, so
    // the C connections together offer `rate` requests per second, evenly spread.
    let schedule = shared.args.rate.map(|rate| {
        let interval = Duration::from_secs_f64(shared.args.connections as f64 / rate);
        let phase = Duration::from_secs_f64(index as f64 / rate);
        (interval, shared.origin + phase)
    });
    let mut due = schedule.map(|(_, first_due)| first_due);
    let mut last_done = shared.origin;
    while !shared.stop.load(Ordering::Relaxed) {
        let mut conn = match stream.take() {
            Some(s) => s,
            None => match connect(&shared.host).await {
                Ok(s) => s,
                Err(e) => {
                    if shared.measuring.load(Ordering::Relaxed) {
                        *sample.errors.entry(e.key()).or_insert(0) += 1;
                    }
                    tokio::time::sleep(Duration::from_millis(20)).await;
                    continue;
                }
            },
        };
        let started = match (due, schedule) {
            (Some(at), Some((interval, _))) => {
                tokio::time::sleep_until(at.into()).await;
                if shared.stop.load(Ordering::Relaxed) {
                    break;
                }
                due = Some(at + interval);
                // Still busy with the previous answer when this one fell due: the server
                // made it wait, so the wait counts. Idle at the due time: any lateness is
                // the client's timer (1 ms granularity), not the server's, so it does not.
                if last_done > at {
                    at
                } else {
                    Instant::now()
                }
            }
            _ => Instant::now(),
        };
        let n = shared.seq.fetch_add(1, Ordering::Relaxed);
        let request =
            shared
                .signer
                .request(&shared.host, &shared.args.action, &shared.args.version, n);
        let exchange = async {
            conn.write_all(request.as_bytes()).await?;
            read_response(&mut conn, &mut buf).await
        }
        .await;
        last_done = Instant::now();
        let elapsed = last_done.saturating_duration_since(started);
        let measuring = shared.measuring.load(Ordering::Relaxed);
        if measuring && tracing {
            let at = started.saturating_duration_since(shared.origin);
            let status = exchange.as_ref().map_or(0, |(status, _)| *status);
            sample.trace.push((
                u64::try_from(at.as_micros()).unwrap_or(u64::MAX),
                u32::try_from(elapsed.as_micros()).unwrap_or(u32::MAX),
                status,
            ));
        }
        match exchange {
            Ok((status, body)) => {
                if measuring {
                    sample
                        .latencies_us
                        .push(u32::try_from(elapsed.as_micros()).unwrap_or(u32::MAX));
                    if status != 200 {
                        *sample.errors.entry(error_key(status, &body)).or_insert(0) += 1;
                    }
                }
                stream = Some(conn);
            }
            Err(e) => {
                if measuring {
                    *sample.errors.entry(e.key()).or_insert(0) += 1;
                }
                // `stream` stays None: the next turn reconnects.
            }
        }
    }
    sample
}

fn write_trace(file: std::fs::File, trace: &[(u64, u32, u16)]) -> std::io::Result<()> {
    use std::io::Write as _;
    let mut out = std::io::BufWriter::new(file);
    writeln!(out, "start_us,latency_us,status")?;
    for (start, latency, status) in trace {
        writeln!(out, "{start},{latency},{status}")?;
    }
    out.flush()
}

fn percentile(sorted: &[u32], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let rank = ((p / 100.0) * (sorted.len() - 1) as f64).round() as usize;
    f64::from(sorted.get(rank).copied().unwrap_or(0)) / 1000.0
}

fn parse_params(params: &[String]) -> Result<Vec<(String, String)>, LoadError> {
    params
        .iter()
        .map(|p| {
            p.split_once('=')
                .filter(|(k, _)| !k.is_empty())
                .map(|(k, v)| (k.to_owned(), v.to_owned()))
                .ok_or_else(|| LoadError::Usage(format!("--param {p:?} is not NAME=VALUE")))
        })
        .collect()
}

async fn run(args: Args) -> Result<Report, LoadError> {
    let credentials = Credentials::load(
        args.credentials.as_deref(),
        args.access_key_id.as_deref(),
        args.access_key_secret.as_deref(),
    )
    .map_err(LoadError::Usage)?;
    if args.connections == 0 {
        return Err(LoadError::Usage("--connections must be at least 1".into()));
    }
    let host = host_of(&args.endpoint).map_err(LoadError::Usage)?;
    let params = parse_params(&args.params)?;
    // Created before the run, so a path that cannot be written fails at once instead of
    // losing a finished run's report.
    let trace_error = |path: &std::path::Path, e: std::io::Error| {
        LoadError::Usage(format!("--trace {}: {e}", path.display()))
    };
    let trace_file = match &args.trace {
        Some(path) => Some(std::fs::File::create(path).map_err(|e| trace_error(path, e))?),
        None => None,
    };
    // Open every connection first: a server that is not there is a usage error, not a table
    // of connection errors.
    let mut streams = Vec::with_capacity(args.connections);
    for _ in 0..args.connections {
        streams.push(connect(&host).await?);
    }
    let shared = Arc::new(Shared {
        signer: Signer::new(credentials, params),
        host,
        seq: AtomicU64::new(0),
        measuring: AtomicBool::new(false),
        stop: AtomicBool::new(false),
        origin: Instant::now(),
        args,
    });
    let tasks: Vec<_> = streams
        .into_iter()
        .enumerate()
        .map(|(i, s)| tokio::spawn(connection(Arc::clone(&shared), i, s)))
        .collect();
    tokio::time::sleep(shared.args.warmup).await;
    shared.measuring.store(true, Ordering::Relaxed);
    let started = Instant::now();
    tokio::time::sleep(shared.args.duration).await;
    shared.measuring.store(false, Ordering::Relaxed);
    let seconds = started.elapsed().as_secs_f64();
    shared.stop.store(true, Ordering::Relaxed);
    let mut latencies = Vec::new();
    let mut errors = BTreeMap::new();
    let mut trace = Vec::new();
    for t in tasks {
        let sample = t
            .await
            .map_err(|e| LoadError::Usage(format!("a connection task failed: {e}")))?;
        latencies.extend(sample.latencies_us);
        trace.extend(sample.trace);
        for (k, v) in sample.errors {
            *errors.entry(k).or_insert(0) += v;
        }
    }
    latencies.sort_unstable();
    if let (Some(file), Some(path)) = (trace_file, &shared.args.trace) {
        trace.sort_unstable();
        write_trace(file, &trace).map_err(|e| trace_error(path, e))?;
    }
    let requests = latencies.len() as u64;
    let failed_answers: u64 = errors
        .iter()
        .filter(|(k, _)| !k.starts_with("connection:"))
        .map(|(_, v)| *v)
        .sum();
    Ok(Report {
        action: shared.args.action.clone(),
        version: shared.args.version.clone(),
        connections: shared.args.connections,
        offered_per_sec: shared.args.rate,
        seconds,
        requests,
        ok: requests.saturating_sub(failed_answers),
        requests_per_sec: if seconds > 0.0 {
            requests as f64 / seconds
        } else {
            0.0
        },
        p50_ms: percentile(&latencies, 50.0),
        p90_ms: percentile(&latencies, 90.0),
        p99_ms: percentile(&latencies, 99.0),
        max_ms: latencies.last().map_or(0.0, |m| f64::from(*m) / 1000.0),
        errors,
    })
}

fn print_text(report: &Report) {
    if let Some(rate) = report.offered_per_sec {
        println!("offered {rate:.0} req/s on a schedule; latency from each request's due time");
    }
    println!(
        "{} ({}): {} requests ({} ok) in {:.1} s over {} connections: {:.0} req/s, \
         p50 {:.2} ms, p90 {:.2} ms, p99 {:.2} ms, max {:.2} ms",
        report.action,
        report.version,
        report.requests,
        report.ok,
        report.seconds,
        report.connections,
        report.requests_per_sec,
        report.p50_ms,
        report.p90_ms,
        report.p99_ms,
        report.max_ms
    );
    for (k, v) in &report.errors {
        println!("  errors {k}: {v}");
    }
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
            return ExitCode::from(2);
        }
    };
    match runtime.block_on(run(args)) {
        Ok(report) => {
            if json {
                match serde_json::to_string(&report) {
                    Ok(line) => println!("{line}"),
                    Err(e) => {
                        eprintln!("rampart-load: {e}");
                        return ExitCode::from(2);
                    }
                }
            } else {
                print_text(&report);
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

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use std::collections::HashSet;
    use std::sync::Mutex;

    use rampart_wire::{parse_request, verify, Limits, RawRequest, Secret, VerifyOptions};
    use tokio::net::TcpListener;

    use super::*;

    const KEY_ID: &str = "LTAI5tLOADLOADLOADLOADLO";
    const SECRET: &str = "abcdefghijklmnopqrstuvwxyz0123";

    #[test]
    fn durations_and_endpoints() {
        assert_eq!(parse_duration("20s"), Ok(Duration::from_secs(20)));
        assert_eq!(parse_duration("1500ms"), Ok(Duration::from_millis(1500)));
        assert_eq!(parse_duration("2m"), Ok(Duration::from_secs(120)));
        assert_eq!(parse_duration("0.5"), Ok(Duration::from_millis(500)));
        assert!(parse_duration("soon").is_err());
        assert!(parse_duration("-1s").is_err());
        assert_eq!(host_of("http://127.0.0.1:9720").unwrap(), "127.0.0.1:9720");
        assert_eq!(host_of("http://127.0.0.1:9720/").unwrap(), "127.0.0.1:9720");
        assert_eq!(host_of("127.0.0.1:9720").unwrap(), "127.0.0.1:9720");
        assert!(host_of("https://127.0.0.1:9720").is_err());
        assert!(host_of("http://h:1/path").is_err());
        assert!(host_of("ftp://h:1").is_err());
    }

    #[test]
    fn cli_accepts_the_documented_form() {
        let args = Args::try_parse_from([
            "rampart-load",
            "--endpoint",
            "http://127.0.0.1:9720",
            "--access-key-id",
            KEY_ID,
            "--access-key-secret",
            SECRET,
            "--version",
            "2015-05-01",
            "--action",
            "GetUser",
            "--param",
            "UserName=bench",
            "--connections",
            "64",
            "--duration",
            "20s",
            "--warmup",
            "3s",
            "--json",
        ])
        .unwrap();
        assert_eq!(args.duration, Duration::from_secs(20));
        assert_eq!(args.warmup, Duration::from_secs(3));
        // A key id without its secret is refused rather than silently ignored.
        assert!(Args::try_parse_from(["rampart-load", "--access-key-id", KEY_ID]).is_err());
        assert!(parse_params(&["=x".into()]).is_err());
        assert!(parse_params(&["novalue".into()]).is_err());
    }

    /// What the test server saw.
    #[derive(Default)]
    struct Seen {
        requests: u64,
        bad: Vec<String>,
        nonces: HashSet<String>,
        duplicate_nonces: u64,
        user_names: HashSet<String>,
    }

    /// Reads one HTTP/1.1 request head (the generator never sends a body) into a RawRequest.
    async fn read_request(stream: &mut TcpStream, buf: &mut Vec<u8>) -> Option<RawRequest> {
        let mut chunk = [0u8; 4096];
        let end = loop {
            if let Some(pos) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                break pos + 4;
            }
            let n = stream.read(&mut chunk).await.ok()?;
            if n == 0 {
                return None;
            }
            buf.extend_from_slice(&chunk[..n]);
        };
        let head = String::from_utf8(buf.drain(..end).collect()).ok()?;
        let mut lines = head.split("\r\n");
        let mut parts = lines.next()?.split(' ');
        let method = parts.next()?;
        let target = parts.next()?;
        let (path, query) = target.split_once('?').unwrap_or((target, ""));
        let mut raw = RawRequest::new(method, path, query);
        for line in lines.filter(|l| !l.is_empty()) {
            let (k, v) = line.split_once(':')?;
            raw = raw.with_header(k.trim(), v.trim());
        }
        Some(raw)
    }

    /// A tiny keep-alive server that verifies every request with the real verifier and
    /// answers 200, or 404 EntityNotExist.User for `UserName=missing`.
    async fn serve(listener: TcpListener, seen: Arc<Mutex<Seen>>) {
        while let Ok((mut stream, _)) = listener.accept().await {
            let seen = Arc::clone(&seen);
            tokio::spawn(async move {
                let mut buf = Vec::new();
                while let Some(raw) = read_request(&mut stream, &mut buf).await {
                    let now = i64::try_from(
                        std::time::SystemTime::now()
                            .duration_since(std::time::UNIX_EPOCH)
                            .unwrap()
                            .as_secs(),
                    )
                    .unwrap();
                    let verdict = parse_request(&raw, &Limits::default()).and_then(|req| {
                        verify(
                            &raw,
                            &req,
                            &Secret::new(SECRET),
                            now,
                            &VerifyOptions::default(),
                        )
                        .map(|()| req)
                    });
                    let (status, body) = {
                        let mut seen = seen.lock().unwrap();
                        seen.requests += 1;
                        match verdict {
                            Ok(req) => {
                                let nonce = req.nonce().unwrap_or_default().to_owned();
                                if !seen.nonces.insert(nonce) {
                                    seen.duplicate_nonces += 1;
                                }
                                if req.access_key_id() != Some(KEY_ID) {
                                    seen.bad.push("wrong key id".into());
                                }
                                let user = req.param("UserName").unwrap_or_default().to_owned();
                                seen.user_names.insert(user.clone());
                                if user == "missing" {
                                    ("404 Not Found", r#"{"Code":"EntityNotExist.User"}"#)
                                } else {
                                    ("200 OK", r#"{"RequestId":"X"}"#)
                                }
                            }
                            Err(e) => {
                                seen.bad.push(format!("{e:?}"));
                                ("400 Bad Request", r#"{"Code":"SignatureDoesNotMatch"}"#)
                            }
                        }
                    };
                    let response = format!(
                        "HTTP/1.1 {status}\r\ncontent-type: application/json\r\n\
                         content-length: {}\r\n\r\n{body}",
                        body.len()
                    );
                    if stream.write_all(response.as_bytes()).await.is_err() {
                        return;
                    }
                }
            });
        }
    }

    async fn against_test_server(extra: &[&str]) -> (Report, Arc<Mutex<Seen>>) {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let seen = Arc::new(Mutex::new(Seen::default()));
        let server = tokio::spawn(serve(listener, Arc::clone(&seen)));
        let endpoint = format!("http://{addr}");
        let mut argv = vec![
            "rampart-load",
            "--endpoint",
            &endpoint,
            "--access-key-id",
            KEY_ID,
            "--access-key-secret",
            SECRET,
            "--connections",
            "4",
            "--duration",
            "300ms",
            "--warmup",
            "100ms",
        ];
        argv.extend_from_slice(extra);
        let report = run(Args::try_parse_from(argv).unwrap()).await.unwrap();
        server.abort();
        (report, seen)
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn every_request_verifies_at_a_server_with_a_unique_nonce() {
        let (report, seen) =
            against_test_server(&["--action", "CreateUser", "--param", "UserName=u{run}-{seq}"])
                .await;
        let seen = seen.lock().unwrap();
        assert!(seen.bad.is_empty(), "{:?}", seen.bad);
        assert!(report.requests > 10, "{report:?}");
        assert!(report.errors.is_empty(), "{report:?}");
        assert_eq!(report.ok, report.requests);
        // The server also saw the warm-up and the requests in flight at the end.
        assert!(seen.requests >= report.requests);
        assert_eq!(seen.duplicate_nonces, 0);
        assert_eq!(seen.nonces.len() as u64, seen.requests);
        // {seq} made every CreateUser name distinct.
        assert_eq!(seen.user_names.len() as u64, seen.requests);
        assert!(report.p50_ms <= report.p99_ms && report.p99_ms <= report.max_ms);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_rate_paces_the_requests_instead_of_flooding() {
        // Unpaced, this server answers thousands per second; at --rate 200 the whole run
        // (400 ms with the warm-up, a little more with timer slack) starts about 80.
        let (report, seen) = against_test_server(&["--rate", "200"]).await;
        let served = seen.lock().unwrap().requests;
        assert!(served <= 100, "{served} requests at 200/s for 0.4 s");
        assert!(served >= 20, "{served}: the schedule must still be kept");
        assert!(report.errors.is_empty(), "{report:?}");
        assert_eq!(report.offered_per_sec, Some(200.0));
        assert!(Args::try_parse_from(["rampart-load", "--rate", "0"]).is_err());
        assert!(Args::try_parse_from(["rampart-load", "--rate", "-5"]).is_err());
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn error_answers_are_counted_by_status_and_code() {
        let (report, seen) =
            against_test_server(&["--action", "GetUser", "--param", "UserName=missing"]).await;
        assert!(seen.lock().unwrap().bad.is_empty());
        assert!(report.requests > 0);
        assert_eq!(report.ok, 0);
        assert_eq!(
            report.errors.get("404 EntityNotExist.User").copied(),
            Some(report.requests),
            "{report:?}"
        );
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_trace_holds_every_measured_request_and_nothing_else() {
        let path = std::env::temp_dir().join(format!(
            "rampart-load-trace-{}-{:?}.csv",
            std::process::id(),
            std::thread::current().id()
        ));
        let path_arg = path.to_str().unwrap().to_owned();
        let (report, _) = against_test_server(&[
            "--action",
            "GetUser",
            "--param",
            "UserName=missing",
            "--trace",
            &path_arg,
        ])
        .await;
        let text = std::fs::read_to_string(&path).unwrap();
        std::fs::remove_file(&path).unwrap();
        let mut lines = text.lines();
        assert_eq!(lines.next(), Some("start_us,latency_us,status"));
        let rows: Vec<(u64, u32, u16)> = lines
            .map(|l| {
                let f: Vec<&str> = l.split(',').collect();
                assert_eq!(f.len(), 3, "{l}");
                (
                    f[0].parse().unwrap(),
                    f[1].parse().unwrap(),
                    f[2].parse().unwrap(),
                )
            })
            .collect();
        // The same requests the report counts (the warm-up is in neither), in start order,
        // each with the status it got.
        assert!(report.requests > 0);
        assert_eq!(rows.len() as u64, report.requests, "{report:?}");
        assert!(rows.windows(2).all(|w| w[0].0 <= w[1].0));
        assert!(rows.iter().all(|r| r.2 == 404), "{rows:?}");
        let max = rows.iter().map(|r| r.1).max().unwrap();
        assert_eq!(f64::from(max) / 1000.0, report.max_ms);
        // Measuring starts after the 100 ms warm-up; a request started just before the
        // switch and answered after it is measured, so allow one request's time.
        assert!(rows[0].0 + u64::from(max) >= 100_000, "{:?}", rows[0]);
    }

    #[tokio::test]
    async fn a_server_that_is_not_there_is_a_clear_error() {
        // Bind then drop, so the port is (almost certainly) closed.
        let addr = TcpListener::bind("127.0.0.1:0")
            .await
            .unwrap()
            .local_addr()
            .unwrap();
        let endpoint = format!("{addr}");
        let args_with = |extra: &[&str]| {
            let base = [
                "rampart-load",
                "--endpoint",
                endpoint.as_str(),
                "--access-key-id",
                KEY_ID,
                "--access-key-secret",
                SECRET,
            ];
            Args::try_parse_from(base.iter().chain(extra)).unwrap()
        };
        let err = run(args_with(&["--duration", "100ms"])).await.unwrap_err();
        assert!(matches!(err, LoadError::Connect(..)), "{err}");
        assert!(err.to_string().contains(&endpoint));
        // A trace that cannot be written is refused before anything is sent.
        let args = args_with(&["--trace", "/nonexistent-rampart-dir/trace.csv"]);
        let err = run(args).await.unwrap_err();
        assert!(matches!(err, LoadError::Usage(..)), "{err}");
        assert!(err
            .to_string()
            .starts_with("--trace /nonexistent-rampart-dir/trace.csv"));
    }
}
