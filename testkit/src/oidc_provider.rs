//! An independent, certified OpenID provider for tests: npm `oidc-provider` run by
//! `tests/oidc-provider/provider.mjs` (see that file for its test accounts), standing in for
//! BankID. `cargo xtask test` installs it (`npm ci`); the process is killed when the
//! [`OidcProvider`] is dropped.
//!
//! [`OidcProvider::login`] plays the user in a browser through the provider's development
//! login and consent pages and returns the redirect to our callback (with `code`, `state` and
//! `iss`), without requesting it.

use std::io::{BufRead, BufReader, Read};
use std::path::PathBuf;
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Where the provider puts the person claims.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClaimsIn {
    /// Every granted claim in the ID token (as BankID's ID token carries them).
    IdToken,
    /// The ID token carries `sub` only; the rest comes from userinfo, answered as a signed JWT
    /// (`application/jwt`), as BankID's userinfo does.
    Userinfo,
}

/// A running `oidc-provider` on 127.0.0.1 with one registered client.
pub struct OidcProvider {
    /// `http://127.0.0.1:PORT`, exactly as its discovery document names it.
    pub issuer: String,
    pub port: u16,
    pub redirect_uri: String,
    child: Child,
    /// Held open: the provider exits when it closes (if this test process dies unannounced).
    _stdin: Option<ChildStdin>,
    stderr: Arc<Mutex<String>>,
}

impl Drop for OidcProvider {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `tests/oidc-provider` in the repository.
pub fn harness_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .join("tests")
        .join("oidc-provider")
}

impl OidcProvider {
    /// Starts the provider with every claim in the ID token; see [`OidcProvider::start_with`].
    pub fn start(client_id: &str, client_secret: &str, redirect_uri: &str) -> OidcProvider {
        Self::start_with(client_id, client_secret, redirect_uri, ClaimsIn::IdToken)
    }

    /// Starts `node tests/oidc-provider/provider.mjs` on a free port and waits (up to 30 s) for
    /// it to print `READY <port>`. Panics with the provider's output if it does not.
    pub fn start_with(
        client_id: &str,
        client_secret: &str,
        redirect_uri: &str,
        claims_in: ClaimsIn,
    ) -> OidcProvider {
        Self::spawn(
            client_id,
            client_secret,
            redirect_uri,
            claims_in,
            "urn:bankid:bid",
        )
    }

    /// As [`OidcProvider::start`], with every login at the assurance level `acr`.
    pub fn start_at_level(
        client_id: &str,
        client_secret: &str,
        redirect_uri: &str,
        acr: &str,
    ) -> OidcProvider {
        Self::spawn(
            client_id,
            client_secret,
            redirect_uri,
            ClaimsIn::IdToken,
            acr,
        )
    }

    fn spawn(
        client_id: &str,
        client_secret: &str,
        redirect_uri: &str,
        claims_in: ClaimsIn,
        acr: &str,
    ) -> OidcProvider {
        let dir = harness_dir();
        if !dir.join("node_modules").join("oidc-provider").exists() {
            panic!(
                "{}/node_modules is missing: run the tests with `cargo xtask test` (it runs \
                 `npm ci` there), or run `npm ci` in tests/oidc-provider yourself",
                dir.display()
            );
        }
        let mut child = Command::new("node")
            .arg("provider.mjs")
            .current_dir(&dir)
            .env("PORT", "0")
            .env("CLIENT_ID", client_id)
            .env("CLIENT_SECRET", client_secret)
            .env("REDIRECT_URI", redirect_uri)
            .env(
                "CLAIMS_IN",
                match claims_in {
                    ClaimsIn::IdToken => "id_token",
                    ClaimsIn::Userinfo => "userinfo",
                },
            )
            .env("ACR", acr)
            .env("EXIT_ON_STDIN_CLOSE", "1")
            .env("NODE_ENV", "test")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| {
                panic!("cannot start node (install it with `apt-get install nodejs npm`): {e}")
            });

        let stderr = Arc::new(Mutex::new(String::new()));
        if let Some(mut pipe) = child.stderr.take() {
            let sink = stderr.clone();
            std::thread::spawn(move || {
                let mut buf = [0u8; 4096];
                while let Ok(n) = pipe.read(&mut buf) {
                    if n == 0 {
                        break;
                    }
                    if let (Ok(mut s), Some(chunk)) = (sink.lock(), buf.get(..n)) {
                        s.push_str(&String::from_utf8_lossy(chunk));
                    }
                }
            });
        }
        let (tx, rx) = mpsc::channel::<u16>();
        if let Some(stdout) = child.stdout.take() {
            std::thread::spawn(move || {
                for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                    if let Some(port) = line
                        .strip_prefix("READY ")
                        .and_then(|p| p.trim().parse().ok())
                    {
                        let _ = tx.send(port);
                    }
                }
            });
        }
        let stdin = child.stdin.take();
        let port = match rx.recv_timeout(Duration::from_secs(30)) {
            Ok(port) => port,
            Err(_) => {
                let _ = child.kill();
                let status = child.wait().ok();
                std::thread::sleep(Duration::from_millis(100));
                let err = stderr.lock().map(|s| s.clone()).unwrap_or_default();
                panic!("oidc-provider did not get ready (exit: {status:?}):\n{err}");
            }
        };
        OidcProvider {
            issuer: format!("http://127.0.0.1:{port}"),
            port,
            redirect_uri: redirect_uri.to_owned(),
            child,
            _stdin: stdin,
            stderr,
        }
    }

    /// What the provider wrote to stderr so far (warnings, errors).
    pub fn stderr(&self) -> String {
        self.stderr.lock().map(|s| s.clone()).unwrap_or_default()
    }

    /// Signs in as the test account `login` and consents; returns the URL the provider
    /// redirects the browser to (our `redirect_uri` with `code`, `state` and `iss`). Panics
    /// if the flow does not end there.
    pub async fn login(&self, authorization_url: &str, login: &str) -> String {
        match self.try_login(authorization_url, login).await {
            Ok(url) => url,
            Err(e) => panic!(
                "login as {login} failed: {e}\nprovider stderr:\n{}",
                self.stderr()
            ),
        }
    }

    /// As [`OidcProvider::login`], with the failure as an error: GET the authorization URL,
    /// follow redirects to `/interaction/UID`, POST the login form (`prompt=login`, `login`,
    /// `password`), follow, POST the consent form (`prompt=consent`), follow until the
    /// `Location` is our redirect URI.
    pub async fn try_login(&self, authorization_url: &str, login: &str) -> Result<String, String> {
        let client = reqwest::Client::builder()
            .cookie_store(true)
            .redirect(reqwest::redirect::Policy::none())
            .timeout(Duration::from_secs(10))
            .build()
            .map_err(|e| format!("http client: {e}"))?;
        let mut url = reqwest::Url::parse(authorization_url)
            .map_err(|e| format!("authorization URL: {e}"))?;
        let mut response = client
            .get(url.clone())
            .send()
            .await
            .map_err(|e| format!("GET {url}: {e}"))?;
        for _ in 0..20 {
            let status = response.status();
            if status.is_redirection() {
                let location = response
                    .headers()
                    .get(reqwest::header::LOCATION)
                    .and_then(|v| v.to_str().ok())
                    .ok_or_else(|| format!("{status} from {url} without a Location"))?;
                let next = url
                    .join(location)
                    .map_err(|e| format!("Location {location:?}: {e}"))?;
                if next.as_str().starts_with(&self.redirect_uri) {
                    return Ok(next.to_string());
                }
                url = next;
                response = client
                    .get(url.clone())
                    .send()
                    .await
                    .map_err(|e| format!("GET {url}: {e}"))?;
                continue;
            }
            let body = response
                .text()
                .await
                .map_err(|e| format!("reading {url}: {e}"))?;
            if !status.is_success() {
                return Err(format!("{status} from {url}: {}", excerpt(&body)));
            }
            // The development pages post back to their own URL (`/interaction/UID`).
            let form: Vec<(&str, &str)> = if body.contains(r#"name="prompt" value="login""#) {
                vec![("prompt", "login"), ("login", login), ("password", "x")]
            } else if body.contains(r#"name="prompt" value="consent""#) {
                vec![("prompt", "consent")]
            } else {
                return Err(format!("unexpected page at {url}: {}", excerpt(&body)));
            };
            response = client
                .post(url.clone())
                .form(&form)
                .send()
                .await
                .map_err(|e| format!("POST {url}: {e}"))?;
        }
        Err(format!(
            "no redirect to {} after 20 steps",
            self.redirect_uri
        ))
    }
}

/// The text of an HTML page (tags dropped, whitespace collapsed), at most 600 characters from
/// its end, where oidc-provider's error pages say what went wrong.
fn excerpt(body: &str) -> String {
    let mut text = String::with_capacity(body.len());
    let mut in_tag = false;
    for c in body.chars() {
        match c {
            '<' => in_tag = true,
            '>' => {
                in_tag = false;
                text.push(' ');
            }
            c if !in_tag => text.push(c),
            _ => {}
        }
    }
    let words: Vec<&str> = text
        .split_whitespace()
        .filter(|w| !w.contains('{'))
        .collect();
    let text = words.join(" ");
    let skip = text.chars().count().saturating_sub(600);
    text.chars().skip(skip).collect()
}
