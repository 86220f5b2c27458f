//! Project automation: `cargo xtask dev`, `cargo xtask test`, `cargo xtask stop`.
//!
//! Everything lives under `.drop/` (git-ignored): the Python venv with moto and cfn-lint,
//! throwaway PostgreSQL clusters (`pg-dev`, `pg-test`), moto pid files and logs. Every server
//! listens on 127.0.0.1 only.

mod contract;
mod node;
mod proc;
mod services;
mod venv;

use std::env;
use std::fs;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode, Stdio};
use std::thread::sleep;
use std::time::{Duration, Instant};

use proc::interrupt;
use services::{Moto, PgConfig, Postgres, Services};
use venv::Venv;

const USAGE: &str = "\
usage: cargo xtask <command>

commands:
  dev               PostgreSQL + moto + the local API server (drop-local); Ctrl-C stops all
  test [-- ARGS]    with their own services: cargo test --workspace --all-targets [ARGS],
                    schemathesis over the local server's OpenAPI document (unauthenticated,
                    mobile and web sessions), cfn-lint infra/template.yaml, cargo clippy -D warnings
  bench             release builds; binary sizes and init times against a stub Lambda
                    Runtime API (beside a bare lambda_http hello-world); GET /v1/exchange-rates
                    latency at 100 connections through the local server
  openapi           write the whole API's OpenAPI document, generated from every function's
                    routes, to functions/api-meta/openapi.json (api-meta embeds it)
  stop              stop services a killed run left behind (dev and test)

environment (ports on 127.0.0.1):
  DROP_PG_PORT=54329 DROP_MOTO_PORT=54330 DROP_PORT=3001           for dev
                    (another DROP_PORT=P is its own stack: database .drop/pg-dev-P,
                    PostgreSQL P+3, moto P+4, the sandboxes P+1 and P+2)
  DROP_TEST_PG_PORT=54339 DROP_TEST_MOTO_PORT=54340                for test
                    (DROP_TEST_API_PORT=P: its local server on P, the sandboxes P+1, P+2;
                    free ports otherwise)
  DROP_BENCH_PG_PORT=54349 DROP_BENCH_MOTO_PORT=54350 DROP_BENCH_PORT=54351  for bench";

/// Variables the user may set that `dev` hands to the server (it inherits the environment).
const PASS_THROUGH: &[&str] = &[
    "BANKID_ISSUER",
    "BANKID_CLIENT_ID",
    "BANKID_CLIENT_SECRET",
    "SUMSUB_BASE_URL",
    "SUMSUB_APP_TOKEN",
    "SUMSUB_SECRET_KEY",
    "SUMSUB_WEBHOOK_SECRET",
    "DROP_PUBLIC_URL",
    "RUST_LOG",
];

/// The repository root and its `.drop/` folder.
pub struct Repo {
    pub root: PathBuf,
}

impl Repo {
    fn locate() -> Result<Repo, String> {
        let root = Path::new(env!("CARGO_MANIFEST_DIR"))
            .parent()
            .map(Path::to_path_buf)
            .ok_or("xtask: cannot find the repository root")?;
        let root = fs::canonicalize(&root).unwrap_or(root);
        Ok(Repo { root })
    }

    pub fn drop_dir(&self) -> PathBuf {
        self.root.join(".drop")
    }

    /// A path relative to the repository root, for messages.
    pub fn rel(&self, p: &Path) -> String {
        p.strip_prefix(&self.root)
            .map(|r| r.display().to_string())
            .unwrap_or_else(|_| p.display().to_string())
    }

    fn ensure_drop_dir(&self) -> Result<(), String> {
        fs::create_dir_all(self.drop_dir())
            .map_err(|e| format!("creating {}: {e}", self.drop_dir().display()))
    }

    fn cargo(&self) -> Command {
        let mut c = Command::new(env::var_os("CARGO").unwrap_or_else(|| "cargo".into()));
        c.current_dir(&self.root);
        c
    }

    fn target_dir(&self) -> PathBuf {
        match env::var_os("CARGO_TARGET_DIR") {
            Some(d) if Path::new(&d).is_absolute() => PathBuf::from(d),
            Some(d) => env::current_dir()
                .unwrap_or_else(|_| self.root.clone())
                .join(d),
            None => self.root.join("target"),
        }
    }
}

fn port_from_env(var: &str, default: u16) -> Result<u16, String> {
    match env::var(var) {
        Ok(v) if !v.trim().is_empty() => v
            .trim()
            .parse()
            .map_err(|_| format!("{var}={v:?} is not a port number")),
        _ => Ok(default),
    }
}

/// The local server's database: the functions connect as the application role `drop_app`;
/// the server migrates as the owner and creates that role with its grants.
fn database_env(cmd: &mut Command, pg_port: u16) {
    cmd.env(
        "DATABASE_URL",
        format!("postgres://drop_app@127.0.0.1:{pg_port}/drop"),
    )
    .env(
        "DATABASE_MIGRATION_URL",
        format!("postgres://postgres@127.0.0.1:{pg_port}/drop"),
    );
}

/// AWS settings for moto; real credentials and profiles are kept away from local runs.
fn aws_env(cmd: &mut Command, moto: &Moto) {
    cmd.env("AWS_ENDPOINT_URL", moto.url())
        .env("AWS_REGION", "eu-north-1")
        .env("AWS_ACCESS_KEY_ID", "test")
        .env("AWS_SECRET_ACCESS_KEY", "test")
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env_remove("AWS_SESSION_TOKEN")
        .env_remove("AWS_PROFILE")
        .env_remove("AWS_DEFAULT_PROFILE");
}

fn main() -> ExitCode {
    let args: Vec<String> = env::args().skip(1).collect();
    let code = match run(&args) {
        Ok(code) => code,
        Err(e) if interrupt::requested() => {
            if e != "interrupted" {
                eprintln!("{e}");
            }
            eprintln!("xtask: interrupted");
            130
        }
        Err(e) => {
            eprintln!("error: {e}");
            1
        }
    };
    ExitCode::from(u8::try_from(code).unwrap_or(1))
}

fn run(args: &[String]) -> Result<i32, String> {
    let repo = Repo::locate()?;
    match args.first().map(String::as_str) {
        Some("dev") => {
            interrupt::install()?;
            match dev(&repo) {
                // Ctrl-C is how `dev` is meant to end; everything has been stopped by now.
                Err(e) if interrupt::requested() => {
                    if e != "interrupted" {
                        eprintln!("{e}");
                    }
                    eprintln!("xtask: stopped");
                    Ok(0)
                }
                Ok(0) if interrupt::requested() => {
                    eprintln!("xtask: stopped");
                    Ok(0)
                }
                other => other,
            }
        }
        Some("test") => {
            interrupt::install()?;
            let mut extra = args.get(1..).unwrap_or_default();
            if extra.first().is_some_and(|a| a == "--") {
                extra = extra.get(1..).unwrap_or_default();
            }
            test(&repo, extra)
        }
        Some("bench") => {
            interrupt::install()?;
            bench(&repo)
        }
        Some("openapi") => {
            openapi(&repo)?;
            Ok(0)
        }
        Some("stop") => {
            stop(&repo)?;
            Ok(0)
        }
        Some("help" | "-h" | "--help") => {
            println!("{USAGE}");
            Ok(0)
        }
        Some(other) => Err(format!("unknown command {other:?}\n{USAGE}")),
        None => {
            eprintln!("{USAGE}");
            Ok(2)
        }
    }
}

// ---------------------------------------------------------------------------------------------
// dev
// ---------------------------------------------------------------------------------------------

/// One `cargo xtask dev` stack: its name (the cluster `.drop/pg-NAME`, moto's and the server's
/// pid files) and its ports.
#[derive(Debug, PartialEq, Eq)]
struct DevStack {
    name: String,
    api: u16,
    postgres: u16,
    moto: u16,
}

const DEFAULT_API_PORT: u16 = 3001;

/// The default stack (`DROP_PORT` 3001) is `dev` with PostgreSQL on 54329 and moto on 54330.
/// Any other `DROP_PORT` is a stack of its own, `dev-PORT`, with its own database and moto, on
/// the ports after the server's and its two sandboxes' (PORT+3, PORT+4; the sandbox bank is on
/// PORT+5), so two runs with
/// different `DROP_PORT`s never share a port or a process. `DROP_PG_PORT` and `DROP_MOTO_PORT`
/// override either port.
fn dev_stack(api: u16, pg: Option<u16>, moto: Option<u16>) -> Result<DevStack, String> {
    let (name, default_pg, default_moto) = if api == DEFAULT_API_PORT {
        ("dev".to_owned(), 54329, 54330)
    } else {
        let at = |offset: u16| {
            api.checked_add(offset).ok_or_else(|| {
                format!("DROP_PORT={api} leaves no room for PostgreSQL and moto after it")
            })
        };
        (format!("dev-{api}"), at(3)?, at(4)?)
    };
    Ok(DevStack {
        name,
        api,
        postgres: pg.unwrap_or(default_pg),
        moto: moto.unwrap_or(default_moto),
    })
}

fn optional_port(var: &str) -> Result<Option<u16>, String> {
    match env::var(var) {
        Ok(_) => port_from_env(var, 0).map(Some),
        Err(_) => Ok(None),
    }
}

fn dev(repo: &Repo) -> Result<i32, String> {
    let stack = dev_stack(
        port_from_env("DROP_PORT", DEFAULT_API_PORT)?,
        optional_port("DROP_PG_PORT")?,
        optional_port("DROP_MOTO_PORT")?,
    )?;
    let (pg_port, moto_port, api_port) = (stack.postgres, stack.moto, stack.api);
    eprintln!(
        "dev: stack `{}`: API 127.0.0.1:{api_port}, PostgreSQL {pg_port} (.drop/pg-{}), moto {moto_port}",
        stack.name, stack.name
    );
    repo.ensure_drop_dir()?;

    let venv = Venv::ensure(repo)?;
    interrupt::check()?;
    let mut services = Services::default();
    let pg = Postgres::start(
        repo,
        &PgConfig {
            name: &stack.name,
            port: pg_port,
            settings: vec![],
        },
    )?;
    let pg = services.postgres.insert(pg);
    pg.create_db("drop")?;
    interrupt::check()?;
    let moto = services
        .moto
        .insert(Moto::start(repo, &venv, &stack.name, moto_port)?);
    interrupt::check()?;

    eprintln!("server: cargo build -p drop-local");
    if let Err(e) = proc::run_ok(repo.cargo().args(["build", "-p", "drop-local"])) {
        if interrupt::requested() {
            return Ok(0);
        }
        return Err(e);
    }
    if interrupt::requested() {
        return Ok(0);
    }
    let bin = repo.target_dir().join("debug").join("drop-local");
    if !bin.exists() {
        return Err(format!("server: {} was not built", bin.display()));
    }

    let pid_file = repo.drop_dir().join(format!("{}-server.pid", stack.name));
    if let Some(pid) = proc::read_pid_file(&pid_file) {
        if proc::is_alive(pid) && proc::cmdline(pid).is_some_and(|c| c.contains("drop-local")) {
            eprintln!("server: stopping the drop-local a previous run left (pid {pid})");
            proc::stop_foreign(pid, Duration::from_secs(10));
        }
        let _ = fs::remove_file(&pid_file);
    }
    if proc::port_answers(api_port) {
        return Err(proc::port_taken("server", api_port, "DROP_PORT"));
    }

    let mut cmd = Command::new(&bin);
    cmd.current_dir(&repo.root)
        .env("DROP_STAGE", "local")
        .env("DROP_PORT", api_port.to_string())
        // The Sumsub sandbox's applicants live as long as the database whose users name them.
        .env(
            "DROP_SUMSUB_SANDBOX_STATE",
            pg.dir().join("sumsub-sandbox.json"),
        )
        // So do the sandbox bank's consents, which the database's linked accounts name.
        .env(
            "DROP_BANK_SANDBOX_STATE",
            pg.dir().join("bank-sandbox.json"),
        )
        .stdin(Stdio::null())
        .process_group(0);
    aws_env(&mut cmd, moto);
    database_env(&mut cmd, pg.port);
    let passed: Vec<&str> = PASS_THROUGH
        .iter()
        .copied()
        .filter(|v| env::var_os(v).is_some())
        .collect();
    eprintln!(
        "server: starting {} on 127.0.0.1:{api_port}{}",
        repo.rel(&bin),
        if passed.is_empty() {
            String::new()
        } else {
            format!(" (with {})", passed.join(", "))
        }
    );
    let mut child = cmd
        .spawn()
        .map_err(|e| format!("server: cannot start {}: {e}", bin.display()))?;
    proc::write_pid_file(&pid_file, child.id())?;

    let code = loop {
        match child.try_wait() {
            Ok(Some(status)) => {
                eprintln!("server: exited ({})", proc::status_text(status));
                break proc::exit_code(status);
            }
            Ok(None) => {}
            Err(e) => {
                eprintln!("server: cannot wait for it: {e}");
                proc::stop_child(&mut child, "INT", Duration::from_secs(10));
                break 1;
            }
        }
        if interrupt::requested() {
            eprintln!("server: stopping");
            proc::stop_child(&mut child, "INT", Duration::from_secs(10));
            break 0;
        }
        sleep(Duration::from_millis(100));
    };
    let _ = fs::remove_file(&pid_file);
    services.stop();
    Ok(code)
}

// ---------------------------------------------------------------------------------------------
// test
// ---------------------------------------------------------------------------------------------

enum Outcome {
    Ok,
    Failed,
    Skipped(&'static str),
}

struct Step {
    name: &'static str,
    secs: f64,
    outcome: Outcome,
}

fn test(repo: &Repo, extra: &[String]) -> Result<i32, String> {
    let pg_port = port_from_env("DROP_TEST_PG_PORT", 54339)?;
    let moto_port = port_from_env("DROP_TEST_MOTO_PORT", 54340)?;
    repo.ensure_drop_dir()?;
    let mut steps: Vec<Step> = Vec::new();
    let mut services = Services::default();

    let setup = (|| -> Result<(), String> {
        let t = Instant::now();
        let venv = Venv::ensure(repo);
        steps.push(step("venv", t, venv.is_ok()));
        let venv = venv?;
        interrupt::check()?;

        // The OpenID provider the tests run (tests/oidc-provider). Without node the step fails
        // and says how to install it; the rest still runs.
        let t = Instant::now();
        let npm = node::ensure(repo);
        if let Err(e) = &npm {
            eprintln!("{e}");
        }
        steps.push(step("npm", t, npm.is_ok()));
        interrupt::check()?;

        let t = Instant::now();
        let pg = Postgres::start(
            repo,
            &PgConfig {
                name: "test",
                port: pg_port,
                settings: vec!["max_connections=200"],
            },
        );
        steps.push(step("postgres", t, pg.is_ok()));
        services.postgres = Some(pg?);
        interrupt::check()?;

        let t = Instant::now();
        let moto = Moto::start(repo, &venv, "test", moto_port);
        steps.push(step("moto", t, moto.is_ok()));
        services.moto = Some(moto?);
        interrupt::check()?;

        let (Some(pg), Some(moto)) = (&services.postgres, &services.moto) else {
            return Err("services missing".to_string());
        };
        let path = env::var_os("PATH").unwrap_or_default();
        let mut dirs = vec![venv.dir.join("bin")];
        dirs.extend(env::split_paths(&path));
        let path = env::join_paths(dirs).map_err(|e| format!("PATH: {e}"))?;
        let with_env = |mut cmd: Command| -> Command {
            cmd.env(
                "DROP_TEST_DATABASE_URL",
                format!("postgres://postgres@127.0.0.1:{}/postgres", pg.port),
            )
            .env("DROP_MOTO_URL", moto.url())
            .env("PATH", &path);
            aws_env(&mut cmd, moto);
            cmd
        };

        let mut cmd = with_env(repo.cargo());
        cmd.args(["test", "--workspace", "--all-targets"])
            .args(extra);
        eprintln!(
            "test: cargo test --workspace --all-targets{}",
            extra.iter().map(|a| format!(" {a}")).collect::<String>()
        );
        steps.push(run_step("cargo test", &mut cmd));
        interrupt::check()?;

        let t = Instant::now();
        let contract = contract::run(repo, &venv, pg, moto);
        if let Err(e) = &contract {
            eprintln!("{e}");
        }
        steps.push(step("schemathesis", t, contract.is_ok()));
        interrupt::check()?;

        let template = repo.root.join("infra").join("template.yaml");
        if template.exists() {
            let mut cmd = with_env(Command::new(venv.bin("cfn-lint")));
            cmd.current_dir(&repo.root).arg("infra/template.yaml");
            eprintln!("test: cfn-lint infra/template.yaml");
            steps.push(run_step("cfn-lint", &mut cmd));
        } else {
            steps.push(Step {
                name: "cfn-lint",
                secs: 0.0,
                outcome: Outcome::Skipped("no infra/template.yaml"),
            });
        }
        interrupt::check()?;

        let mut cmd = with_env(repo.cargo());
        cmd.args([
            "clippy",
            "--workspace",
            "--all-targets",
            "--",
            "-D",
            "warnings",
        ]);
        eprintln!("test: cargo clippy --workspace --all-targets -- -D warnings");
        steps.push(run_step("clippy", &mut cmd));
        Ok(())
    })();

    services.stop();
    if let Err(e) = &setup {
        if e != "interrupted" {
            eprintln!("error: {e}");
        }
    }
    eprintln!("xtask test summary:");
    for s in &steps {
        let (word, note) = match &s.outcome {
            Outcome::Ok => ("ok", String::new()),
            Outcome::Failed => ("FAILED", String::new()),
            Outcome::Skipped(why) => ("skipped", format!(" ({why})")),
        };
        eprintln!("  {:<11} {:<8} {:>7.1} s{note}", s.name, word, s.secs);
    }
    if interrupt::requested() {
        eprintln!("xtask: interrupted");
        return Ok(130);
    }
    let failed = setup.is_err() || steps.iter().any(|s| matches!(s.outcome, Outcome::Failed));
    Ok(i32::from(failed))
}

fn step(name: &'static str, started: Instant, ok: bool) -> Step {
    Step {
        name,
        secs: started.elapsed().as_secs_f64(),
        outcome: if ok { Outcome::Ok } else { Outcome::Failed },
    }
}

fn run_step(name: &'static str, cmd: &mut Command) -> Step {
    let t = Instant::now();
    let ok = match proc::run(cmd, false) {
        Ok(out) => out.status.success(),
        Err(e) => {
            eprintln!("{name}: {e}");
            false
        }
    };
    step(name, t, ok)
}

// ---------------------------------------------------------------------------------------------
// bench
// ---------------------------------------------------------------------------------------------

/// Lambda binaries measured, beside the hello-world baseline.
const BENCH_FUNCTIONS: &[&str] = &[
    "api-auth",
    "api-me",
    "api-kyc",
    "api-accounts",
    "api-rates",
    "api-meta",
    "webhook-sumsub",
];

/// `GET /v1/auth/me` with a mobile session at 100 connections, and the PostgreSQL round trips
/// each request costs (transactions the server committed in `drop`, per request: every
/// statement outside a transaction is one round trip and one commit).
fn bench_signed_in(bench_bin: &Path, api_port: u16, pg: &Postgres) -> Result<(), String> {
    let base = format!("http://127.0.0.1:{api_port}");
    let out = proc::run(Command::new(bench_bin).args(["token", &base]), true)?;
    if !out.status.success() {
        return Err(format!(
            "bench: sign-in failed: {}",
            proc::output_text(&out)
        ));
    }
    let token = String::from_utf8_lossy(&out.stdout).trim().to_owned();
    println!("== GET /v1/auth/me, signed in (Bearer), local server (release) ==");
    let commits = || -> Result<u64, String> {
        sleep(Duration::from_millis(1500)); // statistics are flushed about once a second
        pg.query_value(
            "drop",
            "SELECT xact_commit FROM pg_stat_database WHERE datname = 'drop'",
        )?
        .parse()
        .map_err(|e| format!("xact_commit: {e}"))
    };
    let before = commits()?;
    let url = format!("{base}/v1/auth/me");
    let out = proc::run(
        Command::new(bench_bin)
            .args(["load", &url, "100", "10"])
            .env("DROP_BENCH_AUTHORIZATION", format!("Bearer {token}")),
        true,
    )?;
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    print!("{text}");
    let after = commits()?;
    let sent: u64 = text
        .split("sent ")
        .nth(1)
        .and_then(|rest| rest.split(' ').next())
        .and_then(|n| n.parse().ok())
        .ok_or("bench: no request count")?;
    println!(
        "PostgreSQL round trips per GET /v1/auth/me: {} commits / {sent} requests = {}.{:02}",
        after - before,
        (after - before) / sent.max(1),
        (after - before) % sent.max(1) * 100 / sent.max(1)
    );
    Ok(())
}

fn bench(repo: &Repo) -> Result<i32, String> {
    let pg_port = port_from_env("DROP_BENCH_PG_PORT", 54349)?;
    let moto_port = port_from_env("DROP_BENCH_MOTO_PORT", 54350)?;
    let api_port = port_from_env("DROP_BENCH_PORT", 54351)?;
    repo.ensure_drop_dir()?;

    let mut build = repo.cargo();
    build.args(["build", "--release", "-p", "drop-bench", "-p", "drop-local"]);
    for f in BENCH_FUNCTIONS {
        build.args(["-p", f]);
    }
    eprintln!("bench: cargo build --release (fat LTO: takes minutes the first time)");
    proc::run_ok(&mut build)?;
    let release = repo.target_dir().join("release");
    let bench_bin = release.join("drop-bench");

    println!("== binary size and init time (process start to first Runtime API poll, 30 runs) ==");
    let mut init = Command::new(&bench_bin);
    init.arg("init").arg(release.join("bench-hello"));
    for f in BENCH_FUNCTIONS {
        init.arg(release.join(f));
    }
    proc::run_ok(&mut init)?;
    interrupt::check()?;

    let venv = Venv::ensure(repo)?;
    let mut services = Services::default();
    let result = (|| -> Result<(), String> {
        let pg = services.postgres.insert(Postgres::start(
            repo,
            &PgConfig {
                name: "bench",
                port: pg_port,
                settings: vec![],
            },
        )?);
        pg.create_db("drop")?;
        let pg_port = pg.port;
        let moto = services
            .moto
            .insert(Moto::start(repo, &venv, "bench", moto_port)?);
        let url = format!("http://127.0.0.1:{api_port}/v1/exchange-rates");
        for (limits, what) in [
            (
                "off",
                "rate limits off: the handler, the pool and PostgreSQL",
            ),
            (
                "on",
                "rate limits on, one client IP: 120 counted in DynamoDB (moto), the rest refused with 429 by the instance",
            ),
        ] {
            println!("== GET /v1/exchange-rates, local server (release), {what} ==");
            let mut server = Command::new(release.join("drop-local"));
            server
                .current_dir(&repo.root)
                .env("DROP_STAGE", "local")
                .env("DROP_PORT", api_port.to_string())
                .env("DROP_RATE_LIMITS", limits)
                .env("RUST_LOG", "warn")
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .process_group(0);
            aws_env(&mut server, moto);
            database_env(&mut server, pg_port);
            let mut child = server
                .spawn()
                .map_err(|e| format!("bench: drop-local: {e}"))?;
            let deadline = Instant::now() + Duration::from_secs(30);
            while !proc::port_answers(api_port) && Instant::now() < deadline {
                sleep(Duration::from_millis(100));
            }
            let mut load = proc::run_ok(Command::new(&bench_bin).args(["load", &url, "100", "10"]));
            if load.is_ok() && limits == "off" {
                load = bench_signed_in(&bench_bin, api_port, pg);
            }
            proc::stop_child(&mut child, "INT", Duration::from_secs(10));
            load?;
            interrupt::check()?;
        }
        Ok(())
    })();
    services.stop();
    result.map(|()| 0)
}

// ---------------------------------------------------------------------------------------------
// stop
// ---------------------------------------------------------------------------------------------

/// Regenerates `functions/api-meta/openapi.json` from the routers (`drop-openapi`).
fn openapi(repo: &Repo) -> Result<(), String> {
    let out = proc::run(
        repo.cargo().args([
            "run",
            "--quiet",
            "-p",
            "drop-local",
            "--bin",
            "drop-openapi",
        ]),
        true,
    )?;
    if !out.status.success() {
        return Err(format!(
            "drop-openapi failed: {}",
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    let path = repo
        .root
        .join("functions")
        .join("api-meta")
        .join("openapi.json");
    std::fs::write(&path, &out.stdout).map_err(|e| format!("{}: {e}", path.display()))?;
    eprintln!("openapi: wrote {}", repo.rel(&path));
    Ok(())
}

fn stop(repo: &Repo) -> Result<(), String> {
    if !repo.drop_dir().exists() {
        eprintln!("stop: nothing to stop (no .drop/)");
        return Ok(());
    }
    // The default stack, and every `dev-PORT` stack a run with another DROP_PORT made.
    let mut names: Vec<String> = ["dev", "test", "bench"].map(String::from).to_vec();
    if let Ok(entries) = fs::read_dir(repo.drop_dir()) {
        for entry in entries.flatten() {
            let file = entry.file_name().to_string_lossy().into_owned();
            if let Some(name) = file.strip_prefix("pg-").filter(|n| n.starts_with("dev-")) {
                names.push(name.to_owned());
            }
        }
    }
    for name in names.iter().filter(|n| n.starts_with("dev")) {
        let pid_file = repo.drop_dir().join(format!("{name}-server.pid"));
        if let Some(pid) = proc::read_pid_file(&pid_file) {
            if proc::is_alive(pid) && proc::cmdline(pid).is_some_and(|c| c.contains("drop-local")) {
                proc::stop_foreign(pid, Duration::from_secs(10));
                eprintln!("server: stopped (pid {pid})");
            }
            let _ = fs::remove_file(&pid_file);
        }
    }
    for name in &names {
        Moto::stop_leftover(repo, name);
        Postgres::stop_leftover(repo, name)?;
    }
    eprintln!("stop: done");
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Under `cargo xtask test` the services named in the environment answer (skipped otherwise).
    #[test]
    fn services_from_the_environment_answer() {
        if let Ok(url) = env::var("DROP_TEST_DATABASE_URL") {
            let port: u16 = url
                .rsplit_once(':')
                .and_then(|(_, rest)| rest.split('/').next())
                .and_then(|p| p.parse().ok())
                .unwrap();
            assert!(proc::port_answers(port), "postgres at {url}");
        }
        if let Ok(url) = env::var("DROP_MOTO_URL") {
            let port: u16 = url
                .rsplit_once(':')
                .and_then(|(_, p)| p.parse().ok())
                .unwrap();
            assert_eq!(
                proc::http_status(port, "/moto-api/"),
                Some(200),
                "moto at {url}"
            );
            assert_eq!(env::var("AWS_ENDPOINT_URL").ok(), Some(url));
        }
    }

    #[test]
    fn dev_stacks_on_different_api_ports_share_no_port_and_no_name() {
        let default = dev_stack(3001, None, None).unwrap();
        assert_eq!(
            default,
            DevStack {
                name: "dev".into(),
                api: 3001,
                postgres: 54329,
                moto: 54330
            }
        );
        let other = dev_stack(4001, None, None).unwrap();
        assert_eq!(
            other,
            DevStack {
                name: "dev-4001".into(),
                api: 4001,
                postgres: 4004,
                moto: 4005
            }
        );
        // Each stack's ports: the server, its two sandboxes, PostgreSQL, moto.
        let ports = |s: &DevStack| [s.api, s.api + 1, s.api + 2, s.postgres, s.moto];
        let third = dev_stack(5001, None, None).unwrap();
        for (a, b) in [(&default, &other), (&other, &third), (&default, &third)] {
            assert_ne!(a.name, b.name);
            assert!(
                ports(a).iter().all(|p| !ports(b).contains(p)),
                "{a:?} {b:?}"
            );
        }
        assert_eq!(dev_stack(4001, Some(6000), None).unwrap().postgres, 6000);
        assert!(dev_stack(65534, None, None).is_err());
    }

    #[test]
    fn ports_from_the_environment() {
        assert_eq!(port_from_env("XTASK_TEST_UNSET_PORT_VAR", 54329), Ok(54329));
    }
}
