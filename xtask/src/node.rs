//! The Node.js test harness in `tests/oidc-provider`: an independent, certified OpenID provider
//! (npm `oidc-provider`) the tests run in BankID's place. `npm ci` installs the exact versions of
//! its `package-lock.json` into `tests/oidc-provider/node_modules`, again only when the lock file
//! (or `package.json`) changed: the stamp is `.drop/oidc-provider-npm.hash`.

use std::fs;
use std::path::PathBuf;
use std::process::Command;
use std::time::Instant;

use crate::proc;
use crate::venv::fnv1a64;
use crate::Repo;

const STAMP: &str = "oidc-provider-npm.hash";
const APT: &str = "apt-get install nodejs npm";

/// `tests/oidc-provider`.
fn harness_dir(repo: &Repo) -> PathBuf {
    repo.root.join("tests").join("oidc-provider")
}

/// Installs the harness's npm packages if they are missing or the lock file changed.
pub fn ensure(repo: &Repo) -> Result<(), String> {
    let dir = harness_dir(repo);
    let lock = dir.join("package-lock.json");
    let manifest = dir.join("package.json");
    let mut pinned =
        fs::read(&lock).map_err(|e| format!("npm: reading {}: {e}", repo.rel(&lock)))?;
    pinned.extend(
        fs::read(&manifest).map_err(|e| format!("npm: reading {}: {e}", repo.rel(&manifest)))?,
    );
    let want = format!("fnv1a64:{:016x}", fnv1a64(&pinned));

    let (Some(node), Some(npm)) = (proc::which("node"), proc::which("npm")) else {
        return Err(format!(
            "npm: node and npm are needed for the OpenID provider the tests run \
             ({}); skipping its install, so those tests will fail. Install them with:\n    {APT}",
            repo.rel(&dir)
        ));
    };

    let modules = dir.join("node_modules");
    let stamp = repo.drop_dir().join(STAMP);
    if modules.join("oidc-provider").join("package.json").exists()
        && fs::read_to_string(&stamp).is_ok_and(|s| s.trim() == want)
    {
        eprintln!("npm: up to date ({})", repo.rel(&modules));
        return Ok(());
    }

    let version = proc::run(Command::new(&node).arg("--version"), true)
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_default();
    eprintln!(
        "npm: npm ci in {} (node {version}; a few seconds)",
        repo.rel(&dir)
    );
    let started = Instant::now();
    let out = proc::run(
        Command::new(&npm)
            .args(["ci", "--no-audit", "--no-fund", "--loglevel=error"])
            .current_dir(&dir)
            .env("npm_config_update_notifier", "false"),
        true,
    )?;
    if !out.status.success() {
        let _ = fs::remove_file(&stamp);
        return Err(format!(
            "npm: `npm ci` in {} failed ({}):\n{}",
            repo.rel(&dir),
            proc::status_text(out.status),
            proc::output_text(&out)
        ));
    }
    fs::write(&stamp, format!("{want}\n"))
        .map_err(|e| format!("npm: writing {}: {e}", stamp.display()))?;
    eprintln!(
        "npm: installed in {:.1} s ({})",
        started.elapsed().as_secs_f64(),
        repo.rel(&modules)
    );
    Ok(())
}
