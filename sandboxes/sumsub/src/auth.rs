//! App-token authentication, as Sumsub checks every API request: `X-App-Token`,
//! `X-App-Access-Ts` (Unix seconds, close to now) and `X-App-Access-Sig`.

use crate::signing;
use crate::SandboxConfig;
use http::HeaderMap;

/// How far `X-App-Access-Ts` may be from the sandbox's clock, either way.
pub(crate) const MAX_SKEW_SECS: u64 = 300;

/// The parts of a request its signature covers.
pub(crate) struct SignedRequest<'a> {
    pub headers: &'a HeaderMap,
    pub method: &'a str,
    pub path_with_query: &'a str,
    pub body: &'a [u8],
}

fn header<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .filter(|v| !v.is_empty())
}

/// `Ok` if the request is signed with the configured app token and secret key at a time close
/// to `now`; otherwise the description for the 401 (which never echoes a secret).
pub(crate) fn check(
    config: &SandboxConfig,
    request: &SignedRequest<'_>,
    now: u64,
) -> Result<(), &'static str> {
    let token = header(request.headers, "x-app-token").ok_or("X-App-Token header is missing")?;
    if !signing::secrets_equal(token, &config.app_token) {
        return Err("Invalid app token");
    }
    let ts =
        header(request.headers, "x-app-access-ts").ok_or("X-App-Access-Ts header is missing")?;
    let seconds: u64 = ts
        .parse()
        .map_err(|_| "X-App-Access-Ts must be Unix time in seconds")?;
    if seconds.abs_diff(now) > MAX_SKEW_SECS {
        return Err("Request timestamp is too far from the server time");
    }
    let signature =
        header(request.headers, "x-app-access-sig").ok_or("X-App-Access-Sig header is missing")?;
    let valid = signing::request_signature_matches(
        &config.secret_key,
        signature,
        ts,
        request.method,
        request.path_with_query,
        request.body,
    );
    if valid {
        Ok(())
    } else {
        Err("Request signature mismatch")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::HeaderValue;

    const NOW: u64 = 1_700_000_000;

    fn config() -> SandboxConfig {
        SandboxConfig {
            app_token: "sbx:token".into(),
            secret_key: "key".into(),
            ..SandboxConfig::default()
        }
    }

    fn headers(token: &str, ts: u64, sig: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        for (name, value) in [
            ("x-app-token", token.to_owned()),
            ("x-app-access-ts", ts.to_string()),
            ("x-app-access-sig", sig.to_owned()),
        ] {
            headers.insert(name, HeaderValue::from_str(&value).unwrap());
        }
        headers
    }

    fn check_at(headers: &HeaderMap, body: &[u8]) -> Result<(), &'static str> {
        let request = SignedRequest {
            headers,
            method: "POST",
            path_with_query: "/resources/applicants?levelName=basic",
            body,
        };
        check(&config(), &request, NOW)
    }

    fn sig(ts: u64, body: &[u8]) -> String {
        signing::request_signature(
            "key",
            &ts.to_string(),
            "POST",
            "/resources/applicants?levelName=basic",
            body,
        )
    }

    #[test]
    fn accepts_a_signed_request_within_the_window() {
        for ts in [NOW, NOW - MAX_SKEW_SECS, NOW + MAX_SKEW_SECS] {
            assert_eq!(
                check_at(&headers("sbx:token", ts, &sig(ts, b"{}")), b"{}"),
                Ok(())
            );
        }
    }

    #[test]
    fn refuses_everything_else() {
        let good = headers("sbx:token", NOW, &sig(NOW, b"{}"));
        assert_eq!(check_at(&good, b"{ }"), Err("Request signature mismatch"));
        let token = headers("sbx:other", NOW, &sig(NOW, b"{}"));
        assert_eq!(check_at(&token, b"{}"), Err("Invalid app token"));
        let old = NOW - MAX_SKEW_SECS - 1;
        let stale = headers("sbx:token", old, &sig(old, b"{}"));
        assert!(check_at(&stale, b"{}").is_err());
        let mut missing = good.clone();
        missing.remove("x-app-access-sig");
        assert!(check_at(&missing, b"{}").is_err());
        let mut no_ts = good.clone();
        no_ts.remove("x-app-access-ts");
        assert!(check_at(&no_ts, b"{}").is_err());
        assert!(check_at(&HeaderMap::new(), b"{}").is_err());
    }
}
