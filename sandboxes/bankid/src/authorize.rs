//! The authorization endpoint (RFC 6749 §4.1.1, OIDC Core §3.1.2) and the page where the
//! developer picks a test person instead of opening the BankID app.
//!
//! Until the client and its redirect URI are validated, errors are shown as a page and never
//! redirected (RFC 6749 §4.1.2.1); after that they go back to the client with `error` and
//! `state`.

use crate::discovery::{ACR, SCOPES};
use crate::persons::{self, TestPerson};
use crate::store::{Authorization, Grant};
use crate::web::{self, Params, Reply};
use crate::{crypto, Sandbox};
use http::StatusCode;

/// Where errors and codes go once the redirect URI is known to be registered.
struct Back<'a> {
    redirect_uri: &'a str,
    state: Option<&'a str>,
    /// 302 after the GET of `/authorize`, 303 after the POST of the form.
    status: StatusCode,
}

impl Back<'_> {
    fn error(&self, error: &str, description: &str) -> Reply {
        let mut params = vec![("error", error), ("error_description", description)];
        if let Some(state) = self.state {
            params.push(("state", state));
        }
        match web::with_query(self.redirect_uri, &params) {
            Some(location) => web::redirect(self.status, location),
            None => web::server_error(),
        }
    }
}

/// An OAuth error to send back to the client: (error, description).
type Refusal = (&'static str, String);

fn refuse(error: &'static str, description: impl Into<String>) -> Refusal {
    (error, description.into())
}

/// `GET /authorize`.
pub(crate) fn start(sandbox: &Sandbox, query: &str) -> Reply {
    let params = Params::parse(query.as_bytes());
    let client_id = match params.one("client_id") {
        Ok(Some(id)) if id == sandbox.config.client_id => id,
        Ok(Some(_)) => return error_page(StatusCode::BAD_REQUEST, "Unknown client_id."),
        Ok(None) => return error_page(StatusCode::BAD_REQUEST, "client_id is missing."),
        Err(e) => return error_page(StatusCode::BAD_REQUEST, &e.describe("client_id")),
    };
    let redirect_uri = match params.one("redirect_uri") {
        Ok(Some(uri)) if sandbox.config.redirect_uris.iter().any(|r| r == uri) => uri,
        Ok(Some(_)) => {
            return error_page(
                StatusCode::BAD_REQUEST,
                "redirect_uri is not registered for this client (exact match required).",
            )
        }
        Ok(None) => return error_page(StatusCode::BAD_REQUEST, "redirect_uri is missing."),
        Err(e) => return error_page(StatusCode::BAD_REQUEST, &e.describe("redirect_uri")),
    };
    let back = Back {
        redirect_uri,
        state: params.one("state").ok().flatten(),
        status: StatusCode::FOUND,
    };
    let authorization = match validate(&params, client_id, redirect_uri) {
        Ok(authorization) => authorization,
        Err((error, description)) => return back.error(error, &description),
    };
    let Some(transaction) = crypto::random_token() else {
        return back.error("server_error", "the sandbox could not draw a random number");
    };
    let now = sandbox.clock.now();
    if sandbox
        .store
        .put_transaction(transaction.clone(), authorization, now)
        .is_err()
    {
        return back.error(
            "temporarily_unavailable",
            "the sandbox holds too many logins",
        );
    }
    let action = format!("{}/authorize/choose", sandbox.base_path);
    web::html(
        StatusCode::OK,
        chooser_page(client_id, &action, &transaction),
    )
}

/// Everything after the client and redirect URI, in the order RFC 6749 and RFC 7636 name it.
fn validate(
    params: &Params,
    client_id: &str,
    redirect_uri: &str,
) -> Result<Authorization, Refusal> {
    let one = |name: &str| {
        params
            .one(name)
            .map_err(|e| refuse("invalid_request", e.describe(name)))
    };
    match one("response_type")? {
        Some("code") => {}
        Some(_) => {
            return Err(refuse(
                "unsupported_response_type",
                "only response_type=code is supported",
            ))
        }
        None => return Err(refuse("invalid_request", "response_type is missing")),
    }
    if params.names().any(|n| n == "request") {
        return Err(refuse(
            "request_not_supported",
            "request objects are not supported",
        ));
    }
    if params.names().any(|n| n == "request_uri") {
        return Err(refuse(
            "request_uri_not_supported",
            "request_uri is not supported",
        ));
    }
    let requested: Vec<&str> = one("scope")?.unwrap_or("").split(' ').collect();
    if !requested.contains(&"openid") {
        return Err(refuse("invalid_scope", "scope must contain openid"));
    }
    let scopes = SCOPES
        .iter()
        .filter(|s| requested.contains(s))
        .map(|s| (*s).to_owned())
        .collect();
    match one("code_challenge_method")? {
        Some("S256") => {}
        Some(_) => {
            return Err(refuse(
                "invalid_request",
                "code_challenge_method must be S256",
            ))
        }
        None => {
            return Err(refuse(
                "invalid_request",
                "PKCE is mandatory: code_challenge_method=S256 is missing",
            ))
        }
    }
    let code_challenge = match one("code_challenge")? {
        Some(c) if crypto::is_s256_challenge(c) => c,
        Some(_) => {
            return Err(refuse(
                "invalid_request",
                "code_challenge is not BASE64URL(SHA-256(code_verifier))",
            ))
        }
        None => {
            return Err(refuse(
                "invalid_request",
                "PKCE is mandatory: code_challenge is missing",
            ))
        }
    };
    let state = one("state")?.ok_or_else(|| refuse("invalid_request", "state is missing"))?;
    let nonce = one("nonce")?.ok_or_else(|| refuse("invalid_request", "nonce is missing"))?;
    if let Some(acr) = one("acr_values")? {
        if !acr.split(' ').any(|v| v == ACR) {
            return Err(refuse(
                "invalid_request",
                format!("acr_values must include {ACR}"),
            ));
        }
    }
    if one("prompt")?.is_some_and(|p| p.split(' ').any(|v| v == "none")) {
        return Err(refuse("login_required", "BankID always asks the user"));
    }
    Ok(Authorization {
        client_id: client_id.to_owned(),
        redirect_uri: redirect_uri.to_owned(),
        state: state.to_owned(),
        nonce: nonce.to_owned(),
        code_challenge: code_challenge.to_owned(),
        scopes,
    })
}

/// `POST /authorize/choose`: the person picked on the page (or Cancel) for one transaction.
pub(crate) async fn choose(sandbox: &Sandbox, req: axum::extract::Request) -> Reply {
    let Some(body) = web::read_body(req.into_body()).await else {
        return error_page(StatusCode::PAYLOAD_TOO_LARGE, "The form is too large.");
    };
    let params = Params::parse(&body);
    let Ok(Some(transaction)) = params.one("transaction") else {
        return error_page(
            StatusCode::BAD_REQUEST,
            "The form carries no login transaction.",
        );
    };
    let cancelled = matches!(params.one("cancel"), Ok(Some(_)));
    let person = match params.one("person") {
        Ok(Some(slug)) => persons::find(slug),
        _ => None,
    };
    if person.is_none() && !cancelled {
        return error_page(StatusCode::BAD_REQUEST, "Choose one of the listed persons.");
    }
    let now = sandbox.clock.now();
    let Some(authorization) = sandbox.store.take_transaction(transaction, now) else {
        return error_page(
            StatusCode::BAD_REQUEST,
            "This login has expired or was already used. Start again from the app.",
        );
    };
    let back = Back {
        redirect_uri: &authorization.redirect_uri,
        state: Some(&authorization.state),
        status: StatusCode::SEE_OTHER,
    };
    let Some(person) = person else {
        return back.error("access_denied", "the user cancelled the login");
    };
    let Some(code) = crypto::random_token() else {
        return back.error("server_error", "the sandbox could not draw a random number");
    };
    let grant = Grant {
        authorization: authorization.clone(),
        person,
        auth_time: sandbox.clock.unix(),
    };
    if sandbox.store.put_code(code.clone(), grant, now).is_err() {
        return back.error(
            "temporarily_unavailable",
            "the sandbox holds too many codes",
        );
    }
    tracing::info!(
        person = person.slug,
        "bankid sandbox: authorization code issued"
    );
    let params = [
        ("code", code.as_str()),
        ("state", authorization.state.as_str()),
    ];
    match web::with_query(&authorization.redirect_uri, &params) {
        Some(location) => web::redirect(StatusCode::SEE_OTHER, location),
        None => web::server_error(),
    }
}

const TITLE: &str = "BankID sandbox — not real BankID";

const STYLE: &str =
    "body{font-family:system-ui,sans-serif;background:#f4f1ea;margin:0;color:#1d1d1b}\
main{max-width:40rem;margin:2rem auto;padding:0 1rem}\
h1{font-size:1.5rem}\
.warn{background:#ffe58a;border:2px solid #b58a00;padding:.75rem;border-radius:.4rem}\
button{display:block;width:100%;text-align:left;margin:.5rem 0;padding:.75rem 1rem;font:inherit;\
background:#fff;border:1px solid #39134c;border-radius:.4rem;cursor:pointer}\
button:hover{background:#ece4f5}\
button span{display:block;font-size:.85rem;color:#555}\
button.cancel{text-align:center;border-color:#888;margin-top:1.5rem}";

fn page(status_title: &str, content: &str) -> String {
    format!(
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
<meta name=\"robots\" content=\"noindex\"><title>{title}</title><style>{STYLE}</style></head>\
<body><main><h1>{title}</h1>\
<p class=\"warn\">This page stands in for BankID on a developer's machine. \
No real identity is checked and nothing here is a real login.</p>\n{content}</main></body></html>\n",
        title = web::escape(status_title),
    )
}

fn person_button(person: &TestPerson) -> String {
    format!(
        "<button type=\"submit\" name=\"person\" value=\"{slug}\"><strong>{name}</strong>\
<span>{label} · born {birthdate} · {nnin}</span></button>\n",
        slug = web::escape(person.slug),
        name = web::escape(&person.name()),
        label = web::escape(person.label),
        birthdate = web::escape(person.birthdate),
        nnin = web::escape(person.nnin),
    )
}

fn chooser_page(client_id: &str, action: &str, transaction: &str) -> String {
    let buttons: String = persons::test_persons().iter().map(person_button).collect();
    page(
        TITLE,
        &format!(
            "<p>Log in to <strong>{client}</strong> as one of these test persons:</p>\n\
<form method=\"post\" action=\"{action}\">\n\
<input type=\"hidden\" name=\"transaction\" value=\"{transaction}\">\n{buttons}\
<button type=\"submit\" name=\"cancel\" value=\"1\" class=\"cancel\">Cancel</button>\n</form>\n",
            client = web::escape(client_id),
            action = web::escape(action),
            transaction = web::escape(transaction),
        ),
    )
}

/// An error the sandbox cannot send back to the client.
fn error_page(status: StatusCode, message: &str) -> Reply {
    let content = format!(
        "<h2>The login cannot go on</h2>\n<p>{}</p>\n",
        web::escape(message)
    );
    web::html(status, page(TITLE, &content))
}
