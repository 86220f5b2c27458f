//! Processes, signals and ports, with std only (Linux `/proc` and the `kill` command).
//!
//! Every child is started in its own process group, so a Ctrl-C in the terminal reaches only
//! xtask; xtask then stops its children in order (see `interrupt`).

use std::fs;
use std::io::{Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpStream};
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;
use std::thread::sleep;
use std::time::{Duration, Instant};

/// Set by SIGINT, SIGTERM or SIGHUP.
static STOP: AtomicBool = AtomicBool::new(false);
/// Process groups of the foreground commands (cargo, pip, initdb, ...) to pass a signal on to.
static FOREGROUND: Mutex<Vec<u32>> = Mutex::new(Vec::new());

pub mod interrupt {
    use super::*;

    pub fn install() -> Result<(), String> {
        ctrlc::set_handler(|| {
            STOP.store(true, Ordering::SeqCst);
            forward_to_foreground();
        })
        .map_err(|e| format!("cannot install the Ctrl-C handler: {e}"))
    }

    pub fn requested() -> bool {
        STOP.load(Ordering::SeqCst)
    }

    /// `Err` if a stop was requested: use with `?` between steps.
    pub fn check() -> Result<(), String> {
        if requested() {
            Err("interrupted".to_string())
        } else {
            Ok(())
        }
    }

    pub(super) fn forward_to_foreground() {
        let pids: Vec<u32> = match FOREGROUND.lock() {
            Ok(g) => g.clone(),
            Err(p) => p.into_inner().clone(),
        };
        for pid in pids {
            signal_group(pid, "INT");
        }
    }
}

fn register(pid: u32, add: bool) {
    let mut g = match FOREGROUND.lock() {
        Ok(g) => g,
        Err(p) => p.into_inner(),
    };
    if add {
        g.push(pid);
    } else {
        g.retain(|p| *p != pid);
    }
}

/// Runs a command to completion in its own process group, passing Ctrl-C on to it.
/// With `capture`, stdout and stderr are collected instead of streamed.
pub fn run(cmd: &mut Command, capture: bool) -> Result<Output, String> {
    interrupt::check()?;
    let what = describe_command(cmd);
    cmd.process_group(0).stdin(Stdio::null());
    if capture {
        cmd.stdout(Stdio::piped()).stderr(Stdio::piped());
    }
    let child = cmd.spawn().map_err(|e| format!("cannot run {what}: {e}"))?;
    let pid = child.id();
    register(pid, true);
    if interrupt::requested() {
        signal_group(pid, "INT");
    }
    let out = child.wait_with_output();
    register(pid, false);
    out.map_err(|e| format!("waiting for {what}: {e}"))
}

/// Like `run`, streaming output, and `Err` unless the command exits 0.
pub fn run_ok(cmd: &mut Command) -> Result<(), String> {
    let what = describe_command(cmd);
    let out = run(cmd, false)?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!("{what} failed ({})", status_text(out.status)))
    }
}

pub fn describe_command(cmd: &Command) -> String {
    let prog = Path::new(cmd.get_program())
        .file_name()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    let args: Vec<String> = cmd
        .get_args()
        .map(|a| a.to_string_lossy().into_owned())
        .collect();
    let mut s = format!("`{prog}");
    for a in args.iter().take(4) {
        s.push(' ');
        s.push_str(a);
    }
    if args.len() > 4 {
        s.push_str(" ...");
    }
    s.push('`');
    s
}

pub fn status_text(status: ExitStatus) -> String {
    match (status.code(), status.signal()) {
        (Some(c), _) => format!("exit code {c}"),
        (None, Some(s)) => format!("killed by signal {s}"),
        _ => "unknown status".to_string(),
    }
}

/// Exit code for xtask itself mirroring a child's status (128 + signal like a shell).
pub fn exit_code(status: ExitStatus) -> i32 {
    match (status.code(), status.signal()) {
        (Some(c), _) => c,
        (None, Some(s)) => 128 + s,
        _ => 1,
    }
}

/// Both streams of a captured command, trimmed, for error messages.
pub fn output_text(out: &Output) -> String {
    let mut s = String::from_utf8_lossy(&out.stdout).trim().to_string();
    let e = String::from_utf8_lossy(&out.stderr);
    if !e.trim().is_empty() {
        if !s.is_empty() {
            s.push('\n');
        }
        s.push_str(e.trim());
    }
    s
}

/// Alive and not a zombie.
pub fn is_alive(pid: u32) -> bool {
    match fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(stat) => proc_state(&stat).is_some_and(|s| s != "Z" && s != "X"),
        Err(_) => false,
    }
}

fn proc_state(stat: &str) -> Option<&str> {
    let after = stat.get(stat.rfind(')')? + 1..)?;
    after.split_whitespace().next()
}

pub fn cmdline(pid: u32) -> Option<String> {
    let raw = fs::read(format!("/proc/{pid}/cmdline")).ok()?;
    let s: String = String::from_utf8_lossy(&raw)
        .split('\0')
        .filter(|p| !p.is_empty())
        .collect::<Vec<_>>()
        .join(" ");
    Some(s)
}

/// "pid 123 (redis-server 127.0.0.1:6379)" for messages.
pub fn describe_pid(pid: u32) -> String {
    match cmdline(pid) {
        Some(c) if !c.is_empty() => {
            let short: String = c.chars().take(100).collect();
            format!("pid {pid} ({short})")
        }
        _ => format!("pid {pid}"),
    }
}

/// Sends a signal (`TERM`, `INT`, `KILL`) to a process group through the `kill` command.
pub fn signal_group(pgid: u32, sig: &str) {
    let _ = Command::new("kill")
        .args(["-s", sig, "--", &format!("-{pgid}")])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status();
}

pub fn signal_pid(pid: u32, sig: &str) {
    let _ = Command::new("kill")
        .args(["-s", sig, "--", &pid.to_string()])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status();
}

/// Waits for a process that is not our child to go away.
pub fn wait_gone(pid: u32, timeout: Duration) -> bool {
    let end = Instant::now() + timeout;
    while Instant::now() < end {
        if !is_alive(pid) {
            return true;
        }
        sleep(Duration::from_millis(50));
    }
    !is_alive(pid)
}

/// Stops a process (and its group if it leads one) that is not our child: TERM, then KILL.
pub fn stop_foreign(pid: u32, grace: Duration) -> bool {
    signal_group(pid, "TERM");
    signal_pid(pid, "TERM");
    if wait_gone(pid, grace) {
        return true;
    }
    signal_group(pid, "KILL");
    signal_pid(pid, "KILL");
    wait_gone(pid, Duration::from_secs(2))
}

/// Stops our own child (started in its own group): `first` signal, then KILL after `grace`.
/// Returns its exit status when it could be reaped.
pub fn stop_child(child: &mut Child, first: &str, grace: Duration) -> Option<ExitStatus> {
    if let Ok(Some(st)) = child.try_wait() {
        // Already gone; still clean up anything left in its group.
        signal_group(child.id(), "KILL");
        return Some(st);
    }
    signal_group(child.id(), first);
    let end = Instant::now() + grace;
    while Instant::now() < end {
        if let Ok(Some(st)) = child.try_wait() {
            signal_group(child.id(), "KILL");
            return Some(st);
        }
        sleep(Duration::from_millis(50));
    }
    signal_group(child.id(), "KILL");
    let _ = child.kill();
    child.wait().ok()
}

pub fn loopback(port: u16) -> SocketAddr {
    SocketAddr::from((Ipv4Addr::LOCALHOST, port))
}

/// Does something accept TCP connections on 127.0.0.1:port?
pub fn port_answers(port: u16) -> bool {
    TcpStream::connect_timeout(&loopback(port), Duration::from_millis(300)).is_ok()
}

/// Status code of `GET path` on 127.0.0.1:port, if an HTTP server answers.
pub fn http_status(port: u16, path: &str) -> Option<u16> {
    let mut s = TcpStream::connect_timeout(&loopback(port), Duration::from_millis(500)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(2))).ok()?;
    s.set_write_timeout(Some(Duration::from_secs(2))).ok()?;
    let req = format!("GET {path} HTTP/1.0\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n\r\n");
    s.write_all(req.as_bytes()).ok()?;
    let mut buf = Vec::new();
    let mut chunk = [0u8; 256];
    while !buf.windows(2).any(|w| w == b"\r\n") && buf.len() < 4096 {
        let n = s.read(&mut chunk).ok()?;
        if n == 0 {
            break;
        }
        buf.extend_from_slice(chunk.get(..n)?);
    }
    parse_status_line(&String::from_utf8_lossy(&buf))
}

fn parse_status_line(s: &str) -> Option<u16> {
    let mut parts = s.lines().next()?.split_whitespace();
    if !parts.next()?.starts_with("HTTP/") {
        return None;
    }
    parts.next()?.parse().ok()
}

/// The process listening on TCP `port` (any local address), found through /proc.
/// `None` when unknown (e.g. another user's process and we are not root).
pub fn listener_pid(port: u16) -> Option<u32> {
    let mut inodes = Vec::new();
    for table in ["/proc/net/tcp", "/proc/net/tcp6"] {
        if let Ok(text) = fs::read_to_string(table) {
            inodes.extend(listening_inodes(&text, port));
        }
    }
    if inodes.is_empty() {
        return None;
    }
    let targets: Vec<String> = inodes.iter().map(|i| format!("socket:[{i}]")).collect();
    for entry in fs::read_dir("/proc").ok()?.flatten() {
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|n| n.parse::<u32>().ok())
        else {
            continue;
        };
        let Ok(fds) = fs::read_dir(entry.path().join("fd")) else {
            continue;
        };
        for fd in fds.flatten() {
            if let Ok(link) = fs::read_link(fd.path()) {
                if targets.iter().any(|t| link.as_os_str() == t.as_str()) {
                    return Some(pid);
                }
            }
        }
    }
    None
}

/// Inodes of sockets in LISTEN state (0A) on `port` in a /proc/net/tcp{,6} table.
fn listening_inodes(table: &str, port: u16) -> Vec<String> {
    let want = format!("{port:04X}");
    table
        .lines()
        .skip(1)
        .filter_map(|line| {
            let cols: Vec<&str> = line.split_whitespace().collect();
            let local = cols.get(1)?;
            let state = cols.get(3)?;
            let inode = cols.get(9)?;
            let (_, p) = local.rsplit_once(':')?;
            (p == want && *state == "0A" && *inode != "0").then(|| inode.to_string())
        })
        .collect()
}

/// A friendly message for a port that something else holds.
pub fn port_taken(service: &str, port: u16, env_var: &str) -> String {
    let who = listener_pid(port)
        .map(describe_pid)
        .unwrap_or_else(|| "another process".to_string());
    format!(
        "{service}: port {port} on 127.0.0.1 is in use by {who}, which is not ours. \
         Stop it, or choose another port with {env_var}=PORT"
    )
}

pub fn read_pid_file(path: &Path) -> Option<u32> {
    fs::read_to_string(path).ok()?.trim().parse().ok()
}

pub fn write_pid_file(path: &Path, pid: u32) -> Result<(), String> {
    fs::write(path, format!("{pid}\n")).map_err(|e| format!("writing {}: {e}", path.display()))
}

/// The last `n` lines of a log file, for error messages.
pub fn tail(path: &Path, n: usize) -> String {
    let text = fs::read_to_string(path).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    let start = lines.len().saturating_sub(n);
    lines.get(start..).unwrap_or_default().join("\n")
}

/// Finds an executable on PATH.
pub fn which(name: &str) -> Option<PathBuf> {
    use std::os::unix::fs::PermissionsExt;
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|d| d.join(name))
        .find(|p| fs::metadata(p).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0))
}

pub fn is_root() -> bool {
    use std::os::unix::fs::MetadataExt;
    if let Ok(m) = fs::metadata("/proc/self") {
        return m.uid() == 0;
    }
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_proc_state_with_spaces_in_name() {
        assert_eq!(proc_state("12 (moto server) S 1 12"), Some("S"));
        assert_eq!(proc_state("12 (x) Z 1"), Some("Z"));
    }

    #[test]
    fn finds_listening_inodes() {
        let table = "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n\
   0: 0100007F:D5D9 00000000:0000 0A 00000000:00000000 00:00000000 00000000   101        0 4242 1 0000000000000000 100 0 0 10 0\n\
   1: 0100007F:D5D9 0100007F:9C40 01 00000000:00000000 00:00000000 00000000   101        0 4343 1 0000000000000000 100 0 0 10 0\n\
   2: 0100007F:1538 00000000:0000 0A 00000000:00000000 00:00000000 00000000   101        0 4444 1 0000000000000000 100 0 0 10 0\n";
        assert_eq!(listening_inodes(table, 54745), vec!["4242".to_string()]);
        assert_eq!(listening_inodes(table, 5432), vec!["4444".to_string()]);
        assert!(listening_inodes(table, 80).is_empty());
    }

    #[test]
    fn parses_http_status_lines() {
        assert_eq!(parse_status_line("HTTP/1.1 200 OK\r\nServer: x"), Some(200));
        assert_eq!(parse_status_line("HTTP/1.0 404 Not Found\r\n"), Some(404));
        assert_eq!(parse_status_line("SSH-2.0-OpenSSH\r\n"), None);
        assert_eq!(parse_status_line(""), None);
    }
}
