//! `rampart serve` and `rampart account create` as a user runs them: the real binary, a real
//! socket, a real data directory.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use rampart_wire::{percent_encode, v1, Secret, SpaceEncoding};
use serde_json::Value;

struct Running {
    child: Child,
    addr: String,
    log: mpsc::Receiver<String>,
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn rampart() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_rampart"));
    for var in [
        "RAMPART_DATA_DIR",
        "RAMPART_DATABASE_URL",
        "RAMPART_LISTEN",
        "RAMPART_CONFIG",
        "RAMPART_MASTER_KEY_FILE",
        "RAMPART_BOOTSTRAP_ACCESS_KEY_ID",
        "RAMPART_BOOTSTRAP_ACCESS_KEY_SECRET",
    ] {
        cmd.env_remove(var);
    }
    cmd
}

/// Starts the server and waits for its "listening on" line.
#[expect(
    clippy::zombie_processes,
    reason = "Running's Drop kills and waits for the child"
)]
fn start(mut cmd: Command) -> Running {
    let mut child = cmd
        .args(["--listen", "127.0.0.1:0"])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = child.stderr.take().unwrap();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    loop {
        let line = rx
            .recv_timeout(Duration::from_secs(30))
            .expect("the server starts within 30 s");
        assert!(!line.contains("panicked"), "{line}");
        if let Some(rest) = line.split("listening on ").nth(1) {
            let addr = rest.split("://").nth(1).unwrap().trim().to_owned();
            return Running {
                child,
                addr,
                log: rx,
            };
        }
    }
}

fn serve(dir: &Path) -> Command {
    let mut cmd = rampart();
    cmd.arg("serve").arg("--data-dir").arg(dir);
    cmd
}

fn http_get(addr: &str, path_and_query: &str) -> (u16, String) {
    let mut s = TcpStream::connect(addr).unwrap();
    write!(
        s,
        "GET {path_and_query} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut text = String::new();
    s.read_to_string(&mut text).unwrap();
    let status = text[9..12].parse().unwrap();
    let body = text.split("\r\n\r\n").nth(1).unwrap_or("").to_owned();
    (status, body)
}

fn credentials(path: &Path) -> (String, String, String) {
    let v: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    (
        v["AccountId"].as_str().unwrap().to_owned(),
        v["AccessKeyId"].as_str().unwrap().to_owned(),
        v["AccessKeySecret"].as_str().unwrap().to_owned(),
    )
}

/// A V1-signed GET, as `aliyun-python-sdk-core` sends.
fn signed_call(
    addr: &str,
    key: &str,
    secret: &str,
    action: &str,
    params: &[(&str, &str)],
) -> (u16, Value) {
    send(addr, &signed_path(key, secret, action, params))
}

fn send(addr: &str, path: &str) -> (u16, Value) {
    let (status, body) = http_get(addr, path);
    (status, serde_json::from_str(&body).unwrap_or(Value::Null))
}

/// The path and query of a V1-signed GET with a fresh nonce.
fn signed_path(key: &str, secret: &str, action: &str, params: &[(&str, &str)]) -> String {
    static N: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let nonce = format!(
        "{}-{}",
        std::process::id(),
        N.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
    );
    let now = {
        let secs = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs();
        rampart_model::Timestamp::from_unix_secs(i64::try_from(secs).unwrap())
            .unwrap()
            .to_string()
    };
    let mut all = vec![
        ("Action", action),
        ("Version", "2015-05-01"),
        ("Format", "JSON"),
        ("AccessKeyId", key),
        ("SignatureMethod", "HMAC-SHA1"),
        ("SignatureVersion", "1.0"),
        ("SignatureNonce", nonce.as_str()),
        ("Timestamp", now.as_str()),
    ];
    all.extend_from_slice(params);
    let canonical = v1::canonicalized_query(all.iter().copied(), SpaceEncoding::Percent20);
    let sig = v1::sign(&Secret::new(secret), &v1::string_to_sign("GET", &canonical));
    format!("/?{canonical}&Signature={}", percent_encode(&sig))
}

fn mode(path: &Path) -> u32 {
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

#[test]
fn first_start_bootstraps_once_and_serves() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let bootstrap = data.join("bootstrap.json");
    {
        let server = start(serve(&data));
        assert_eq!(http_get(&server.addr, "/healthz").0, 200);
        assert_eq!(http_get(&server.addr, "/readyz").0, 200);
        assert_eq!(mode(&bootstrap), 0o600);
        assert_eq!(mode(&data.join("master.key")), 0o600);
        let (account, key, secret) = credentials(&bootstrap);
        assert_eq!(account.len(), 16);
        assert!(account.bytes().all(|b| b.is_ascii_digit()));
        assert!(key.starts_with("LTAI") && key.len() == 24);
        assert_eq!(secret.len(), 30);
        let (status, body) = signed_call(&server.addr, &key, &secret, "ListUsers", &[]);
        assert_eq!(status, 200, "{body}");
        // The secret is never logged.
        drop(server);
    }
    let before = std::fs::read(&bootstrap).unwrap();
    let server = start(serve(&data));
    assert_eq!(
        std::fs::read(&bootstrap).unwrap(),
        before,
        "never overwritten"
    );
    let (_, key, secret) = credentials(&bootstrap);
    let (status, _) = signed_call(&server.addr, &key, &secret, "ListUsers", &[]);
    assert_eq!(status, 200, "the first key still works after a restart");
    drop(server);
}

#[test]
fn no_secret_in_logs_metrics_audit_trail_or_database() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let preset_id = "LTAI5tPRESETPRESETPRESET";
    let preset_secret = "PresetSecretPresetSecretPreset";
    let mut cmd = serve(&data);
    cmd.env("RAMPART_BOOTSTRAP_ACCESS_KEY_ID", preset_id)
        .env("RAMPART_BOOTSTRAP_ACCESS_KEY_SECRET", preset_secret);
    let server = start(cmd);
    let (_, key, secret) = credentials(&data.join("bootstrap.json"));
    assert_eq!((key.as_str(), secret.as_str()), (preset_id, preset_secret));
    let mut secrets = vec![secret.clone()];
    for i in 0..3 {
        let user = format!("user{i}");
        let (s, _) = signed_call(
            &server.addr,
            &key,
            &secret,
            "CreateUser",
            &[("UserName", &user)],
        );
        assert_eq!(s, 200);
        let (s, body) = signed_call(
            &server.addr,
            &key,
            &secret,
            "CreateAccessKey",
            &[("UserName", &user)],
        );
        assert_eq!(s, 200);
        secrets.push(
            body["AccessKey"]["AccessKeySecret"]
                .as_str()
                .unwrap()
                .to_owned(),
        );
    }
    let out = Command::new(env!("CARGO_BIN_EXE_rampart"))
        .args(["account", "create", "--name", "second", "--data-dir"])
        .arg(&data)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let second: Value = serde_json::from_slice(&out.stdout).unwrap();
    secrets.push(second["AccessKeySecret"].as_str().unwrap().to_owned());
    // The new account works against the running server at once.
    let (s, body) = signed_call(
        &server.addr,
        second["AccessKeyId"].as_str().unwrap(),
        second["AccessKeySecret"].as_str().unwrap(),
        "ListUsers",
        &[],
    );
    assert_eq!(s, 200);
    assert_eq!(
        body["Users"]["User"].as_array().unwrap().len(),
        0,
        "isolated"
    );
    // A password and an MFA seed, as the console and CLI will create them.
    let password = "Plain-Text-Password-42";
    let (s, _) = signed_call(
        &server.addr,
        &key,
        &secret,
        "CreateLoginProfile",
        &[("UserName", "user0"), ("Password", password)],
    );
    assert_eq!(s, 200);
    secrets.push(password.to_owned());
    let (s, body) = signed_call(
        &server.addr,
        &key,
        &secret,
        "CreateVirtualMFADevice",
        &[("VirtualMFADeviceName", "m0")],
    );
    assert_eq!(s, 200);
    secrets.push(
        body["VirtualMFADevice"]["Base32StringSeed"]
            .as_str()
            .unwrap()
            .to_owned(),
    );
    let (_, metrics) = http_get(&server.addr, "/metrics");
    assert!(metrics.contains("rampart_requests_total"));
    let mut server = server;
    let _ = server.child.kill();
    let _ = server.child.wait();
    let log: Vec<String> = server.log.try_iter().collect();
    let (code, trail) = audit(&data, &["search"]);
    assert_eq!(code, 0);
    assert!(trail.contains("CreateLoginProfile") && trail.contains("CreateVirtualMFADevice"));
    for secret in &secrets {
        assert!(
            !trail.contains(secret.as_str()),
            "a secret in the audit trail"
        );
        assert!(
            !metrics.contains(secret.as_str()),
            "a secret in the metrics"
        );
    }

    let files: Vec<PathBuf> = std::fs::read_dir(&data)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| {
            p.file_name()
                .unwrap()
                .to_string_lossy()
                .starts_with("rampart.db")
        })
        .collect();
    assert!(!files.is_empty());
    for secret in &secrets {
        for file in &files {
            let bytes = std::fs::read(file).unwrap();
            assert!(
                !bytes.windows(secret.len()).any(|w| w == secret.as_bytes()),
                "a secret in plain text in {}",
                file.display()
            );
        }
        assert!(
            !log.iter().any(|l| l.contains(secret.as_str())),
            "a secret in the log"
        );
    }
}

#[test]
fn a_readable_master_key_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let key = dir.path().join("master.key");
    std::fs::write(&key, format!("{}\n", "ab".repeat(32))).unwrap();
    std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o644)).unwrap();
    let out = rampart()
        .args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
        .arg(dir.path().join("data"))
        .arg("--master-key-file")
        .arg(&key)
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("chmod 600"), "{err}");
}

#[test]
fn config_file_and_environment_set_options() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("from-config");
    let config = dir.path().join("rampart.toml");
    std::fs::write(
        &config,
        format!("data_dir = {:?}\n", data.display().to_string()),
    )
    .unwrap();
    let mut cmd = rampart();
    cmd.arg("serve").env("RAMPART_CONFIG", &config);
    let server = start(cmd);
    assert!(data.join("bootstrap.json").exists());
    drop(server);

    std::fs::write(&config, "no_such_option = 1\n").unwrap();
    let out = rampart()
        .args(["serve", "--config"])
        .arg(&config)
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("no_such_option"));
}

#[test]
fn https_with_rustls() {
    let dir = tempfile::tempdir().unwrap();
    let cert = dir.path().join("cert.pem");
    let key = dir.path().join("key.pem");
    let made = Command::new("openssl")
        .args([
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-nodes",
            "-days",
            "1",
            "-subj",
            "/CN=localhost",
            "-addext",
            "subjectAltName=IP:127.0.0.1",
        ])
        .arg("-keyout")
        .arg(&key)
        .arg("-out")
        .arg(&cert)
        .output()
        .unwrap();
    assert!(
        made.status.success(),
        "{}",
        String::from_utf8_lossy(&made.stderr)
    );
    let mut cmd = serve(&dir.path().join("data"));
    cmd.arg("--tls-cert").arg(&cert).arg("--tls-key").arg(&key);
    let server = start(cmd);
    let out = Command::new("curl")
        .args(["-sS", "--cacert"])
        .arg(&cert)
        .arg(format!("https://{}/healthz", server.addr))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(String::from_utf8_lossy(&out.stdout), "ok\n");
    // Plain HTTP to the TLS port gets no API answer.
    let mut s = TcpStream::connect(&server.addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let _ = s.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n");
    let mut buf = String::new();
    let _ = s.read_to_string(&mut buf);
    assert!(!buf.contains("ok\n"));
}

#[test]
fn metrics_count_requests_by_action_and_code_and_hold_no_secrets() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let server = start(serve(&data));
    let (_, key, secret) = credentials(&data.join("bootstrap.json"));
    assert_eq!(
        signed_call(&server.addr, &key, &secret, "ListUsers", &[]).0,
        200
    );
    assert_eq!(
        signed_call(&server.addr, &key, &secret, "ListUsers", &[]).0,
        200
    );
    let wrong = "x".repeat(30);
    assert_eq!(
        signed_call(&server.addr, &key, &wrong, "ListUsers", &[]).0,
        400
    );
    // An action name the server does not have must not become a label.
    assert_eq!(
        signed_call(&server.addr, &key, &secret, "NoSuchActionXyz", &[]).0,
        404
    );
    let (status, text) = http_get(&server.addr, "/metrics");
    assert_eq!(status, 200);
    for line in [
        r#"rampart_requests_total{product="Ram",action="ListUsers",code="OK"} 2"#,
        r#"rampart_requests_total{product="Ram",action="ListUsers",code="SignatureDoesNotMatch"} 1"#,
        r#"rampart_requests_total{product="Ram",action="-",code="InvalidAction.NotFound"} 1"#,
        r#"rampart_authorization_decisions_total{decision="allow"} 2"#,
        r#"rampart_request_duration_seconds_count{product="Ram"} 4"#,
    ] {
        assert!(text.lines().any(|l| l == line), "no {line} in\n{text}");
    }
    assert!(text.contains(r#"rampart_cache_lookups_total{cache="access_key",result="hit"}"#));
    assert!(text.ends_with("# EOF\n"));
    for secret_or_input in [secret.as_str(), key.as_str(), "NoSuchActionXyz"] {
        assert!(
            !text.contains(secret_or_input),
            "{secret_or_input} in metrics"
        );
    }
    drop(server);
}

#[test]
fn backup_while_serving_then_restore_into_a_new_directory() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let snapshot = dir.path().join("snap.db");
    let server = start(serve(&data));
    let (_, key, secret) = credentials(&data.join("bootstrap.json"));
    let create = |name: &str| {
        signed_call(
            &server.addr,
            &key,
            &secret,
            "CreateUser",
            &[("UserName", name)],
        )
        .0
    };
    assert_eq!(create("before-backup"), 200);
    let run = |args: &[&str]| rampart().args(args).output().unwrap();
    let data_arg = data.to_str().unwrap();
    let snap_arg = snapshot.to_str().unwrap();
    let out = run(&["backup", "--data-dir", data_arg, "--to", snap_arg]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let said: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(said["Bytes"].as_u64().unwrap() > 0);
    assert_eq!(mode(&snapshot), 0o600);
    assert!(String::from_utf8_lossy(&out.stderr).contains("master key"));
    // Never over an existing file.
    let again = run(&["backup", "--data-dir", data_arg, "--to", snap_arg]);
    assert!(!again.status.success());
    assert!(String::from_utf8_lossy(&again.stderr).contains("never overwrites"));
    assert_eq!(create("after-backup"), 200);
    drop(server);

    // A new directory with the old master key and the snapshot.
    let restored = dir.path().join("restored");
    let restored_arg = restored.to_str().unwrap();
    let out = run(&["restore", "--data-dir", restored_arg, "--from", snap_arg]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stderr).contains("master key"));
    std::fs::copy(data.join("master.key"), restored.join("master.key")).unwrap();
    std::fs::set_permissions(
        restored.join("master.key"),
        std::fs::Permissions::from_mode(0o600),
    )
    .unwrap();
    let server = start(serve(&restored));
    let get = |name: &str| {
        signed_call(
            &server.addr,
            &key,
            &secret,
            "GetUser",
            &[("UserName", name)],
        )
        .0
    };
    assert_eq!(
        get("before-backup"),
        200,
        "the root key and the user came back"
    );
    assert_eq!(get("after-backup"), 404, "the snapshot is of its moment");
    drop(server);

    // Never over a database, and never from something that is not a snapshot.
    let over = run(&["restore", "--data-dir", restored_arg, "--from", snap_arg]);
    assert!(!over.status.success());
    assert!(String::from_utf8_lossy(&over.stderr).contains("never overwrites"));
    let junk = dir.path().join("junk.db");
    std::fs::write(&junk, b"not a database at all, not even close to one").unwrap();
    let elsewhere = dir.path().join("elsewhere");
    let bad = run(&[
        "restore",
        "--data-dir",
        elsewhere.to_str().unwrap(),
        "--from",
        junk.to_str().unwrap(),
    ]);
    assert!(!bad.status.success());
    assert!(!elsewhere.join("rampart.db").exists());
}

/// A TCP forwarder to PostgreSQL that can be cut and restored, standing in for a database
/// that goes away and comes back.
struct DbProxy {
    port: u16,
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
    links: std::sync::Arc<std::sync::Mutex<Vec<TcpStream>>>,
    acceptor: Option<std::thread::JoinHandle<()>>,
}

impl DbProxy {
    fn start(port: u16) -> DbProxy {
        use std::sync::atomic::{AtomicBool, Ordering};
        use std::sync::{Arc, Mutex};
        let listener = std::net::TcpListener::bind(("127.0.0.1", port)).unwrap();
        listener.set_nonblocking(true).unwrap();
        let port = listener.local_addr().unwrap().port();
        let stop = Arc::new(AtomicBool::new(false));
        let links: Arc<Mutex<Vec<TcpStream>>> = Arc::default();
        let acceptor = {
            let (stop, links) = (Arc::clone(&stop), Arc::clone(&links));
            std::thread::spawn(move || {
                while !stop.load(Ordering::SeqCst) {
                    let Ok((client, _)) = listener.accept() else {
                        std::thread::sleep(Duration::from_millis(5));
                        continue;
                    };
                    client.set_nonblocking(false).unwrap();
                    let Ok(upstream) = TcpStream::connect("127.0.0.1:5432") else {
                        continue;
                    };
                    let mut held = links.lock().unwrap();
                    held.push(client.try_clone().unwrap());
                    held.push(upstream.try_clone().unwrap());
                    for (mut from, mut to) in [
                        (client.try_clone().unwrap(), upstream.try_clone().unwrap()),
                        (upstream, client),
                    ] {
                        std::thread::spawn(move || {
                            let _ = std::io::copy(&mut from, &mut to);
                            let _ = to.shutdown(std::net::Shutdown::Both);
                        });
                    }
                }
            })
        };
        DbProxy {
            port,
            stop,
            links,
            acceptor: Some(acceptor),
        }
    }

    /// Closes the listener and every forwarded connection.
    fn cut(mut self) -> u16 {
        self.stop.store(true, std::sync::atomic::Ordering::SeqCst);
        if let Some(a) = self.acceptor.take() {
            a.join().unwrap();
        }
        for link in self.links.lock().unwrap().drain(..) {
            let _ = link.shutdown(std::net::Shutdown::Both);
        }
        self.port
    }
}

fn psql(sql: &str) -> bool {
    Command::new("psql")
        .args([
            "-q",
            "-h",
            "127.0.0.1",
            "-U",
            "postgres",
            "-d",
            "test",
            "-c",
            sql,
        ])
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false)
}

/// A new, empty schema on the local PostgreSQL, or `None` (said on stderr) when it does not
/// answer and is not required.
fn fresh_postgres_schema(prefix: &str) -> Option<String> {
    if TcpStream::connect("127.0.0.1:5432").is_err() {
        assert_ne!(
            std::env::var("RAMPART_REQUIRE_POSTGRES").as_deref(),
            Ok("1"),
            "RAMPART_REQUIRE_POSTGRES=1 but PostgreSQL is not on 127.0.0.1:5432"
        );
        eprintln!("SKIPPED: {prefix} needs PostgreSQL on 127.0.0.1:5432");
        return None;
    }
    let schema = format!("{prefix}_{}", std::process::id());
    assert!(
        psql(&format!("CREATE SCHEMA {schema}")),
        "psql CREATE SCHEMA {schema}"
    );
    Some(schema)
}

#[test]
fn database_outage_answers_503_and_service_resumes_without_restart() {
    let Some(schema) = fresh_postgres_schema("rampart_outage") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let proxy = DbProxy::start(0);
    let mut cmd = serve(&data);
    cmd.args([
        "--database-url",
        &format!("postgres://postgres@127.0.0.1:{}/test", proxy.port),
        "--database-schema",
        &schema,
    ]);
    let server = start(cmd);
    let (_, key, secret) = credentials(&data.join("bootstrap.json"));
    let call = |name: &str| {
        let started = std::time::Instant::now();
        let (status, body) = signed_call(
            &server.addr,
            &key,
            &secret,
            "CreateUser",
            &[("UserName", name)],
        );
        (status, body, started.elapsed())
    };
    assert_eq!(call("before").0, 200);

    let port = proxy.cut();
    for i in 0..3 {
        let (status, body, took) = call(&format!("during-{i}"));
        assert_eq!(
            (status, body["Code"].as_str()),
            (503, Some("ServiceUnavailable")),
            "{body}"
        );
        // The pool gives up connecting after its acquire timeout (3 s).
        assert!(took < Duration::from_secs(6), "answered in {took:?}");
    }
    assert_eq!(http_get(&server.addr, "/readyz").0, 503);

    let proxy = DbProxy::start(port);
    let mut resumed = None;
    for attempt in 0..50 {
        let (status, _, _) = call(&format!("after-{attempt}"));
        if status == 200 {
            resumed = Some(attempt);
            break;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    assert!(resumed.is_some(), "service did not resume within 10 s");
    assert_eq!(http_get(&server.addr, "/readyz").0, 200);
    // Nothing refused during the outage was half-written.
    for i in 0..3 {
        let (status, _) = signed_call(
            &server.addr,
            &key,
            &secret,
            "GetUser",
            &[("UserName", &format!("during-{i}"))],
        );
        assert_eq!(status, 404);
    }
    drop(server);
    proxy.cut();
    psql(&format!("DROP SCHEMA {schema} CASCADE"));
}

/// A self-signed P-256 certificate for 127.0.0.1 whose subject is `CN=<name>`.
fn self_signed(dir: &Path, name: &str) -> (PathBuf, PathBuf) {
    let (cert, key) = (
        dir.join(format!("{name}.pem")),
        dir.join(format!("{name}.key")),
    );
    let made = Command::new("openssl")
        .args([
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-nodes",
            "-days",
            "1",
            "-subj",
            &format!("/CN={name}"),
            "-addext",
            "subjectAltName=IP:127.0.0.1",
        ])
        .arg("-keyout")
        .arg(&key)
        .arg("-out")
        .arg(&cert)
        .output()
        .unwrap();
    assert!(
        made.status.success(),
        "{}",
        String::from_utf8_lossy(&made.stderr)
    );
    (cert, key)
}

/// The subject of the certificate the server presents.
fn served_subject(addr: &str) -> String {
    let out = Command::new("openssl")
        .args(["s_client", "-connect", addr])
        .stdin(Stdio::null())
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .find(|l| l.starts_with("subject="))
        .unwrap_or("")
        .to_owned()
}

fn wait_for_log(server: &Running, needle: &str) -> String {
    loop {
        let line = server
            .log
            .recv_timeout(Duration::from_secs(10))
            .unwrap_or_else(|_| panic!("no log line with {needle:?} within 10 s"));
        if line.contains(needle) {
            return line;
        }
    }
}

#[test]
fn sighup_reloads_the_tls_certificate_and_keeps_it_when_the_new_one_is_bad() {
    let dir = tempfile::tempdir().unwrap();
    let (first_cert, first_key) = self_signed(dir.path(), "first");
    let (second_cert, second_key) = self_signed(dir.path(), "second");
    let (cert, key) = (dir.path().join("tls.pem"), dir.path().join("tls.key"));
    std::fs::copy(&first_cert, &cert).unwrap();
    std::fs::copy(&first_key, &key).unwrap();
    let mut cmd = serve(&dir.path().join("data"));
    cmd.arg("--tls-cert").arg(&cert).arg("--tls-key").arg(&key);
    let server = start(cmd);
    assert!(served_subject(&server.addr).contains("first"));
    let hangup = || {
        let sent = Command::new("kill")
            .args(["-HUP", &server.child.id().to_string()])
            .status()
            .unwrap();
        assert!(sent.success());
    };

    // Renewed files, then SIGHUP: new handshakes get the new certificate.
    std::fs::copy(&second_cert, &cert).unwrap();
    std::fs::copy(&second_key, &key).unwrap();
    hangup();
    wait_for_log(&server, "reloaded the TLS certificate");
    assert!(served_subject(&server.addr).contains("second"));

    // A broken file is reported and the working certificate stays.
    std::fs::write(&cert, "not a certificate").unwrap();
    hangup();
    let said = wait_for_log(&server, "kept the current TLS certificate");
    assert!(said.contains("tls.pem"), "{said}");
    assert!(served_subject(&server.addr).contains("second"));
    assert_eq!(
        Command::new("curl")
            .args(["-sS", "--cacert"])
            .arg(&second_cert)
            .arg(format!("https://{}/healthz", server.addr))
            .output()
            .unwrap()
            .stdout,
        b"ok\n"
    );
}

#[test]
fn clients_that_trickle_their_head_or_body_are_cut_off() {
    let dir = tempfile::tempdir().unwrap();
    let mut cmd = serve(&dir.path().join("data"));
    cmd.args(["--client-timeout", "1"]);
    let server = start(cmd);
    let read_all = |s: &mut TcpStream| {
        s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        let mut text = String::new();
        let _ = s.read_to_string(&mut text);
        text
    };
    // A body promised but not sent: 408 in the dialect's envelope, then the connection ends.
    let started = std::time::Instant::now();
    let mut s = TcpStream::connect(&server.addr).unwrap();
    s.write_all(
        b"POST / HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded\r\n\
          Content-Length: 100\r\n\r\nAction=Li",
    )
    .unwrap();
    let answer = read_all(&mut s);
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    assert!(answer.contains("\"Code\":\"RequestTimeout\""), "{answer}");
    assert!(answer.contains("\"RequestId\""), "{answer}");
    assert!(started.elapsed() < Duration::from_secs(5));
    // A head that never ends: the connection is closed without an API answer.
    let started = std::time::Instant::now();
    let mut s = TcpStream::connect(&server.addr).unwrap();
    s.write_all(b"GET /?Action=ListUsers HTTP/1.1\r\nHost: x\r\nX-Slow: ")
        .unwrap();
    let answer = read_all(&mut s);
    assert!(!answer.contains("ListUsers"), "{answer}");
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );
    // The server still serves.
    assert_eq!(http_get(&server.addr, "/healthz").0, 200);
}

#[test]
fn json_logs_are_one_object_per_line() {
    let dir = tempfile::tempdir().unwrap();
    let mut child = serve(&dir.path().join("data"))
        .args(["--listen", "127.0.0.1:0", "--log-format", "json"])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = child.stderr.take().unwrap();
    let mut seen = Vec::new();
    for line in BufReader::new(stderr).lines().map_while(Result::ok) {
        let event: Value = serde_json::from_str(&line).unwrap_or_else(|e| panic!("{e}: {line}"));
        assert!(
            event["timestamp"].is_string() && event["level"].is_string(),
            "{line}"
        );
        let message = event["message"].as_str().unwrap().to_owned();
        let done = message.starts_with("listening on ");
        seen.push(message);
        if done {
            break;
        }
    }
    let _ = child.kill();
    let _ = child.wait();
    assert!(
        seen[0].starts_with("created the management account"),
        "{seen:?}"
    );
    assert!(seen
        .last()
        .unwrap()
        .starts_with("listening on http://127.0.0.1:"));
}

#[test]
fn two_nodes_on_one_postgresql_database() {
    let Some(schema) = fresh_postgres_schema("rampart_nodes") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let node = |name: &str| {
        let mut cmd = serve(&dir.path().join(name));
        cmd.args([
            "--database-url",
            "postgres://postgres@127.0.0.1:5432/test",
            "--database-schema",
            &schema,
            "--master-key-file",
            dir.path().join("master.key").to_str().unwrap(),
        ]);
        start(cmd)
    };
    let a = node("a");
    let b = node("b");
    let (_, key, secret) = credentials(&dir.path().join("a").join("bootstrap.json"));

    // The same 20 names sent to both nodes at once: each created exactly once.
    let outcomes: Vec<(u16, Value)> = std::thread::scope(|scope| {
        let calls: Vec<_> = (0..40)
            .map(|i| {
                let addr = if i % 2 == 0 { &a.addr } else { &b.addr };
                let (key, secret) = (&key, &secret);
                scope.spawn(move || {
                    let name = format!("shared-{}", i / 2);
                    signed_call(addr, key, secret, "CreateUser", &[("UserName", &name)])
                })
            })
            .collect();
        calls.into_iter().map(|c| c.join().unwrap()).collect()
    });
    let created = outcomes.iter().filter(|(s, _)| *s == 200).count();
    let taken = outcomes
        .iter()
        .filter(|(s, v)| *s == 409 && v["Code"] == "EntityAlreadyExists.User")
        .count();
    assert_eq!((created, taken), (20, 20), "{outcomes:?}");
    let (status, listed) = signed_call(&b.addr, &key, &secret, "ListUsers", &[("MaxItems", "100")]);
    assert_eq!(status, 200);
    assert_eq!(listed["Users"]["User"].as_array().unwrap().len(), 20);

    // A request served by one node is a replay at the other.
    let path = signed_path(&key, &secret, "GetUser", &[("UserName", "shared-0")]);
    assert_eq!(send(&a.addr, &path).0, 200);
    let (status, body) = send(&b.addr, &path);
    assert_eq!(
        (status, body["Code"].as_str()),
        (400, Some("SignatureNonceUsed")),
        "{body}"
    );

    drop(a);
    drop(b);
    psql(&format!("DROP SCHEMA {schema} CASCADE"));
}

/// The status of a GET, or `None` if the server is not there or hung up mid-answer.
fn try_status(addr: &str, path: &str) -> Option<u16> {
    let mut s = TcpStream::connect(addr).ok()?;
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )
    .ok()?;
    let mut text = String::new();
    s.read_to_string(&mut text).ok()?;
    text.get(9..12)?.parse().ok()
}

#[test]
fn kill_9_during_writes_loses_no_acknowledged_change() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let mut server = start(serve(&data));
    let (_, key, secret) = credentials(&data.join("bootstrap.json"));
    let stop = std::sync::atomic::AtomicBool::new(false);
    // Four writers, each creating users and attaching a policy to every one it created, and
    // keeping the names of the changes the server acknowledged.
    let acknowledged: Vec<(Vec<String>, Vec<String>)> = std::thread::scope(|scope| {
        let writers: Vec<_> = (0..4)
            .map(|w| {
                let (addr, key, secret, stop) = (&server.addr, &key, &secret, &stop);
                scope.spawn(move || {
                    let (mut users, mut attached) = (Vec::new(), Vec::new());
                    for i in 0.. {
                        if stop.load(std::sync::atomic::Ordering::Relaxed) {
                            break;
                        }
                        let name = format!("w{w}-{i}");
                        let path = signed_path(key, secret, "CreateUser", &[("UserName", &name)]);
                        if try_status(addr, &path) != Some(200) {
                            break;
                        }
                        users.push(name.clone());
                        let path = signed_path(
                            key,
                            secret,
                            "AttachPolicyToUser",
                            &[
                                ("PolicyType", "System"),
                                ("PolicyName", "ReadOnlyAccess"),
                                ("UserName", &name),
                            ],
                        );
                        if try_status(addr, &path) != Some(200) {
                            break;
                        }
                        attached.push(name);
                    }
                    (users, attached)
                })
            })
            .collect();
        std::thread::sleep(Duration::from_millis(1500));
        // SIGKILL: no drain, no shutdown path, mid-write.
        server.child.kill().unwrap();
        server.child.wait().unwrap();
        stop.store(true, std::sync::atomic::Ordering::Relaxed);
        writers.into_iter().map(|w| w.join().unwrap()).collect()
    });
    drop(server);
    let users: Vec<&String> = acknowledged.iter().flat_map(|(u, _)| u).collect();
    let attached: Vec<&String> = acknowledged.iter().flat_map(|(_, a)| a).collect();
    assert!(
        users.len() > 20,
        "only {} writes before the kill",
        users.len()
    );
    eprintln!(
        "acknowledged before the kill: {} users, {} attachments",
        users.len(),
        attached.len()
    );

    let server = start(serve(&data));
    users_answer(&server.addr, &key, &secret, users.iter().copied(), 200);
    for name in &attached {
        let (status, body) = signed_call(
            &server.addr,
            &key,
            &secret,
            "ListPoliciesForUser",
            &[("UserName", name)],
        );
        assert_eq!(status, 200);
        assert_eq!(
            body["Policies"]["Policy"][0]["PolicyName"], "ReadOnlyAccess",
            "acknowledged attachment of {name} lost: {body}"
        );
    }
    // Every acknowledged change has its event, and the restarted server sealed what the
    // kill left unsealed: the chain verifies.
    std::thread::sleep(Duration::from_millis(800));
    drop(server);
    let (code, report) = audit(&data, &["verify"]);
    assert_eq!(code, 0, "{report}");
    assert!(report.contains("OK: "), "{report}");
    assert!(!report.contains("not yet sealed"), "{report}");
    for (event, names) in [("CreateUser", &users), ("AttachPolicyToUser", &attached)] {
        let (code, lines) = audit(&data, &["search", "--event-name", event]);
        assert_eq!(code, 0);
        let recorded: std::collections::HashSet<String> = lines
            .lines()
            .map(|l| serde_json::from_str::<Value>(l).unwrap())
            .filter(|e| e.get("errorCode").is_none())
            .map(|e| {
                e["requestParameters"]["UserName"]
                    .as_str()
                    .unwrap()
                    .to_owned()
            })
            .collect();
        for name in names.iter() {
            assert!(recorded.contains(*name), "{event} of {name} has no event");
        }
    }
    // The file itself: intact, and no row points at a missing one.
    assert_sqlite_intact(&data.join("rampart.db"));
}

/// `rampart audit ARGS --data-dir DATA`: exit code and stdout.
fn audit(data: &Path, args: &[&str]) -> (i32, String) {
    let out = rampart()
        .arg("audit")
        .args(args)
        .arg("--data-dir")
        .arg(data)
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
    )
}

/// Runs a Python sqlite3 statement list on the stopped server's database.
fn sqlite(data: &Path, script: &str) -> String {
    let out = Command::new("python3")
        .arg("-c")
        .arg(format!(
            "import sqlite3,sys\nc=sqlite3.connect(sys.argv[1])\n{script}\nc.commit()"
        ))
        .arg(data.join("rampart.db"))
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

#[test]
fn audit_verify_names_an_edited_deleted_or_reordered_event() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let server = start(serve(&data));
    let (_, key, secret) = credentials(&data.join("bootstrap.json"));
    for i in 0..6 {
        let name = format!("u{i}");
        let (status, _) = signed_call(
            &server.addr,
            &key,
            &secret,
            "CreateUser",
            &[("UserName", &name)],
        );
        assert_eq!(status, 200);
    }
    // Sealing runs every 200 ms.
    std::thread::sleep(Duration::from_millis(800));
    drop(server);

    let (code, report) = audit(&data, &["verify"]);
    assert_eq!((code, report.contains("OK: ")), (0, true), "{report}");
    let (_, lines) = audit(&data, &["search", "--event-name", "CreateUser"]);
    let ids: Vec<String> = lines
        .lines()
        .map(|l| {
            serde_json::from_str::<Value>(l).unwrap()["eventId"]
                .as_str()
                .unwrap()
                .to_owned()
        })
        .collect();
    assert_eq!(ids.len(), 6);
    let (_, tail) = audit(&data, &["tail", "--last", "2", "--seconds", "0"]);
    assert_eq!(tail.lines().count(), 2);

    let save = |id: &str| {
        sqlite(
            &data,
            &format!("print(c.execute(\"SELECT body FROM audit_events WHERE event_id = '{id}'\").fetchone()[0])"),
        )
    };
    let set_body = |id: &str, body: &str| {
        let quoted = serde_json::to_string(body).unwrap();
        sqlite(
            &data,
            &format!("c.execute(\"UPDATE audit_events SET body = ? WHERE event_id = '{id}'\", ({quoted},))"),
        );
    };
    let tampered = |expect: &[&str]| {
        let (code, report) = audit(&data, &["verify"]);
        assert_eq!(code, 1, "{report}");
        assert!(report.contains("TAMPERED"), "{report}");
        for needle in expect {
            assert!(report.contains(needle), "{needle} not named: {report}");
        }
    };

    // Edited: u2 renamed after the fact.
    let original = save(&ids[2]);
    set_body(&ids[2], &original.replace("\"u2\"", "\"u9\""));
    tampered(&[&ids[2], "altered"]);
    set_body(&ids[2], &original);
    assert_eq!(audit(&data, &["verify"]).0, 0);

    // Reordered: two events' texts swapped.
    let (a, b) = (save(&ids[1]), save(&ids[4]));
    set_body(&ids[1], &b);
    set_body(&ids[4], &a);
    tampered(&[&ids[1], &ids[4]]);
    set_body(&ids[1], &a);
    set_body(&ids[4], &b);
    assert_eq!(audit(&data, &["verify"]).0, 0);

    // Deleted: the event row, then the event with its link.
    sqlite(
        &data,
        &format!(
            "c.execute(\"DELETE FROM audit_events WHERE event_id = '{}'\")",
            ids[3]
        ),
    );
    tampered(&[&ids[3], "deleted"]);
    sqlite(
        &data,
        &format!(
            "c.execute(\"DELETE FROM audit_chain WHERE event_id = '{}'\")",
            ids[3]
        ),
    );
    tampered(&["deleted together with its link", &ids[4]]);
    // The last event gone with its link: the head still counts it.
    sqlite(
        &data,
        &format!(
            "c.execute(\"DELETE FROM audit_chain WHERE event_id = '{}'\")",
            ids[5]
        ),
    );
    sqlite(
        &data,
        &format!(
            "c.execute(\"DELETE FROM audit_events WHERE event_id = '{}'\")",
            ids[5]
        ),
    );
    tampered(&["the last ones were deleted"]);
}

/// A small tmpfs, unmounted when dropped.
struct SmallDisk {
    path: PathBuf,
}

impl SmallDisk {
    /// `None` (and a loud message) where mounting is not allowed.
    fn mount(path: PathBuf, megabytes: u32) -> Option<SmallDisk> {
        std::fs::create_dir_all(&path).unwrap();
        let out = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={megabytes}m"), "tmpfs"])
            .arg(&path)
            .output()
            .ok()?;
        if !out.status.success() {
            eprintln!(
                "\n*** SKIPPED: the disk-full test needs to mount a tmpfs (root): {} ***\n",
                String::from_utf8_lossy(&out.stderr).trim()
            );
            return None;
        }
        Some(SmallDisk { path })
    }

    fn free_bytes(&self) -> u64 {
        let out = Command::new("df")
            .args(["--output=avail", "-B1"])
            .arg(&self.path)
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .nth(1)
            .unwrap()
            .trim()
            .parse()
            .unwrap()
    }
}

impl Drop for SmallDisk {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(&self.path).status();
    }
}

#[test]
fn a_full_disk_fails_writes_cleanly_and_service_resumes_when_space_returns() {
    let dir = tempfile::tempdir().unwrap();
    let Some(disk) = SmallDisk::mount(dir.path().join("disk"), 24) else {
        return;
    };
    let data = disk.path.join("data");
    let server = start(serve(&data));
    let (_, key, secret) = credentials(&data.join("bootstrap.json"));
    // Leave about 1.5 MB: a few hundred writes' worth of WAL.
    let filler = disk.path.join("filler");
    let free = disk.free_bytes();
    std::fs::write(&filler, vec![0u8; (free - 1_500_000) as usize]).unwrap();

    let comments = "c".repeat(128);
    let (mut acknowledged, mut refused) = (Vec::new(), Vec::new());
    for i in 0..20_000 {
        let name = format!("user{i}");
        let (status, body) = signed_call(
            &server.addr,
            &key,
            &secret,
            "CreateUser",
            &[("UserName", &name), ("Comments", &comments)],
        );
        match status {
            200 => acknowledged.push(name),
            _ => {
                assert_eq!(status, 503, "{body}");
                assert_eq!(body["Code"], "ServiceUnavailable", "{body}");
                assert!(body["RequestId"].is_string());
                refused.push(name);
                if refused.len() >= 5 {
                    break;
                }
            }
        }
    }
    assert!(refused.len() >= 5, "the disk never filled");
    assert!(acknowledged.len() > 10, "{} writes", acknowledged.len());
    eprintln!(
        "disk full after {} acknowledged CreateUser calls",
        acknowledged.len()
    );
    // The process is alive and says so.
    assert_eq!(http_get(&server.addr, "/healthz").0, 200);

    // Space comes back: service resumes without a restart.
    std::fs::remove_file(&filler).unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        let (status, body) = signed_call(
            &server.addr,
            &key,
            &secret,
            "CreateUser",
            &[("UserName", "after")],
        );
        if status == 200 {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "{status} {body}");
        std::thread::sleep(Duration::from_millis(200));
    }
    // Every acknowledged user is there; every refused one is wholly absent.
    users_answer(&server.addr, &key, &secret, acknowledged.iter(), 200);
    users_answer(&server.addr, &key, &secret, refused.iter(), 404);
    std::thread::sleep(Duration::from_millis(800));
    drop(server);
    let (code, report) = audit(&data, &["verify"]);
    assert_eq!(code, 0, "{report}");
    assert_sqlite_intact(&data.join("rampart.db"));
}

/// GetUser of each name answers `status` (200: the user exists; 404: not even in part).
fn users_answer<'a>(
    addr: &str,
    key: &str,
    secret: &str,
    names: impl Iterator<Item = &'a String>,
    status: u16,
) {
    for name in names {
        let (got, body) = signed_call(addr, key, secret, "GetUser", &[("UserName", name)]);
        assert_eq!(got, status, "GetUser {name}: {body}");
    }
}

/// The SQLite file passes `integrity_check` and `foreign_key_check` (no orphan rows), read by
/// python3's sqlite3 rather than by Rampart.
fn assert_sqlite_intact(db: &Path) {
    let check = Command::new("python3")
        .arg("-c")
        .arg(
            "import sqlite3,sys; c=sqlite3.connect(sys.argv[1]); \
             print(c.execute('PRAGMA integrity_check').fetchone()[0]); \
             print(len(c.execute('PRAGMA foreign_key_check').fetchall()))",
        )
        .arg(db)
        .output()
        .unwrap();
    assert_eq!(
        String::from_utf8_lossy(&check.stdout),
        "ok\n0\n",
        "{check:?}"
    );
}

/// One raw HTTP exchange: status, headers (lower-case names) and body.
fn http_exchange(addr: &str, head: &str, body: &str) -> (u16, Vec<(String, String)>, String) {
    let mut s = TcpStream::connect(addr).unwrap();
    write!(
        s,
        "{head}\r\nHost: {addr}\r\nConnection: close\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut text = String::new();
    s.read_to_string(&mut text).unwrap();
    let (top, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let mut lines = top.lines();
    let status = lines.next().unwrap()[9..12].parse().unwrap();
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_owned()))
        .collect();
    (status, headers, body.to_owned())
}

/// Signs in at `/login` as a browser would; returns the redirect's target.
fn console_sign_in(addr: &str, logon: &str, password: &str) -> Option<String> {
    let (_, headers, page) = http_exchange(addr, "GET /login HTTP/1.1", "");
    let cookie = headers
        .iter()
        .find(|(k, v)| k == "set-cookie" && v.starts_with("rampart_login="))
        .map(|(_, v)| v.split(';').next().unwrap().to_owned())
        .unwrap();
    let at = page.find("name=\"csrf\" value=\"").unwrap() + 19;
    let csrf = &page[at..at + page[at..].find('"').unwrap()];
    let form = format!(
        "csrf={}&logon={}&password={}",
        rampart_wire::percent_encode(csrf),
        rampart_wire::percent_encode(logon),
        rampart_wire::percent_encode(password)
    );
    let (_, headers, _) = http_exchange(
        addr,
        &format!(
            "POST /login HTTP/1.1\r\nCookie: {cookie}\r\nContent-Type: application/x-www-form-urlencoded"
        ),
        &form,
    );
    headers
        .into_iter()
        .find(|(k, _)| k == "location")
        .map(|(_, v)| v)
}

fn set_root_password(data: &Path, account: &str, stdin: &str) -> (bool, String) {
    let mut child = rampart()
        .args([
            "account",
            "set-root-password",
            "--account",
            account,
            "--data-dir",
        ])
        .arg(data)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(stdin.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    (
        out.status.success(),
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    )
}

#[test]
fn set_root_password_reads_stdin_and_the_root_identity_signs_in() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let server = start(serve(&data));
    let (account, _, _) = credentials(&data.join("bootstrap.json"));
    let password = "Root-Console-Pass-7";
    assert_eq!(
        console_sign_in(&server.addr, &account, password).as_deref(),
        None,
        "no console password before one is set"
    );
    // Refusals: no password, a short one, an unknown account, a malformed id.
    let (ok, said) = set_root_password(&data, &account, "");
    assert!(
        !ok && said.contains("no password on standard input"),
        "{said}"
    );
    let (ok, said) = set_root_password(&data, &account, "short\n");
    assert!(!ok && said.contains("8 to 32 characters"), "{said}");
    let (ok, said) = set_root_password(&data, "9999999999999999", &format!("{password}\n"));
    assert!(
        !ok && said.contains("no account 9999999999999999"),
        "{said}"
    );
    let (ok, said) = set_root_password(&data, "acme", &format!("{password}\n"));
    assert!(!ok && said.contains("16-digit"), "{said}");
    // While the server runs on the same store.
    let (ok, said) = set_root_password(&data, &account, &format!("{password}\n"));
    assert!(ok, "{said}");
    assert!(!said.contains(password));
    assert_eq!(
        console_sign_in(&server.addr, &account, password).as_deref(),
        Some("/console")
    );
    assert_eq!(
        console_sign_in(&server.addr, &account, "Not-The-Password-1").as_deref(),
        None
    );
    // The change is in the trail, without the password.
    let (code, found) = audit(&data, &["search", "--event-name", "SetRootPassword"]);
    assert_eq!(code, 0);
    assert_eq!(found.lines().count(), 1, "{found}");
    assert!(!found.contains(password));
}
