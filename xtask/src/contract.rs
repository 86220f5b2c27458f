//! The contract step of `cargo xtask test`: schemathesis (every check) over the OpenAPI document
//! the local server serves, against a local stack of its own — drop-local with the BankID and
//! Sumsub sandboxes on free ports, a fresh `drop` database, rate limits off — first
//! unauthenticated, then with a mobile session (Bearer) and a web session (the
//! `__Host-drop_token` cookie and the web app's `Origin`), each signed in through the BankID
//! sandbox by `drop-bench token`. What schemathesis may send is in `xtask/schemathesis.toml`.

use std::fs;
use std::net::TcpListener;
use std::os::unix::process::CommandExt;
use std::process::{Child, Command, Stdio};
use std::thread::sleep;
use std::time::{Duration, Instant};

use crate::services::{Moto, Postgres};
use crate::venv::Venv;
use crate::{aws_env, database_env, interrupt, proc, Repo};

/// Signing out revokes the very session the run is using; it runs unauthenticated only.
const SIGN_OUT: &str = "/v1/auth/logout";

pub fn run(repo: &Repo, venv: &Venv, pg: &Postgres, moto: &Moto) -> Result<(), String> {
    eprintln!("contract: cargo build -p drop-local -p drop-bench");
    proc::run_ok(repo.cargo().args([
        "build",
        "-p",
        "drop-local",
        "--bin",
        "drop-local",
        "-p",
        "drop-bench",
        "--bin",
        "drop-bench",
    ]))?;
    let bin = repo.target_dir().join("debug");

    // A database of its own each run, so the sandboxes (which start empty) know every
    // applicant it holds.
    pg.query_value("postgres", "DROP DATABASE IF EXISTS drop WITH (FORCE)")?;
    pg.create_db("drop")?;

    let [api, bankid, sumsub, bank] = free_ports()?;
    let log_path = repo.drop_dir().join("contract-server.log");
    let log = fs::File::create(&log_path)
        .map_err(|e| format!("contract: {}: {e}", log_path.display()))?;
    let mut cmd = Command::new(bin.join("drop-local"));
    cmd.current_dir(&repo.root)
        .env("DROP_STAGE", "local")
        .env("DROP_PORT", api.to_string())
        .env("DROP_BANKID_SANDBOX_PORT", bankid.to_string())
        .env("DROP_SUMSUB_SANDBOX_PORT", sumsub.to_string())
        .env("DROP_BANK_SANDBOX_PORT", bank.to_string())
        .env("DROP_RATE_LIMITS", "off")
        .env("RUST_LOG", "warn")
        .env_remove("DROP_PUBLIC_URL")
        .env_remove("DROP_WEB_APP_URL")
        .env_remove("BANKID_ISSUER")
        .env_remove("SUMSUB_BASE_URL")
        .stdin(Stdio::null())
        .stdout(log.try_clone().map_err(|e| format!("contract: log: {e}"))?)
        .stderr(log)
        .process_group(0);
    aws_env(&mut cmd, moto);
    database_env(&mut cmd, pg.port);
    eprintln!(
        "contract: drop-local on 127.0.0.1:{api} (sandboxes {bankid}, {sumsub}; log {})",
        repo.rel(&log_path)
    );
    let mut server = Server(
        cmd.spawn()
            .map_err(|e| format!("contract: cannot start drop-local: {e}"))?,
    );
    server.wait_ready(api, &log_path)?;

    let base = format!("http://127.0.0.1:{api}");
    let session = |kind: &str| -> Result<String, String> {
        let out = proc::run(
            Command::new(bin.join("drop-bench")).args(["token", &base, kind]),
            true,
        )?;
        if !out.status.success() {
            return Err(format!(
                "contract: {kind} sign-in failed: {}",
                proc::output_text(&out)
            ));
        }
        Ok(String::from_utf8_lossy(&out.stdout).trim().to_owned())
    };
    let bearer = format!("Authorization: Bearer {}", session("mobile")?);
    let cookie = format!("Cookie: __Host-drop_token={}", session("web")?);
    let origin = format!("Origin: {base}");
    let runs: [(&str, Vec<&str>); 3] = [
        ("unauthenticated", vec![]),
        (
            "mobile session",
            vec!["-H", &bearer, "--exclude-path", SIGN_OUT],
        ),
        (
            "web session",
            vec!["-H", &cookie, "-H", &origin, "--exclude-path", SIGN_OUT],
        ),
    ];
    let config = repo.root.join("xtask").join("schemathesis.toml");
    let document = format!("{base}/v1/openapi.json");
    let mut failed = Vec::new();
    for (name, args) in runs {
        interrupt::check()?;
        eprintln!("contract: schemathesis --checks all, {name}");
        let mut cmd = Command::new(venv.bin("schemathesis"));
        cmd.current_dir(repo.drop_dir())
            .env("NO_COLOR", "1")
            .arg("--config-file")
            .arg(&config)
            .args(["run", &document, "--checks", "all"])
            .args(args);
        let out = proc::run(&mut cmd, false)?;
        if !out.status.success() {
            failed.push(name);
        }
    }
    drop(server);
    if failed.is_empty() {
        Ok(())
    } else {
        Err(format!(
            "contract: schemathesis found failures ({}); the server's log is {}",
            failed.join(", "),
            repo.rel(&log_path)
        ))
    }
}

/// Four TCP ports nothing listens on (held together, so they differ), or `DROP_TEST_API_PORT`
/// and the three after it.
fn free_ports() -> Result<[u16; 4], String> {
    if let Ok(v) = std::env::var("DROP_TEST_API_PORT") {
        let p: u16 = v
            .trim()
            .parse()
            .map_err(|_| format!("DROP_TEST_API_PORT={v:?} is not a port number"))?;
        let after = |n: u16| {
            p.checked_add(n)
                .ok_or_else(|| format!("DROP_TEST_API_PORT={p} leaves no room for the sandboxes"))
        };
        return Ok([p, after(1)?, after(2)?, after(3)?]);
    }
    let bind =
        || TcpListener::bind(("127.0.0.1", 0)).map_err(|e| format!("contract: no free port: {e}"));
    let held = [bind()?, bind()?, bind()?, bind()?];
    let port = |l: &TcpListener| l.local_addr().map(|a| a.port()).map_err(|e| e.to_string());
    Ok([
        port(&held[0])?,
        port(&held[1])?,
        port(&held[2])?,
        port(&held[3])?,
    ])
}

/// The server this step started; stopped when dropped.
struct Server(Child);

impl Server {
    /// Waits until the server answers `GET /v1/health` (it migrates the database first).
    fn wait_ready(&mut self, port: u16, log: &std::path::Path) -> Result<(), String> {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if let Ok(Some(status)) = self.0.try_wait() {
                return Err(format!(
                    "contract: drop-local exited ({}):\n{}",
                    proc::status_text(status),
                    proc::tail(log, 20)
                ));
            }
            if proc::http_status(port, "/v1/health") == Some(200) {
                return Ok(());
            }
            if Instant::now() > deadline {
                return Err(format!(
                    "contract: drop-local did not answer on {port} within 60 s:\n{}",
                    proc::tail(log, 20)
                ));
            }
            interrupt::check()?;
            sleep(Duration::from_millis(200));
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        proc::stop_child(&mut self.0, "INT", Duration::from_secs(10));
    }
}
