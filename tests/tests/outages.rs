//! Drills against dependencies that fail: PostgreSQL restarted under load, PostgreSQL and the
//! AWS emulator paused (SIGSTOP: what a partition or an overloaded service looks like).
//!
//! Each drill starts its own throwaway PostgreSQL cluster (and moto process), so stopping them
//! disturbs no other test.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // tests: a failed step must stop the test loudly

use drop_shared::aws::login::PendingLogin;
use drop_shared::aws::provision;
use drop_shared::aws::rate_limit::{Decision, RatePolicy};
use drop_shared::aws::Aws;
use drop_shared::config::{AwsDeadlines, Config};
use drop_shared::edge::Base;
use drop_shared::store::{migrate, roles};
use drop_shared::{ApiError, ErrorCode};
use http::StatusCode;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
        .unwrap_or(false)
}

/// `tool args…`, as the `postgres` user when running as root (initdb refuses root).
fn pg_tool(tool: &str) -> Command {
    if is_root() {
        let mut cmd = Command::new("runuser");
        cmd.args(["-u", "postgres", "--", tool]);
        cmd
    } else {
        Command::new(tool)
    }
}

fn run(cmd: &mut Command) {
    let out = cmd.output().unwrap_or_else(|e| panic!("{cmd:?}: {e}"));
    assert!(
        out.status.success(),
        "{cmd:?}: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A PostgreSQL cluster of this test's own, stopped and removed when dropped.
struct Cluster {
    dir: PathBuf,
    port: u16,
}

impl Cluster {
    fn start() -> Self {
        let dir = std::env::temp_dir().join(format!(
            "drop-outage-{}-{}",
            std::process::id(),
            uuid::Uuid::new_v4().simple()
        ));
        std::fs::create_dir_all(&dir).unwrap();
        if is_root() {
            run(Command::new("chown").arg("postgres").arg(&dir));
        }
        let port = free_port();
        run(pg_tool("initdb")
            .arg("-D")
            .arg(dir.join("data"))
            .args([
                "-U",
                "postgres",
                "--auth=trust",
                "--no-sync",
                "-E",
                "UTF8",
                "--locale=C.UTF-8",
            ])
            .stdout(Stdio::null()));
        run(pg_tool("pg_ctl")
            .arg("-D")
            .arg(dir.join("data"))
            .arg("-l")
            .arg(dir.join("log"))
            .args(["-w", "-o"])
            .arg(format!(
                "-c listen_addresses=127.0.0.1 -p {port} -k {} -c fsync=off -c synchronous_commit=off",
                dir.display()
            ))
            .arg("start"));
        Self { dir, port }
    }

    fn data(&self) -> PathBuf {
        self.dir.join("data")
    }

    fn url(&self, user: &str) -> String {
        format!("postgres://{user}@127.0.0.1:{}/postgres", self.port)
    }

    /// Migrated as `postgres`, with the application role `drop_app`; returns its URL.
    async fn migrated(&self) -> String {
        let (mut db, conn) = tokio_postgres::connect(&self.url("postgres"), tokio_postgres::NoTls)
            .await
            .unwrap();
        tokio::spawn(conn);
        migrate::migrate(&mut db).await.unwrap();
        roles::grant_app_role(
            &mut db,
            &roles::AppRole {
                name: "drop_app".into(),
                password: None,
            },
        )
        .await
        .unwrap();
        self.url("drop_app")
    }

    fn restart(&self) {
        run(pg_tool("pg_ctl")
            .arg("-D")
            .arg(self.data())
            .args(["-m", "fast", "-w", "restart"])
            .stdout(Stdio::null()));
    }

    /// The postmaster and every process it started.
    fn pids(&self) -> Vec<u32> {
        let pid_file = std::fs::read_to_string(self.data().join("postmaster.pid")).unwrap();
        let postmaster: u32 = pid_file.lines().next().unwrap().trim().parse().unwrap();
        let mut pids = vec![postmaster];
        pids.extend(children_of(postmaster));
        pids
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        let _ = pg_tool("pg_ctl")
            .arg("-D")
            .arg(self.data())
            .args(["-m", "immediate", "stop"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn children_of(parent: u32) -> Vec<u32> {
    let mut children = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(entry.path().join("stat")) else {
            continue;
        };
        // pid (comm) state ppid …; comm may hold spaces, so read after the last ')'.
        let ppid = stat
            .rsplit_once(')')
            .and_then(|(_, rest)| rest.split_whitespace().nth(1))
            .and_then(|p| p.parse::<u32>().ok());
        if ppid == Some(parent) {
            children.push(pid);
        }
    }
    children
}

/// Sends `signal` to each of `pids` (the parent first): a backend that exited since it was
/// listed is no longer there to pause, which is not a failure.
fn signal(signal: &str, pids: &[u32]) {
    for pid in pids {
        let status = Command::new("kill")
            .arg(format!("-{signal}"))
            .arg(pid.to_string())
            .stderr(Stdio::null())
            .status()
            .unwrap();
        let gone = !Path::new(&format!("/proc/{pid}")).exists();
        assert!(status.success() || gone, "kill -{signal} {pid}: {status}");
    }
}

/// Processes stopped with SIGSTOP, resumed with SIGCONT when dropped (also when a test
/// fails half-way).
struct Paused(Vec<u32>);

impl Paused {
    fn new(pids: Vec<u32>) -> Self {
        signal("STOP", &pids);
        Self(pids)
    }
}

impl Drop for Paused {
    fn drop(&mut self) {
        let _ = Command::new("kill")
            .arg("-CONT")
            .args(self.0.iter().map(u32::to_string))
            .status();
    }
}

/// A moto server of this test's own (`moto_server` from the venv on PATH), killed when dropped.
struct Moto {
    child: Child,
    port: u16,
}

impl Moto {
    fn start() -> Self {
        let port = free_port();
        let child = Command::new("moto_server")
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("moto_server on PATH (run the tests with `cargo xtask test`)");
        let moto = Self { child, port };
        let deadline = Instant::now() + Duration::from_secs(20);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "moto did not start");
            std::thread::sleep(Duration::from_millis(50));
        }
        moto
    }

    /// moto's server process and the workers it may have started.
    fn pids(&self) -> Vec<u32> {
        let mut pids = vec![self.child.id()];
        pids.extend(children_of(self.child.id()));
        pids
    }

    async fn sdk(&self) -> aws_config::SdkConfig {
        aws_config::defaults(aws_config::BehaviorVersion::latest())
            .endpoint_url(format!("http://127.0.0.1:{}", self.port))
            .region(aws_config::Region::new("eu-north-1"))
            .load()
            .await
    }
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = Command::new("kill")
            .arg("-CONT")
            .arg(self.child.id().to_string())
            .status();
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A function instance's state over `database_url` and `aws` (resources named after `table`).
fn state(database_url: &str, aws: Aws, table: &str) -> Base {
    let vars = std::collections::HashMap::from([
        ("DATABASE_URL", database_url.to_owned()),
        ("DROP_STAGE", "local".to_owned()),
        ("DROP_RATE_LIMIT_TABLE", table.to_owned()),
        ("DROP_LOGIN_TABLE", table.to_owned()),
        ("DROP_SECRETS_PREFIX", format!("{table}/")),
    ]);
    let config = Config::from_lookup(|k| vars.get(k).cloned()).unwrap();
    Base::new(config, aws, 4)
}

/// Waits until the readers have served `n` reads in all (at most 20 s).
async fn wait_for_reads(served: &AtomicU32, n: u32) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while served.load(Ordering::Relaxed) < n {
        assert!(Instant::now() < deadline, "the readers stalled");
        tokio::task::yield_now().await;
    }
}

/// What a client would see for a query on a pooled connection without the retry (what a
/// handler does with `Db::conn`).
async fn query(state: &Base) -> Result<(), ApiError> {
    let conn = state.db.conn().await?;
    conn.query_typed("SELECT count(*) FROM exchange_rates", &[])
        .await?;
    Ok(())
}

/// What a client would see for a read of the database through the pool.
async fn read(state: &Base) -> Result<(), ApiError> {
    state
        .db
        .read("SELECT count(*) FROM exchange_rates", &[])
        .await
        .map(drop)
        .map_err(ApiError::from)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn postgres_restarted_under_load_answers_503_never_500_and_recovers() {
    let cluster = Cluster::start();
    let url = cluster.migrated().await;
    // Reads only: no AWS client is ever built.
    let state = state(&url, Aws::default(), "restart");
    read(&state).await.unwrap();

    let stop = Arc::new(AtomicBool::new(false));
    let served = Arc::new(AtomicU32::new(0));
    let mut readers = Vec::new();
    // Half read with the retry, half query a pooled connection as handlers do.
    for retried in [true, false].repeat(4) {
        let (state, stop, served) = (state.clone(), stop.clone(), served.clone());
        readers.push(tokio::spawn(async move {
            let (mut ok, mut unavailable, mut other) = (0u32, 0u32, Vec::new());
            while !stop.load(Ordering::Relaxed) {
                let outcome = if retried {
                    read(&state).await
                } else {
                    query(&state).await
                };
                match outcome {
                    Ok(()) => {
                        ok += 1;
                        served.fetch_add(1, Ordering::Relaxed);
                    }
                    Err(e)
                        if e.code == ErrorCode::ServiceUnavailable
                            && e.status() == StatusCode::SERVICE_UNAVAILABLE
                            && e.retry_after.is_some() =>
                    {
                        unavailable += 1
                    }
                    Err(e) => other.push(format!("{} {:?}", e.status(), e)),
                }
            }
            (retried, ok, unavailable, other)
        }));
    }
    // Once the load runs, restart the server under it (`pg_ctl -w` returns once it accepts
    // connections again).
    wait_for_reads(&served, 200).await;
    let restarted = Instant::now();
    tokio::task::block_in_place(|| cluster.restart());
    let restart_took = restarted.elapsed();
    // Recovery: reads succeed again at once.
    let recovering = Instant::now();
    let mut failed_after = 0;
    while read(&state).await.is_err() {
        failed_after += 1;
        assert!(recovering.elapsed() < Duration::from_secs(5), "no recovery");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let recovery = recovering.elapsed();
    // The readers recover too.
    let before = served.load(Ordering::Relaxed);
    wait_for_reads(&served, before + 200).await;
    stop.store(true, Ordering::Relaxed);

    // (ok, 503) for the readers with the retry and without; every other error.
    let (mut counts, mut other) = ([(0, 0); 2], Vec::new());
    for r in readers {
        let (retried, o, u, x) = r.await.unwrap();
        let c = &mut counts[usize::from(retried)];
        (c.0, c.1) = (c.0 + o, c.1 + u);
        other.extend(x);
    }
    let [plain, retried] = counts;
    println!(
        "restart under load: reads with the retry {} × ok, {} × 503; queries without it {} × ok, {} × 503; \
         {} × other; restart took {restart_took:?}; {failed_after} failed reads after it, recovered in {recovery:?}",
        retried.0,
        retried.1,
        plain.0,
        plain.1,
        other.len()
    );
    let ok = plain.0 + retried.0;
    assert!(other.is_empty(), "errors other than 503: {other:?}");
    assert!(ok > 0);
    assert!(
        recovery < Duration::from_secs(2),
        "recovered in {recovery:?}"
    );
    for _ in 0..10 {
        read(&state).await.unwrap();
    }
    drop(cluster);
}

fn assert_503_within(what: &str, started: Instant, bound: Duration, result: Result<(), ApiError>) {
    let took = started.elapsed();
    let err = result.expect_err(what);
    println!("{what}: {} {} in {took:?}", err.status(), err.code.as_str());
    assert_eq!(
        err.status(),
        StatusCode::SERVICE_UNAVAILABLE,
        "{what}: {err:?}"
    );
    assert_eq!(err.code, ErrorCode::ServiceUnavailable, "{what}");
    assert!(err.retry_after.is_some(), "{what}: Retry-After");
    assert!(took < bound, "{what} took {took:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_paused_answers_503_within_5_s() {
    let cluster = Cluster::start();
    let url = cluster.migrated().await;
    // One instance with a warm pooled connection, one that has not connected yet.
    let warm = state(&url, Aws::default(), "pg-paused");
    read(&warm).await.unwrap();
    let cold = state(&url, Aws::default(), "pg-paused");

    let paused = Paused::new(cluster.pids());
    let bound = Duration::from_secs(5);
    let t = Instant::now();
    assert_503_within("read on a pooled connection", t, bound, read(&warm).await);
    let t = Instant::now();
    assert_503_within("read on a new connection", t, bound, read(&cold).await);
    drop(paused);

    // Resumed: both answer again.
    read(&warm).await.unwrap();
    read(&cold).await.unwrap();
    println!("resumed: both instances read again");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_aws_emulator_paused_the_limiter_fails_open_within_3_s_and_the_rest_answers_503() {
    // No database is used: a port nothing listens on.
    let url = format!("postgres://drop_app@127.0.0.1:{}/drop", free_port());
    let moto = Moto::start();
    let sdk = moto.sdk().await;
    let table = "aws-paused";
    let clients = drop_shared::aws::Clients::new(&sdk, AwsDeadlines::default());
    provision::ensure_table(&clients.dynamo, table)
        .await
        .unwrap();
    // The session key exists but this instance has not read it yet.
    provision::ensure_secret(
        &clients.secrets,
        &format!("{table}/jwt-signing-key"),
        &"ab".repeat(32),
    )
    .await
    .unwrap();
    let state = state(&url, Aws::from_sdk(&sdk), table);
    let limiter = &state.rate_limiter();
    let logins = &drop_shared::aws::login::LoginStore::new(
        state.aws.clone(),
        state.config.login_table.clone(),
    );
    assert!(matches!(
        limiter.check(RatePolicy::EXCHANGE_RATES, "192.0.2.1").await,
        Decision::Allowed { .. }
    ));
    let pending = || PendingLogin {
        nonce: "n".into(),
        pkce_verifier: drop_shared::secret::Secret::new("v".into()),
        client: drop_shared::domain::session::SessionKind::Web,
        client_challenge: "c".into(),
    };
    logins.save_login("before", &pending()).await.unwrap();

    let paused = Paused::new(moto.pids());
    let t = Instant::now();
    let decision = limiter.check(RatePolicy::EXCHANGE_RATES, "192.0.2.1").await;
    let took = t.elapsed();
    println!("rate limiter with its store paused: {decision:?} in {took:?}");
    assert!(matches!(decision, Decision::Allowed { .. }), "fails open");
    assert!(took < Duration::from_secs(3), "{took:?}");

    let t = Instant::now();
    let saved = logins.save_login("during", &pending()).await;
    let took = t.elapsed();
    println!(
        "login state with its store paused: error={} in {took:?}",
        saved.is_err()
    );
    assert!(saved.is_err());
    assert!(took < Duration::from_secs(5), "{took:?}");

    let t = Instant::now();
    let keys = state.secrets.session_keys().await.map(drop);
    assert_503_within("the session key secret", t, Duration::from_secs(5), keys);
    drop(paused);

    logins.save_login("after", &pending()).await.unwrap();
    assert!(matches!(
        limiter.check(RatePolicy::EXCHANGE_RATES, "192.0.2.1").await,
        Decision::Allowed { .. }
    ));
    println!("resumed: limiter and login state answer again");
}
