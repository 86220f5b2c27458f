//! The Python virtual environment at `.drop/venv` with the tools from `xtask/requirements.txt`
//! (moto, cfn-lint, schemathesis). Re-installs only when the requirements file changed.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use crate::proc;
use crate::Repo;

pub struct Venv {
    pub dir: PathBuf,
}

const STAMP: &str = ".drop-requirements.hash";

impl Venv {
    pub fn bin(&self, name: &str) -> PathBuf {
        self.dir.join("bin").join(name)
    }

    /// Creates the venv if needed and installs the pinned requirements if they changed.
    pub fn ensure(repo: &Repo) -> Result<Venv, String> {
        let dir = repo.drop_dir().join("venv");
        let venv = Venv { dir };
        let req_path = repo.root.join("xtask").join("requirements.txt");
        let req = fs::read(&req_path)
            .map_err(|e| format!("venv: reading {}: {e}", req_path.display()))?;
        let want = format!("fnv1a64:{:016x}", fnv1a64(&req));

        if !venv.python_works() {
            venv.create(repo)?;
        }
        let stamp = venv.dir.join(STAMP);
        if fs::read_to_string(&stamp).is_ok_and(|s| s.trim() == want) {
            eprintln!("venv: up to date ({})", repo.rel(&venv.dir));
            return Ok(venv);
        }

        let pins = String::from_utf8_lossy(&req)
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty() && !l.starts_with('#'))
            .collect::<Vec<_>>()
            .join(", ");
        eprintln!("venv: installing {pins} from PyPI (about 30 s the first time)");
        let started = Instant::now();
        let out = proc::run(
            Command::new(venv.bin("pip"))
                .args(["install", "--quiet", "--disable-pip-version-check", "-r"])
                .arg(&req_path)
                .env("PIP_NO_INPUT", "1")
                .env_remove("PYTHONHOME")
                .env_remove("PIP_USER"),
            true,
        )?;
        if !out.status.success() {
            return Err(format!(
                "venv: `pip install -r {}` failed ({}):\n{}",
                repo.rel(&req_path),
                proc::status_text(out.status),
                proc::output_text(&out)
            ));
        }
        fs::write(&stamp, format!("{want}\n"))
            .map_err(|e| format!("venv: writing {}: {e}", stamp.display()))?;
        eprintln!(
            "venv: installed in {:.1} s ({})",
            started.elapsed().as_secs_f64(),
            repo.rel(&venv.dir)
        );
        Ok(venv)
    }

    fn python_works(&self) -> bool {
        let py = self.bin("python");
        py.exists()
            && self.bin("pip").exists()
            && Command::new(&py)
                .args(["-c", "import sys"])
                .stdout(std::process::Stdio::null())
                .stderr(std::process::Stdio::null())
                .status()
                .is_ok_and(|s| s.success())
    }

    fn create(&self, repo: &Repo) -> Result<(), String> {
        let apt = "apt-get install python3-venv";
        let Some(python) = proc::which("python3") else {
            return Err(format!(
                "venv: python3 not found. Install it with:\n    {apt}"
            ));
        };
        if self.dir.exists() {
            eprintln!(
                "venv: {} is broken or incomplete, recreating it",
                repo.rel(&self.dir)
            );
            remove_dir(&self.dir)?;
        }
        let started = Instant::now();
        let out = proc::run(
            Command::new(&python).args(["-m", "venv"]).arg(&self.dir),
            true,
        )?;
        if !out.status.success() || !self.bin("pip").exists() {
            let text = proc::output_text(&out);
            let _ = remove_dir(&self.dir);
            return Err(format!(
                "venv: `python3 -m venv` failed ({}){}\n\
                 On Debian/Ubuntu the venv module is a separate package. Install it with:\n    {apt}",
                proc::status_text(out.status),
                if text.is_empty() { String::new() } else { format!(":\n{text}") }
            ));
        }
        eprintln!(
            "venv: created {} in {:.1} s",
            repo.rel(&self.dir),
            started.elapsed().as_secs_f64()
        );
        Ok(())
    }
}

fn remove_dir(dir: &Path) -> Result<(), String> {
    fs::remove_dir_all(dir).map_err(|e| format!("removing {}: {e}", dir.display()))
}

/// FNV-1a, 64 bit: enough to notice that a small text file changed.
pub fn fnv1a64(data: &[u8]) -> u64 {
    data.iter().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
        (h ^ u64::from(*b)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fnv_known_values() {
        assert_eq!(fnv1a64(b""), 0xcbf2_9ce4_8422_2325);
        assert_eq!(fnv1a64(b"a"), 0xaf63_dc4c_8601_ec8c);
        assert_ne!(fnv1a64(b"moto==1"), fnv1a64(b"moto==2"));
    }
}
