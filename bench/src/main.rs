//! `drop-bench init BINARY...` — process start until the first poll of a stub Lambda Runtime
//! API on 127.0.0.1, per binary, over repeated runs.
//! `drop-bench load URL [CONNECTIONS] [SECONDS]` — latency percentiles of GETs to URL over
//! CONNECTIONS keep-alive connections.

use bytes::Bytes;
use http_body_util::{BodyExt, Empty};
use hyper_util::rt::TokioIo;
use std::process::{ExitCode, Stdio};
use std::time::{Duration, Instant};
use tokio::io::AsyncReadExt;
use tokio::net::{TcpListener, TcpStream};

type BoxError = Box<dyn std::error::Error + Send + Sync>;

#[tokio::main]
async fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.first().map(String::as_str) {
        Some("init") => init(&args[1..]).await,
        Some("load") => load(&args[1..]).await,
        Some("token") => token(&args[1..]).await,
        _ => Err(
            "usage: drop-bench init BINARY... | load URL [CONNECTIONS] [SECONDS] | token API_BASE [mobile|web]"
                .into(),
        ),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("drop-bench: {err}");
            ExitCode::FAILURE
        }
    }
}

fn percentile(sorted: &[Duration], p: usize) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let rank = (sorted.len() * p).div_ceil(100).clamp(1, sorted.len());
    sorted[rank - 1]
}

fn ms(d: Duration) -> String {
    let us = d.as_micros();
    format!("{}.{:02} ms", us / 1000, us % 1000 / 10)
}

const INIT_RUNS: usize = 30;

async fn init(binaries: &[String]) -> Result<(), BoxError> {
    if binaries.is_empty() {
        return Err("init: name at least one binary".into());
    }
    println!(
        "{:<28} {:>10} {:>12} {:>12} {:>12}",
        "binary", "size", "init p50", "init p90", "init min"
    );
    for binary in binaries {
        let size = std::fs::metadata(binary)?.len();
        let mut times = Vec::with_capacity(INIT_RUNS);
        for _ in 0..INIT_RUNS {
            times.push(time_to_first_poll(binary).await?);
        }
        times.sort();
        let name = std::path::Path::new(binary)
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or(binary);
        println!(
            "{:<28} {:>4}.{:02} MB {:>12} {:>12} {:>12}",
            name,
            size / 1_048_576,
            size % 1_048_576 * 100 / 1_048_576,
            ms(percentile(&times, 50)),
            ms(percentile(&times, 90)),
            ms(times[0])
        );
    }
    Ok(())
}

/// Starts `binary` as Lambda would and times it until it asks the Runtime API for work.
async fn time_to_first_poll(binary: &str) -> Result<Duration, BoxError> {
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let api = listener.local_addr()?.to_string();
    let started = Instant::now();
    let mut child = tokio::process::Command::new(binary)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("AWS_LAMBDA_RUNTIME_API", &api)
        .env("AWS_LAMBDA_FUNCTION_NAME", "bench")
        .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "256")
        .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
        .env("AWS_LAMBDA_LOG_STREAM_NAME", "bench")
        .env("AWS_LAMBDA_LOG_GROUP_NAME", "bench")
        .env("AWS_REGION", "eu-north-1")
        .env("AWS_ACCESS_KEY_ID", "bench")
        .env("AWS_SECRET_ACCESS_KEY", "bench")
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env("DATABASE_URL", "postgres://bench@127.0.0.1:1/bench")
        .env("DROP_STAGE", "bench")
        // Required outside stage local, as the template sets it.
        .env(
            "DROP_MOBILE_REDIRECT_URI",
            "https://app.drop.test/auth/mobile-callback",
        )
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()?;
    let polled = tokio::time::timeout(Duration::from_secs(10), async {
        let (mut stream, _) = listener.accept().await?;
        let mut buf = vec![0u8; 1024];
        let mut read = 0;
        while !buf[..read].windows(4).any(|w| w == b"\r\n\r\n") && read < buf.len() {
            let n = stream.read(&mut buf[read..]).await?;
            if n == 0 {
                break;
            }
            read += n;
        }
        let elapsed = started.elapsed();
        if buf[..read].starts_with(b"GET /2018-06-01/runtime/invocation/next") {
            Ok::<_, BoxError>(elapsed)
        } else {
            Err("the first request was not a poll for the next invocation".into())
        }
    })
    .await;
    let _ = child.kill().await;
    polled.map_err(|_| format!("{binary} did not poll within 10 s"))?
}

async fn load(args: &[String]) -> Result<(), BoxError> {
    let url: http::Uri = args.first().ok_or("load: URL")?.parse()?;
    let connections: usize = args.get(1).map(|s| s.parse()).transpose()?.unwrap_or(100);
    let seconds: u64 = args.get(2).map(|s| s.parse()).transpose()?.unwrap_or(10);
    // An optional `Authorization` header value, e.g. `Bearer eyJ…`.
    let authorization: Option<String> = std::env::var("DROP_BENCH_AUTHORIZATION").ok();
    let authority = url
        .authority()
        .ok_or("load: URL needs a host and port")?
        .to_string();
    let warmup = Duration::from_secs(1);
    let deadline = Instant::now() + warmup + Duration::from_secs(seconds);
    let mut tasks = Vec::with_capacity(connections);
    for _ in 0..connections {
        let (url, authority, authorization) =
            (url.clone(), authority.clone(), authorization.clone());
        tasks.push(tokio::spawn(async move {
            one_connection(url, authority, authorization, warmup, deadline).await
        }));
    }
    let (mut latencies, mut failures, mut non_2xx, mut sent) = (Vec::new(), 0usize, 0usize, 0usize);
    for task in tasks {
        match task.await? {
            Ok((l, bad, total)) => {
                latencies.extend(l);
                non_2xx += bad;
                sent += total;
            }
            Err(_) => failures += 1,
        }
    }
    latencies.sort();
    println!(
        "GET {url}: {connections} connections, {seconds} s: {} requests ({}/s), p50 {}, p99 {}, max {}, non-2xx {non_2xx}, failed connections {failures}",
        latencies.len(),
        latencies.len() as u64 / seconds.max(1),
        ms(percentile(&latencies, 50)),
        ms(percentile(&latencies, 99)),
        ms(latencies.last().copied().unwrap_or_default()),
    );
    println!("(sent {sent} requests in all, warm-up included)");
    Ok(())
}

/// Sends GETs back to back on one keep-alive connection until `deadline`; latencies after the
/// warm-up are kept.
async fn one_connection(
    url: http::Uri,
    authority: String,
    authorization: Option<String>,
    warmup: Duration,
    deadline: Instant,
) -> Result<(Vec<Duration>, usize, usize), BoxError> {
    let stream = TcpStream::connect(&authority).await?;
    stream.set_nodelay(true)?;
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream)).await?;
    tokio::spawn(conn);
    let measure_from = Instant::now() + warmup;
    let (mut latencies, mut non_2xx, mut sent) = (Vec::new(), 0, 0);
    while Instant::now() < deadline {
        sent += 1;
        let mut req = http::Request::get(url.path_and_query().map(|p| p.as_str()).unwrap_or("/"))
            .header(http::header::HOST, &authority);
        if let Some(value) = &authorization {
            req = req.header(http::header::AUTHORIZATION, value);
        }
        let req = req.body(Empty::<Bytes>::new())?;
        let sent = Instant::now();
        let res = sender.send_request(req).await?;
        let ok = res.status().is_success();
        res.into_body().collect().await?;
        if sent >= measure_from {
            latencies.push(sent.elapsed());
            non_2xx += usize::from(!ok);
        }
    }
    Ok((latencies, non_2xx, sent))
}

/// One HTTP/1.1 exchange on a fresh connection: status, `Location`, body.
async fn exchange(
    req: http::Request<http_body_util::Full<Bytes>>,
) -> Result<(http::StatusCode, String, String), BoxError> {
    let (status, location, body, _) = exchange_with_cookies(req).await?;
    Ok((status, location, body))
}

/// As [`exchange`], with the `name=value` of each cookie the answer sets.
async fn exchange_with_cookies(
    req: http::Request<http_body_util::Full<Bytes>>,
) -> Result<(http::StatusCode, String, String, Vec<String>), BoxError> {
    let authority = req.uri().authority().ok_or("no authority")?.to_string();
    let stream = TcpStream::connect(&authority).await?;
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream)).await?;
    tokio::spawn(conn);
    let res = sender.send_request(req).await?;
    let status = res.status();
    let location = res
        .headers()
        .get(http::header::LOCATION)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    let cookies = res
        .headers()
        .get_all(http::header::SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .filter_map(|v| v.split(';').next())
        .map(str::to_owned)
        .collect();
    let body = String::from_utf8_lossy(&res.into_body().collect().await?.to_bytes()).into_owned();
    Ok((status, location, body, cookies))
}

fn request(
    method: http::Method,
    url: &str,
    content_type: Option<&str>,
    body: String,
) -> Result<http::Request<http_body_util::Full<Bytes>>, BoxError> {
    let uri: http::Uri = url.parse()?;
    let host = uri.authority().ok_or("no authority")?.to_string();
    let mut req = http::Request::builder()
        .method(method)
        .uri(uri.path_and_query().map(|p| p.as_str()).unwrap_or("/"))
        .header(http::header::HOST, host);
    if let Some(ct) = content_type {
        req = req.header(http::header::CONTENT_TYPE, ct);
    }
    let mut req = req.body(http_body_util::Full::new(Bytes::from(body)))?;
    *req.uri_mut() = uri;
    Ok(req)
}

/// `drop-bench token API_BASE [mobile|web]`: signs in through the BankID sandbox's adult test
/// person as the mobile app would (the default; prints a Bearer token) or as a browser would
/// (prints the value of the `__Host-drop_token` session cookie).
async fn token(args: &[String]) -> Result<(), BoxError> {
    let base = args
        .first()
        .ok_or("token: API_BASE")?
        .trim_end_matches('/')
        .to_owned();
    let web = match args.get(1).map(String::as_str) {
        None | Some("mobile") => false,
        Some("web") => true,
        Some(other) => return Err(format!("token: `{other}` is neither mobile nor web").into()),
    };
    let get = |url: String, cookie: Option<String>| async move {
        let mut req = request(http::Method::GET, &url, None, String::new())?;
        if let Some(cookie) = cookie {
            req.headers_mut()
                .insert(http::header::COOKIE, cookie.parse()?);
        }
        exchange_with_cookies(req).await
    };
    // A fixed PKCE pair (RFC 7636): the verifier and its S256 challenge.
    let (verifier, challenge) = (
        "app-verifier-0123456789-0123456789-abcdefgh",
        "9Q0Bv-V7rNvU2bq6L6bIcJvhKjirHV8KvVqVvTzGCEA",
    );
    let start = if web {
        format!("{base}/v1/auth/bankid/start?client=web")
    } else {
        format!("{base}/v1/auth/bankid/start?client=mobile&code_challenge={challenge}")
    };
    let (_, authorize, _, login_cookies) = get(start, None).await?;
    let (_, _, page, _) = get(authorize.clone(), None).await?;
    let transaction = page
        .split("name=\"transaction\" value=\"")
        .nth(1)
        .and_then(|r| r.split('"').next())
        .ok_or("no transaction on the sandbox page")?;
    let choose = format!(
        "{}/authorize/choose",
        authorize.split("/authorize").next().unwrap_or_default()
    );
    let form = format!("transaction={transaction}&person=adult");
    let (_, callback, _) = exchange(request(
        http::Method::POST,
        &choose,
        Some("application/x-www-form-urlencoded"),
        form,
    )?)
    .await?;
    let (_, to_app, body, cookies) = get(callback, Some(login_cookies.join("; "))).await?;
    if web {
        let token = cookies
            .iter()
            .find_map(|c| c.strip_prefix("__Host-drop_token="))
            .filter(|t| !t.is_empty())
            .ok_or_else(|| format!("no session cookie: {body}"))?;
        println!("{token}");
        return Ok(());
    }
    let code = to_app
        .split("code=")
        .nth(1)
        .ok_or_else(|| format!("no code: {body}"))?;
    let (_, _, body) = exchange(request(
        http::Method::POST,
        &format!("{base}/v1/auth/token"),
        Some("application/json"),
        format!("{{\"code\":\"{code}\",\"code_verifier\":\"{verifier}\"}}"),
    )?)
    .await?;
    let token = body
        .split("\"token\":\"")
        .nth(1)
        .and_then(|r| r.split('"').next())
        .ok_or_else(|| format!("no token: {body}"))?;
    println!("{token}");
    Ok(())
}
