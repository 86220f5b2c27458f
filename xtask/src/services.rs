//! Throwaway PostgreSQL clusters and moto servers under `.drop/`, on 127.0.0.1 only.

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::thread::sleep;
use std::time::{Duration, Instant};

use crate::proc::{self, interrupt};
use crate::venv::Venv;
use crate::Repo;

// ---------------------------------------------------------------------------------------------
// PostgreSQL
// ---------------------------------------------------------------------------------------------

/// One of our clusters: `.drop/pg-NAME/{data,sock,postgres.log}`.
pub struct PgConfig<'a> {
    /// `dev` (or `dev-PORT`), `test` or `bench`: the cluster is `.drop/pg-NAME`.
    pub name: &'a str,
    pub port: u16,
    /// Extra server settings (`-c key=value` pairs).
    pub settings: Vec<&'static str>,
}

/// A running cluster we started (or reused); stopped with `stop`.
pub struct Postgres {
    pub port: u16,
    cluster: Cluster,
}

struct Cluster {
    bin: PathBuf,
    dir: PathBuf,
    data: PathBuf,
    sock: PathBuf,
    log: PathBuf,
    as_postgres: bool,
    shown: String,
}

impl Cluster {
    fn new(repo: &Repo, name: &str) -> Result<Cluster, String> {
        let bin = find_pg_bin()?;
        let dir = repo.drop_dir().join(format!("pg-{name}"));
        Ok(Cluster {
            bin,
            data: dir.join("data"),
            sock: dir.join("sock"),
            log: dir.join("postgres.log"),
            shown: repo.rel(&dir),
            dir,
            as_postgres: proc::is_root(),
        })
    }

    fn tool(&self, name: &str) -> PathBuf {
        let p = self.bin.join(name);
        if p.exists() {
            p
        } else {
            proc::which(name).unwrap_or(p)
        }
    }

    /// A command for a server-side tool: as user `postgres` when we are root (initdb and
    /// postgres refuse to run as root).
    fn server_cmd(&self, tool: &str) -> Command {
        let mut cmd = if self.as_postgres {
            let mut c = Command::new("runuser");
            c.args(["-u", "postgres", "--"]).arg(self.tool(tool));
            c
        } else {
            Command::new(self.tool(tool))
        };
        cmd.current_dir(&self.dir);
        cmd
    }

    /// (pid, port) from `postmaster.pid` when that postmaster is alive.
    fn running(&self) -> Option<(u32, u16)> {
        let text = fs::read_to_string(self.data.join("postmaster.pid")).ok()?;
        let mut lines = text.lines();
        let pid: u32 = lines.next()?.trim().parse().ok()?;
        let port: u16 = lines.nth(2)?.trim().parse().ok()?;
        (proc::is_alive(pid) && proc::cmdline(pid).is_some_and(|c| c.contains("postgres")))
            .then_some((pid, port))
    }

    fn stop(&self) {
        let Some((pid, _)) = self.running() else {
            return;
        };
        // Not `proc::run`: a stop must run even after Ctrl-C, and not receive it.
        let res = self
            .server_cmd("pg_ctl")
            .arg("-D")
            .arg(&self.data)
            .args(["-m", "fast", "-w", "-t", "20", "stop"])
            .stdin(Stdio::null())
            .process_group(0)
            .output();
        if !res.is_ok_and(|o| o.status.success()) && proc::is_alive(pid) {
            eprintln!("postgres: `pg_ctl stop` failed, killing pid {pid}");
            proc::signal_pid(pid, "QUIT");
            if !proc::wait_gone(pid, Duration::from_secs(5)) {
                proc::signal_pid(pid, "KILL");
            }
        }
        eprintln!("postgres: stopped ({})", self.shown);
    }

    /// As root, initdb and postgres run as `postgres`: it must own the cluster directory and
    /// be able to traverse every parent.
    fn prepare_for_postgres_user(&self) -> Result<(), String> {
        if !self.as_postgres {
            return Ok(());
        }
        let passwd = fs::read_to_string("/etc/passwd").unwrap_or_default();
        if !passwd.lines().any(|l| l.starts_with("postgres:")) {
            return Err(
                "postgres: running as root, initdb must run as user `postgres`, which \
                        does not exist. Install PostgreSQL with:\n    apt-get install postgresql"
                    .to_string(),
            );
        }
        for parent in self.dir.ancestors().skip(1) {
            let Ok(meta) = fs::metadata(parent) else {
                continue;
            };
            let mode = meta.permissions().mode();
            if mode & 0o001 == 0 {
                fs::set_permissions(parent, fs::Permissions::from_mode(mode | 0o001))
                    .map_err(|e| format!("postgres: chmod o+x {}: {e}", parent.display()))?;
                eprintln!(
                    "postgres: made {} traversable for user postgres (chmod o+x)",
                    parent.display()
                );
            }
        }
        let out = Command::new("chown")
            .args(["-R", "postgres"])
            .arg(&self.dir)
            .output()
            .map_err(|e| format!("postgres: cannot run chown: {e}"))?;
        if out.status.success() {
            Ok(())
        } else {
            Err(format!(
                "postgres: `chown -R postgres {}` failed: {}",
                self.dir.display(),
                proc::output_text(&out)
            ))
        }
    }

    fn initdb(&self) -> Result<(), String> {
        let started = Instant::now();
        let out = proc::run(
            self.server_cmd("initdb")
                .arg("-D")
                .arg(&self.data)
                .args(["-U", "postgres", "--auth=trust", "--no-sync", "-E", "UTF8"])
                .args(["--locale=C.UTF-8", "--no-instructions"]),
            true,
        )?;
        if !out.status.success() {
            return Err(format!(
                "postgres: initdb failed ({}):\n{}",
                proc::status_text(out.status),
                proc::output_text(&out)
            ));
        }
        eprintln!(
            "postgres: initdb {} in {:.1} s",
            self.shown,
            started.elapsed().as_secs_f64()
        );
        Ok(())
    }

    /// Major version of the cluster on disk, and of the binaries.
    fn versions(&self) -> (Option<String>, Option<String>) {
        let on_disk = fs::read_to_string(self.data.join("PG_VERSION"))
            .ok()
            .map(|s| s.trim().to_string());
        let bins = Command::new(self.tool("initdb"))
            .arg("--version")
            .output()
            .ok()
            .and_then(|o| major_version(&String::from_utf8_lossy(&o.stdout)));
        (on_disk, bins)
    }
}

/// "initdb (PostgreSQL) 15.20 (Debian 15.20-0+deb12u1)" -> "15".
fn major_version(s: &str) -> Option<String> {
    let v = s
        .split_whitespace()
        .find(|w| w.starts_with(|c: char| c.is_ascii_digit()))?;
    Some(v.split('.').next()?.to_string())
}

/// `initdb`/`pg_ctl` on PATH (resolving symlinks to the real bin dir), else the newest
/// `/usr/lib/postgresql/*/bin`.
fn find_pg_bin() -> Result<PathBuf, String> {
    if let (Some(initdb), Some(_)) = (proc::which("initdb"), proc::which("pg_ctl")) {
        let real = fs::canonicalize(&initdb).unwrap_or(initdb);
        if let Some(dir) = real.parent() {
            if dir.join("pg_ctl").exists() {
                return Ok(dir.to_path_buf());
            }
        }
        if let Some(dir) = proc::which("pg_ctl").and_then(|p| p.parent().map(Path::to_path_buf)) {
            return Ok(dir);
        }
    }
    let mut found: Vec<(Vec<u32>, PathBuf)> = fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| {
            let name = e.file_name().to_string_lossy().into_owned();
            let version: Vec<u32> = name
                .split('.')
                .map(|p| p.parse().ok())
                .collect::<Option<_>>()?;
            let bin = e.path().join("bin");
            (bin.join("initdb").exists() && bin.join("pg_ctl").exists()).then_some((version, bin))
        })
        .collect();
    found.sort();
    found.pop().map(|(_, bin)| bin).ok_or_else(|| {
        "postgres: PostgreSQL server binaries (initdb, pg_ctl) not found on PATH or in \
         /usr/lib/postgresql/*/bin. Install them with:\n    apt-get install postgresql"
            .to_string()
    })
}

impl Postgres {
    /// The cluster's folder (`.drop/pg-{name}`): what belongs with its databases is kept here,
    /// and goes when the cluster is deleted.
    pub fn dir(&self) -> &Path {
        &self.cluster.dir
    }

    /// Starts the cluster (initdb on first use), or reuses it when it is already running
    /// with the same settings. Fails clearly when the port belongs to someone else.
    pub fn start(repo: &Repo, cfg: &PgConfig) -> Result<Postgres, String> {
        let cl = Cluster::new(repo, cfg.name)?;
        let shown = cl.shown.clone();

        // Unix socket paths are limited to ~107 bytes; TCP is what we use anyway.
        let sock_path_len = cl.sock.as_os_str().len() + "/.s.PGSQL.65535.lock".len();
        let sock_opt = if sock_path_len < 100 && !cl.sock.to_string_lossy().contains('\'') {
            format!("-k '{}'", cl.sock.display())
        } else {
            "-c unix_socket_directories=''".to_string()
        };
        let mut options = format!(
            "-c listen_addresses=127.0.0.1 -p {} {sock_opt} -c fsync=off -c synchronous_commit=off",
            cfg.port
        );
        for s in &cfg.settings {
            options.push_str(" -c ");
            options.push_str(s);
        }
        let options_file = cl.dir.join("options");

        if cl.data.join("PG_VERSION").exists() {
            let (on_disk, bins) = cl.versions();
            if let (Some(d), Some(b)) = (&on_disk, &bins) {
                if d != b {
                    eprintln!(
                        "postgres: {shown} was made by PostgreSQL {d}, the binaries are {b}: recreating it"
                    );
                    cl.stop();
                    fs::remove_dir_all(&cl.data)
                        .map_err(|e| format!("postgres: removing {}: {e}", cl.data.display()))?;
                }
            }
        }
        if let Some((pid, port)) = cl.running() {
            let same = fs::read_to_string(&options_file).is_ok_and(|o| o == options);
            if port == cfg.port && same && proc::port_answers(port) {
                eprintln!("postgres: reusing our running cluster on 127.0.0.1:{port} ({shown}, pid {pid})");
                return Ok(Postgres { port, cluster: cl });
            }
            eprintln!("postgres: stopping our cluster left running on port {port} ({shown})");
            cl.stop();
        }
        if proc::port_answers(cfg.port) {
            let var = if cfg.name == "test" {
                "DROP_TEST_PG_PORT"
            } else {
                "DROP_PG_PORT"
            };
            return Err(proc::port_taken("postgres", cfg.port, var));
        }

        let fresh = !cl.data.join("PG_VERSION").exists();
        if fresh && cl.data.exists() {
            fs::remove_dir_all(&cl.data)
                .map_err(|e| format!("postgres: removing partial {}: {e}", cl.data.display()))?;
        }
        fs::create_dir_all(&cl.sock)
            .map_err(|e| format!("postgres: creating {}: {e}", cl.sock.display()))?;
        cl.prepare_for_postgres_user()?;
        if fresh {
            cl.initdb()?;
        }
        interrupt::check()?;

        let started = Instant::now();
        let out = proc::run(
            cl.server_cmd("pg_ctl")
                .arg("-D")
                .arg(&cl.data)
                .arg("-l")
                .arg(&cl.log)
                .args(["-w", "-t", "30", "-o", &options, "start"]),
            true,
        )?;
        if !out.status.success() {
            // Interrupted or timed out: the postmaster (its own session) may still come up.
            cl.stop();
            return Err(format!(
                "postgres: `pg_ctl start` failed ({}):\n{}\n--- {} (last lines)\n{}",
                proc::status_text(out.status),
                proc::output_text(&out),
                repo.rel(&cl.log),
                proc::tail(&cl.log, 15)
            ));
        }
        // Written only after a successful start: a reuse needs identical settings.
        let _ = fs::write(&options_file, &options);
        eprintln!(
            "postgres: started on 127.0.0.1:{} ({shown}) in {:.1} s",
            cfg.port,
            started.elapsed().as_secs_f64()
        );
        Ok(Postgres {
            port: cfg.port,
            cluster: cl,
        })
    }

    /// The single value `sql` returns in database `db`.
    pub fn query_value(&self, db: &str, sql: &str) -> Result<String, String> {
        let out = proc::run(
            Command::new(self.cluster.tool("psql"))
                .args([
                    "-h",
                    "127.0.0.1",
                    "-p",
                    &self.port.to_string(),
                    "-U",
                    "postgres",
                    "-d",
                    db,
                    "-Atc",
                    sql,
                ])
                .env_remove("PGPASSWORD")
                .env_remove("PGSERVICE"),
            true,
        )?;
        if out.status.success() {
            Ok(String::from_utf8_lossy(&out.stdout).trim().to_owned())
        } else {
            Err(format!("postgres: {sql}: {}", proc::output_text(&out)))
        }
    }

    /// `CREATE DATABASE name` unless it exists.
    pub fn create_db(&self, name: &str) -> Result<(), String> {
        let out = proc::run(
            Command::new(self.cluster.tool("createdb"))
                .args([
                    "-h",
                    "127.0.0.1",
                    "-p",
                    &self.port.to_string(),
                    "-U",
                    "postgres",
                    name,
                ])
                .env_remove("PGPASSWORD")
                .env_remove("PGSERVICE"),
            true,
        )?;
        let text = proc::output_text(&out);
        if out.status.success() {
            eprintln!("postgres: created database {name}");
            Ok(())
        } else if text.contains("already exists") {
            Ok(())
        } else {
            Err(format!("postgres: createdb {name} failed: {text}"))
        }
    }

    pub fn stop(&self) {
        self.cluster.stop();
    }

    /// Stops a cluster a killed run left behind (for `cargo xtask stop`).
    pub fn stop_leftover(repo: &Repo, name: &str) -> Result<(), String> {
        let dir = repo.drop_dir().join(format!("pg-{name}"));
        if !dir.join("data").join("postmaster.pid").exists() {
            return Ok(());
        }
        let cl = Cluster::new(repo, name)?;
        if cl.running().is_some() {
            cl.stop();
        }
        Ok(())
    }
}

// ---------------------------------------------------------------------------------------------
// moto
// ---------------------------------------------------------------------------------------------

/// A moto server we started: `.drop/moto-NAME.{pid,log}`.
pub struct Moto {
    pub port: u16,
    child: Child,
    pid_file: PathBuf,
}

fn moto_files(repo: &Repo, name: &str) -> (PathBuf, PathBuf) {
    let d = repo.drop_dir();
    (
        d.join(format!("moto-{name}.pid")),
        d.join(format!("moto-{name}.log")),
    )
}

/// Is `pid` a moto server from our venv?
fn is_our_moto(pid: u32, venv: &Path) -> bool {
    proc::is_alive(pid)
        && proc::cmdline(pid)
            .is_some_and(|c| c.contains("moto_server") && c.contains(&*venv.to_string_lossy()))
}

/// Stops a moto server a previous run left (pid file), if still alive.
fn stop_leftover_moto(repo: &Repo, name: &str, venv_dir: &Path) {
    let (pid_file, _) = moto_files(repo, name);
    if let Some(pid) = proc::read_pid_file(&pid_file) {
        if is_our_moto(pid, venv_dir) {
            eprintln!("moto: stopping the server a previous run left (pid {pid})");
            proc::stop_foreign(pid, Duration::from_secs(5));
        }
        let _ = fs::remove_file(&pid_file);
    }
}

impl Moto {
    pub fn start(repo: &Repo, venv: &Venv, name: &str, port: u16) -> Result<Moto, String> {
        let (pid_file, log) = moto_files(repo, name);
        stop_leftover_moto(repo, name, &venv.dir);
        if proc::port_answers(port) {
            // Ours without a pid file (e.g. the file was deleted)? Then replace it.
            match proc::listener_pid(port) {
                Some(pid) if is_our_moto(pid, &venv.dir) => {
                    eprintln!("moto: stopping our server found on port {port} (pid {pid})");
                    proc::stop_foreign(pid, Duration::from_secs(5));
                }
                _ => {
                    let var = if name == "test" {
                        "DROP_TEST_MOTO_PORT"
                    } else {
                        "DROP_MOTO_PORT"
                    };
                    return Err(proc::port_taken("moto", port, var));
                }
            }
        }
        let log_file =
            fs::File::create(&log).map_err(|e| format!("moto: creating {}: {e}", log.display()))?;
        let log_err = log_file
            .try_clone()
            .map_err(|e| format!("moto: {}: {e}", log.display()))?;
        let started = Instant::now();
        let child = Command::new(venv.bin("moto_server"))
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .current_dir(repo.drop_dir())
            .stdin(Stdio::null())
            .stdout(log_file)
            .stderr(log_err)
            .process_group(0)
            .spawn()
            .map_err(|e| {
                format!(
                    "moto: cannot start {}: {e}",
                    venv.bin("moto_server").display()
                )
            })?;
        let mut moto = Moto {
            port,
            child,
            pid_file,
        };
        proc::write_pid_file(&moto.pid_file, moto.child.id())?;

        let deadline = started + Duration::from_secs(30);
        loop {
            if let Ok(Some(st)) = moto.child.try_wait() {
                let _ = fs::remove_file(&moto.pid_file);
                return Err(format!(
                    "moto: exited during startup ({}). {} (last lines):\n{}",
                    proc::status_text(st),
                    repo.rel(&log),
                    proc::tail(&log, 15)
                ));
            }
            if proc::http_status(port, "/moto-api/").is_some_and(|s| s < 500) {
                break;
            }
            if interrupt::requested() || Instant::now() > deadline {
                moto.stop();
                return Err(if interrupt::requested() {
                    "interrupted".to_string()
                } else {
                    format!(
                        "moto: not answering on 127.0.0.1:{port} after 30 s. {} (last lines):\n{}",
                        repo.rel(&log),
                        proc::tail(&log, 15)
                    )
                });
            }
            sleep(Duration::from_millis(100));
        }
        eprintln!(
            "moto: started on 127.0.0.1:{port} in {:.1} s (log {})",
            started.elapsed().as_secs_f64(),
            repo.rel(&log)
        );
        Ok(moto)
    }

    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    pub fn stop(&mut self) {
        proc::stop_child(&mut self.child, "TERM", Duration::from_secs(5));
        let _ = fs::remove_file(&self.pid_file);
        eprintln!("moto: stopped (port {})", self.port);
    }

    /// For `cargo xtask stop`.
    pub fn stop_leftover(repo: &Repo, name: &str) {
        stop_leftover_moto(repo, name, &repo.drop_dir().join("venv"));
    }
}

// ---------------------------------------------------------------------------------------------
// Both, stopped in reverse order whatever happens (also on early returns through `?`).
// ---------------------------------------------------------------------------------------------

#[derive(Default)]
pub struct Services {
    pub postgres: Option<Postgres>,
    pub moto: Option<Moto>,
}

impl Services {
    pub fn stop(&mut self) {
        if let Some(mut m) = self.moto.take() {
            m.stop();
        }
        if let Some(p) = self.postgres.take() {
            p.stop();
        }
    }
}

impl Drop for Services {
    fn drop(&mut self) {
        self.stop();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_major_versions() {
        assert_eq!(
            major_version("initdb (PostgreSQL) 15.20 (Debian 15.20-0+deb12u1)\n").as_deref(),
            Some("15")
        );
        assert_eq!(
            major_version("initdb (PostgreSQL) 9.6.24").as_deref(),
            Some("9")
        );
        assert_eq!(major_version("nothing"), None);
    }
}
