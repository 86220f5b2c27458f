//! The Node.js test harnesses: `tests/oidc-provider`, an independent, certified OpenID provider
//! (npm `oidc-provider`) the tests run in BankID's place, and `tests/prism`, Stoplight Prism
//! (npm `@stoplight/prism-cli`) validating the Berlin Group client's requests and the sandbox
//! bank's answers against the NextGenPSD2 document. `npm ci` installs the exact versions of each
//! one's `package-lock.json` into its `node_modules`, again only when the lock file (or
//! `package.json`) changed: the stamps are `.drop/oidc-provider-npm.hash` and
//! `.drop/prism-npm.hash`.

use std::fs;
use std::process::Command;
use std::time::Instant;

use crate::proc;
use crate::venv::fnv1a64;
use crate::Repo;

const APT: &str = "apt-get install nodejs npm";

/// One harness: its directory under `tests/`, the package whose presence says it is
/// installed, its stamp in `.drop/` and what it is for.
struct Harness {
    dir: &'static str,
    package: &'static str,
    stamp: &'static str,
    purpose: &'static str,
}

const HARNESSES: [Harness; 2] = [
    Harness {
        dir: "oidc-provider",
        package: "oidc-provider",
        stamp: "oidc-provider-npm.hash",
        purpose: "the OpenID provider the tests run",
    },
    Harness {
        dir: "prism",
        package: "@stoplight/prism-cli",
        stamp: "prism-npm.hash",
        purpose: "Prism, which checks the bank client and sandbox against the NextGenPSD2 document",
    },
];

/// Installs every harness's npm packages if they are missing or its lock file changed; the
/// first failure is returned after all were tried.
pub fn ensure(repo: &Repo) -> Result<(), String> {
    let mut failures = Vec::new();
    for harness in &HARNESSES {
        if let Err(e) = ensure_one(repo, harness) {
            failures.push(e);
        }
    }
    if failures.is_empty() {
        Ok(())
    } else {
        Err(failures.join("\n"))
    }
}

fn ensure_one(repo: &Repo, harness: &Harness) -> Result<(), String> {
    let dir = repo.root.join("tests").join(harness.dir);
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
            "npm: node and npm are needed for {} ({}); skipping its install, so those tests \
             will fail. Install them with:\n    {APT}",
            harness.purpose,
            repo.rel(&dir)
        ));
    };

    let modules = dir.join("node_modules");
    let stamp = repo.drop_dir().join(harness.stamp);
    if modules.join(harness.package).join("package.json").exists()
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
