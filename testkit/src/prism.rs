//! Stoplight Prism as a validating proxy for tests: `prism proxy --errors` (npm
//! `@stoplight/prism-cli`, pinned in `tests/prism/package-lock.json`, installed by
//! `cargo xtask test` with `npm ci`) in front of a Berlin Group server, checking against the
//! NextGenPSD2 1.3.12 document in `specs/berlin-group-psd2-api.yaml`:
//!
//! - every request sent through it: one that does not conform is answered 422 with a
//!   `validation` list and never forwarded;
//! - every answer of the server behind it: one that does not conform becomes a 500 naming the
//!   violation.
//!
//! The document's paths start at `/v1/`, and Prism matches request paths against them as they
//! come (its `servers` entries only matter for a request that names one with `__server`), so
//! one proxy stands in front of one bank: the upstream URL carries the bank's prefix
//! (`{sandbox}/dnb`), which Prism puts before each forwarded path. The document's security
//! requirement is `- {}` (no credentials) or an OAuth bearer token, so requests without
//! `Authorization` pass.
//!
//! The document's `payment-product` parameter is an enum of the spec's eight products, while
//! the Implementation Guidelines let an ASPSP offer products of its own and publish them. Drop
//! initiates one such product, the domestic `norwegian-domestic-credit-transfers`, so Prism
//! checks against the document as such a bank publishes it: the spec, unchanged but for that
//! product added to the enum ([`published_spec`]).
//!
//! The proxy runs in one node process, `tests/prism/proxy.mjs`, which exits when its standard
//! input closes (so a test process that dies leaves none behind); it is killed when the
//! [`Prism`] is dropped.

use std::io::{BufRead, BufReader, Read};
use std::path::PathBuf;
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// A running validating proxy on 127.0.0.1.
pub struct Prism {
    /// `http://127.0.0.1:PORT`: use it as the bank's base URL.
    pub url: String,
    pub port: u16,
    /// Where it forwards to.
    pub upstream: String,
    child: Child,
    _stdin: Option<ChildStdin>,
    output: Arc<Mutex<String>>,
}

impl Drop for Prism {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `tests/prism` in the repository.
pub fn harness_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .join("tests")
        .join("prism")
}

/// The Berlin Group NextGenPSD2 1.3.12 document in the repository
/// (`specs/berlin-group-psd2-api.yaml`, a copy of `../shared/specs/`'s; see its SOURCES.md).
pub fn berlin_group_spec() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .join("specs")
        .join("berlin-group-psd2-api.yaml")
}

/// The products an ASPSP of Drop's publishes beyond the spec's own.
pub const ASPSP_SPECIFIC_PRODUCTS: [&str; 1] = ["norwegian-domestic-credit-transfers"];

/// [`berlin_group_spec`] with [`ASPSP_SPECIFIC_PRODUCTS`] added to the enum of the
/// `paymentProduct` path parameter, in the temporary directory under a name made of its
/// digest (so every test process shares one file; it is written, through a rename, only when
/// missing). Panics if the document does not have that enum where 1.3.12 has it.
pub fn published_spec() -> PathBuf {
    static PATH: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();
    PATH.get_or_init(|| {
        use sha2::Digest;
        let spec = berlin_group_spec();
        let text =
            std::fs::read_to_string(&spec).unwrap_or_else(|e| panic!("{}: {e}", spec.display()));
        let published = with_products(&text, &ASPSP_SPECIFIC_PRODUCTS);
        let digest = sha2::Sha256::digest(published.as_bytes());
        let name: String = digest.iter().take(8).map(|b| format!("{b:02x}")).collect();
        let dir = std::env::temp_dir();
        let path = dir.join(format!("drop-berlin-group-published-{name}.yaml"));
        if !path.exists() {
            let partial = dir.join(format!(
                "drop-berlin-group-published-{name}.{}.partial",
                std::process::id()
            ));
            std::fs::write(&partial, published)
                .and_then(|()| std::fs::rename(&partial, &path))
                .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        }
        path
    })
    .clone()
}

/// Adds `products` after the last value of the `paymentProduct` parameter's enum.
fn with_products(spec: &str, products: &[&str]) -> String {
    const PARAMETER: &str = "\n    paymentProduct:\n      name: payment-product\n      in: path\n";
    const LAST: &str = "          - \"pain.001-cross-border-credit-transfers\"\n";
    let start = spec
        .find(PARAMETER)
        .unwrap_or_else(|| panic!("the document has no paymentProduct parameter"));
    let block_end = spec[start + 1..]
        .find("\n    paymentId:\n")
        .map(|i| start + 1 + i)
        .unwrap_or_else(|| panic!("the paymentProduct parameter is not followed by paymentId"));
    let block = &spec[start..block_end];
    assert_eq!(
        block.matches(LAST).count(),
        1,
        "the paymentProduct enum is not as in 1.3.12"
    );
    let at = start + block.find(LAST).unwrap_or_default() + LAST.len();
    let added: String = products
        .iter()
        .map(|p| format!("          - \"{p}\"\n"))
        .collect();
    format!("{}{added}{}", &spec[..at], &spec[at..])
}

fn collect(
    pipe: impl Read + Send + 'static,
    sink: Arc<Mutex<String>>,
    ready: Option<mpsc::Sender<u16>>,
) {
    std::thread::spawn(move || {
        for line in BufReader::new(pipe).lines().map_while(Result::ok) {
            if let (Some(tx), Some(port)) = (&ready, listening_port(&line)) {
                let _ = tx.send(port);
            }
            if let Ok(mut s) = sink.lock() {
                s.push_str(&line);
                s.push('\n');
            }
        }
    });
}

/// The port of Prism's `Prism is listening on http://127.0.0.1:PORT` line.
fn listening_port(line: &str) -> Option<u16> {
    let rest = line.split("Prism is listening on ").nth(1)?;
    rest.trim()
        .rsplit(':')
        .next()?
        .trim_end_matches('/')
        .parse()
        .ok()
}

impl Prism {
    /// Starts `prism proxy --errors -h 127.0.0.1 -p 0 SPEC upstream` and waits (up to 60 s)
    /// for it to listen. Panics with its output if it does not.
    pub fn proxy(upstream: &str) -> Prism {
        let dir = harness_dir();
        if !dir
            .join("node_modules")
            .join("@stoplight")
            .join("prism-cli")
            .exists()
        {
            panic!(
                "{}/node_modules is missing: run the tests with `cargo xtask test` (it runs \
                 `npm ci` there), or run `npm ci` in tests/prism yourself",
                dir.display()
            );
        }
        let spec = published_spec();
        let mut child = Command::new("node")
            .arg("proxy.mjs")
            .args(["--errors", "-h", "127.0.0.1", "-p", "0"])
            .arg(&spec)
            .arg(upstream)
            .current_dir(&dir)
            // Colourless output; NODE_ENV=production would fork the server out of this process.
            .env("FORCE_COLOR", "0")
            .env("NO_COLOR", "1")
            .env("NODE_ENV", "test")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| {
                panic!("cannot start node (install it with `apt-get install nodejs npm`): {e}")
            });
        let output = Arc::new(Mutex::new(String::new()));
        let (tx, rx) = mpsc::channel::<u16>();
        if let Some(stdout) = child.stdout.take() {
            collect(stdout, output.clone(), Some(tx.clone()));
        }
        if let Some(stderr) = child.stderr.take() {
            collect(stderr, output.clone(), Some(tx));
        }
        let stdin = child.stdin.take();
        let port = match rx.recv_timeout(Duration::from_secs(60)) {
            Ok(port) => port,
            Err(_) => {
                let _ = child.kill();
                let status = child.wait().ok();
                std::thread::sleep(Duration::from_millis(100));
                let out = output.lock().map(|s| s.clone()).unwrap_or_default();
                panic!("prism did not get ready (exit: {status:?}):\n{out}");
            }
        };
        Prism {
            url: format!("http://127.0.0.1:{port}"),
            port,
            upstream: upstream.to_owned(),
            child,
            _stdin: stdin,
            output,
        }
    }

    /// What Prism printed so far (each request, its validation, the forwarded answer).
    pub fn output(&self) -> String {
        self.output.lock().map(|s| s.clone()).unwrap_or_default()
    }

    /// The lines where Prism reported a violation of the document (by a request or an answer).
    pub fn violations(&self) -> Vec<String> {
        self.output()
            .lines()
            .filter(|l| l.contains("Violation:") || l.contains("✖"))
            .map(str::to_owned)
            .collect()
    }

    /// Waits until Prism's output stops growing (at most 5 s): it may log a violation just
    /// after it answered.
    pub fn settle(&self) {
        let deadline = std::time::Instant::now() + Duration::from_secs(5);
        let mut seen = self.output().len();
        loop {
            std::thread::sleep(Duration::from_millis(150));
            let now = self.output().len();
            if now == seen || std::time::Instant::now() >= deadline {
                return;
            }
            seen = now;
        }
    }

    /// The violations reported within `within`: polls until there is one, or the time is up.
    pub fn violations_within(&self, within: Duration) -> Vec<String> {
        let deadline = std::time::Instant::now() + within;
        loop {
            let violations = self.violations();
            if !violations.is_empty() || std::time::Instant::now() >= deadline {
                return violations;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Panics with Prism's output if it reported any violation (once its output settled).
    pub fn assert_no_violations(&self) {
        self.settle();
        let violations = self.violations();
        assert!(
            violations.is_empty(),
            "Prism reported violations of the NextGenPSD2 document:\n{}\n--- full output ---\n{}",
            violations.join("\n"),
            self.output()
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_published_document_adds_the_product_to_the_enum_only() {
        let spec = std::fs::read_to_string(berlin_group_spec()).unwrap_or_default();
        let published = with_products(&spec, &["norwegian-domestic-credit-transfers"]);
        let added = "          - \"norwegian-domestic-credit-transfers\"\n";
        assert_eq!(published.len(), spec.len() + added.len());
        assert_eq!(published.matches(added).count(), 1);
        let doc = as_json(&published);
        let products = &doc["components"]["parameters"]["paymentProduct"]["schema"]["enum"];
        assert_eq!(products.as_array().map(Vec::len), Some(9));
        assert_eq!(products[8], "norwegian-domestic-credit-transfers");
    }

    /// The document as JSON (YAML parsed by serde_yaml).
    fn as_json(text: &str) -> serde_json::Value {
        serde_yaml::from_str(text).unwrap_or_default()
    }

    #[test]
    fn the_listening_line_gives_the_port() {
        assert_eq!(
            listening_port(
                "[12:32:48 AM] › [CLI] ▶  start     Prism is listening on http://127.0.0.1:43623"
            ),
            Some(43623)
        );
        assert_eq!(listening_port("Starting Prism…"), None);
    }
}
