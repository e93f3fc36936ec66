//! `oidc-edge mock-rp`: a relying party in one command, to watch logout tokens arrive. It
//! registers itself with a realm (or takes an existing client), serves
//! `http://127.0.0.1:{port}/backchannel-logout`, verifies every logout token exactly as an RP
//! must (Back-Channel Logout 1.0 §2.6, against the realm's JWKS, refusing a `jti` seen before),
//! prints each one with its verdict and the answer it gave, and answers as told (`--answer`:
//! 200 for valid tokens and 400 for invalid ones, or always 400, always 503, or never).

use std::cell::RefCell;
use std::collections::BTreeSet;
use std::convert::Infallible;
use std::io::{self, Write as _};
use std::net::SocketAddr;
use std::rc::Rc;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt as _, Full, Limited};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use oidc_edge_core::host::Clock as _;
use oidc_edge_core::http::Params;
use oidc_edge_core::jose::{Jwk, JwkSet, JwsAlg, b64};
use oidc_edge_core::logout::logout_token::{LogoutTokenValidation, verify};
use serde_json::{Value, json};

use super::{NativeClock, OsEntropy};

/// The path the mock RP serves.
pub const PATH: &str = "/backchannel-logout";
/// Largest request body read.
const MAX_BODY: usize = 64 * 1024;
/// The key management algorithm of `--encrypt`.
const ENC_ALG: &str = "ECDH-ES+A128KW";

/// How the mock RP answers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Answer {
    /// 200 for a valid token, 400 for an invalid one (what an RP must do).
    Verdict,
    /// Always 400.
    Reject,
    /// Always 503 (the provider retries).
    Unavailable,
    /// Never (the provider times out and retries).
    Hang,
}

impl Answer {
    /// `200`, `400`, `503` or `hang`.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "200" => Some(Self::Verdict),
            "400" => Some(Self::Reject),
            "503" => Some(Self::Unavailable),
            "hang" => Some(Self::Hang),
            _ => None,
        }
    }
}

/// What `mock-rp` was asked.
#[derive(Clone, Debug)]
pub struct Options {
    /// The realm's issuer.
    pub issuer: String,
    /// The port to serve on (0: any free one).
    pub port: u16,
    /// An existing client (else one is registered).
    pub client_id: Option<String>,
    /// Its secret, when given.
    pub client_secret: Option<String>,
    /// How to answer.
    pub answer: Answer,
    /// One JSON object per line instead of text.
    pub json: bool,
    /// Register an ID-token encryption key (ECDH-ES+A128KW, A256GCM): the provider then
    /// encrypts its logout tokens to it, and the mock RP decrypts them.
    pub encrypt: bool,
}

/// What the provider's discovery says that the mock RP needs.
struct Provider {
    issuer: String,
    jwks_uri: String,
    registration_endpoint: Option<String>,
}

fn fail(what: &str) -> impl FnOnce(reqwest::Error) -> String + '_ {
    move |e| format!("{what}: {e}")
}

async fn discover(http: &reqwest::Client, issuer: &str) -> Result<Provider, String> {
    let url = format!(
        "{}/.well-known/openid-configuration",
        issuer.trim_end_matches('/')
    );
    let text = http
        .get(&url)
        .send()
        .await
        .and_then(reqwest::Response::error_for_status)
        .map_err(fail("discovery"))?
        .text()
        .await
        .map_err(fail("discovery"))?;
    let doc: Value = serde_json::from_str(&text).map_err(|e| format!("discovery: {e}"))?;
    let text = |name: &str| doc.get(name).and_then(Value::as_str).map(str::to_owned);
    Ok(Provider {
        issuer: text("issuer").ok_or("discovery names no issuer")?,
        jwks_uri: text("jwks_uri").ok_or("discovery names no jwks_uri")?,
        registration_endpoint: text("registration_endpoint"),
    })
}

/// Register a confidential client whose back-channel logout URI is `uri` (requiring `sid`),
/// with `encrypt_to` as its ID-token encryption key when given.
async fn register(
    http: &reqwest::Client,
    provider: &Provider,
    port: u16,
    uri: &str,
    encrypt_to: Option<&Jwk>,
) -> Result<(String, Option<String>), String> {
    let endpoint = provider
        .registration_endpoint
        .as_deref()
        .ok_or("the provider offers no dynamic registration: give --client-id")?;
    let mut meta = json!({
        "client_name": "oidc-edge mock-rp",
        "redirect_uris": [format!("http://127.0.0.1:{port}/cb")],
        "backchannel_logout_uri": uri,
        "backchannel_logout_session_required": true,
    });
    if let Some(key) = encrypt_to {
        meta["id_token_encrypted_response_alg"] = json!(ENC_ALG);
        meta["id_token_encrypted_response_enc"] = json!("A256GCM");
        meta["jwks"] = json!({"keys": [key.to_public().to_value()]});
    }
    let resp = http
        .post(endpoint)
        .header("content-type", "application/json")
        .body(meta.to_string())
        .send()
        .await
        .map_err(fail("registration"))?;
    let status = resp.status();
    let body: Value =
        serde_json::from_str(&resp.text().await.unwrap_or_default()).unwrap_or(Value::Null);
    if status != reqwest::StatusCode::CREATED {
        return Err(format!("registration answered {status}: {body}"));
    }
    let id = body["client_id"]
        .as_str()
        .ok_or("registration returned no client_id")?;
    Ok((
        id.to_owned(),
        body["client_secret"].as_str().map(str::to_owned),
    ))
}

/// A compact token's first two segments as JSON, unverified (for printing): the header and,
/// for a JWS, its claims.
fn peek(token: &str) -> (Value, Value) {
    let part = |i: usize| {
        token
            .split('.')
            .nth(i)
            .and_then(|p| b64::decode(p).ok())
            .and_then(|b| serde_json::from_slice::<Value>(&b).ok())
            .unwrap_or(Value::Null)
    };
    let header = part(0);
    let claims = if token.split('.').count() == 3 {
        part(1)
    } else {
        Value::Null
    };
    (header, claims)
}

/// The mock RP's state between requests.
struct Rp {
    http: reqwest::Client,
    issuer: String,
    /// The provider's discovery, once read (an existing client may be served before its realm
    /// exists: then it is read when the first token comes).
    provider: RefCell<Option<Rc<Provider>>>,
    client_id: String,
    decrypt_with: Option<Jwk>,
    answer: Answer,
    json: bool,
    seen: RefCell<BTreeSet<String>>,
    received: RefCell<usize>,
}

impl Rp {
    /// The provider's discovery, read now if it was not yet.
    async fn provider(&self) -> Result<Rc<Provider>, String> {
        if let Some(p) = self.provider.borrow().as_ref() {
            return Ok(Rc::clone(p));
        }
        let p = Rc::new(discover(&self.http, &self.issuer).await?);
        *self.provider.borrow_mut() = Some(Rc::clone(&p));
        Ok(p)
    }

    /// Verify one logout token: the verdict, and the claims when valid.
    async fn verdict(&self, token: &str) -> Result<Value, String> {
        let provider = self.provider().await?;
        let keys = self
            .http
            .get(&provider.jwks_uri)
            .send()
            .await
            .and_then(reqwest::Response::error_for_status)
            .map_err(fail("the JWKS"))?
            .text()
            .await
            .map_err(fail("the JWKS"))?;
        let jwks = JwkSet::from_json(&keys).map_err(|e| format!("the JWKS: {e}"))?;
        let v = LogoutTokenValidation {
            issuer: &provider.issuer,
            audience: &self.client_id,
            jwks: &jwks,
            algs: &JwsAlg::ALL,
            decrypt_with: self.decrypt_with.as_ref(),
            now: NativeClock::system().now(),
            leeway_secs: 60,
        };
        let mut seen = |jti: &str| !self.seen.borrow_mut().insert(jti.to_owned());
        verify(token, &v, &OsEntropy, Some(&mut seen))
            .map(|c| Value::Object(c.claims))
            .map_err(|e| e.to_string())
    }

    /// Print one received token, its verdict and the answer.
    fn report(&self, token: &str, verdict: &Result<Value, String>, answered: Option<u16>) {
        let (header, peeked) = peek(token);
        let claims = match verdict {
            Ok(c) => c.clone(),
            Err(_) => peeked,
        };
        let n = {
            let mut r = self.received.borrow_mut();
            *r += 1;
            *r
        };
        let mut out = io::stdout().lock();
        let _ = if self.json {
            let mut line = json!({
                "verdict": if verdict.is_ok() { "valid" } else { "invalid" },
                "header": header,
                "claims": claims,
                "answered": answered,
            });
            if let Err(why) = verdict {
                line["reason"] = json!(why);
            }
            writeln!(out, "{line}")
        } else {
            let answered = answered.map_or_else(
                || String::from("no answer (hang)"),
                |s| format!("answered {s}"),
            );
            let verdict = match verdict {
                Ok(_) => String::from("valid"),
                Err(why) => format!("INVALID: {why}"),
            };
            writeln!(
                out,
                "logout token #{n}: {verdict}; {answered}\n  header: {header}\n  claims: {claims}"
            )
        };
        let _ = out.flush();
    }

    async fn handle(&self, req: hyper::Request<Incoming>) -> Option<hyper::Response<Full<Bytes>>> {
        let respond = |status: u16, body: &str| {
            let mut r = hyper::Response::new(Full::new(Bytes::from(body.to_owned())));
            *r.status_mut() = hyper::StatusCode::from_u16(status).unwrap_or_default();
            Some(r)
        };
        if req.uri().path() != PATH {
            return respond(404, "not found");
        }
        if req.method() != hyper::Method::POST {
            return respond(405, "POST only");
        }
        let Ok(body) = Limited::new(req.into_body(), MAX_BODY).collect().await else {
            return respond(400, "unreadable body");
        };
        let body = body.to_bytes();
        let form = Params::parse(&body);
        let token = form.get("logout_token").unwrap_or_default().to_owned();
        let verdict = if token.is_empty() {
            Err(String::from("no logout_token in the form body"))
        } else {
            self.verdict(&token).await
        };
        let status = match (self.answer, &verdict) {
            (Answer::Hang, _) => None,
            (Answer::Unavailable, _) => Some(503),
            (Answer::Reject, _) | (Answer::Verdict, Err(_)) => Some(400),
            (Answer::Verdict, Ok(_)) => Some(200),
        };
        self.report(&token, &verdict, status);
        let status = status?;
        let body = match &verdict {
            Err(why) if status == 400 => {
                json!({"error": "invalid_request", "error_description": why}).to_string()
            }
            _ => String::new(),
        };
        respond(status, &body)
    }
}

/// Run the mock RP until Ctrl-C.
pub fn run(opts: Options) -> Result<(), String> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("the runtime: {e}"))?;
    let local = tokio::task::LocalSet::new();
    local.block_on(&runtime, serve(opts))
}

async fn serve(opts: Options) -> Result<(), String> {
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .map_err(fail("the HTTP client"))?;
    // An existing client needs no discovery yet: its realm may be created after this starts.
    let provider = match discover(&http, &opts.issuer).await {
        Ok(p) => Some(Rc::new(p)),
        Err(e) if opts.client_id.is_some() => {
            eprintln!("mock-rp: {e}; trying again when a token comes");
            None
        }
        Err(e) => return Err(e),
    };
    let listener = tokio::net::TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], opts.port)))
        .await
        .map_err(|e| format!("port {}: {e}", opts.port))?;
    let port = listener
        .local_addr()
        .map_err(|e| format!("the listener: {e}"))?
        .port();
    let uri = format!("http://127.0.0.1:{port}{PATH}");
    let decrypt_with = if opts.encrypt {
        let mut key = Jwk::generate_ec(&OsEntropy).map_err(|e| format!("the key: {e}"))?;
        key.alg = Some(String::from(ENC_ALG));
        key.key_use = Some(String::from("enc"));
        Some(key)
    } else {
        None
    };
    let (client_id, client_secret) = match (&opts.client_id, &provider) {
        (Some(id), _) => (id.clone(), opts.client_secret.clone()),
        (None, Some(p)) => register(&http, p, port, &uri, decrypt_with.as_ref()).await?,
        (None, None) => return Err(String::from("no discovery, no registration")),
    };
    {
        let mut out = io::stdout().lock();
        let _ = if opts.json {
            let mut first = json!({"client_id": client_id, "backchannel_logout_uri": uri});
            if let Some(s) = &client_secret {
                first["client_secret"] = json!(s);
            }
            writeln!(out, "{first}")
        } else {
            writeln!(
                out,
                "mock-rp for {}\n  client_id: {client_id}{}\n  backchannel_logout_uri: {uri}\n  redirect_uri: http://127.0.0.1:{port}/cb\nwaiting for logout tokens (Ctrl-C stops)",
                opts.issuer,
                client_secret
                    .as_deref()
                    .map_or_else(String::new, |s| format!("\n  client_secret: {s}"))
            )
        };
        let _ = out.flush();
    }
    let rp = Rc::new(Rp {
        http,
        issuer: opts.issuer.clone(),
        provider: RefCell::new(provider),
        client_id,
        decrypt_with,
        answer: opts.answer,
        json: opts.json,
        seen: RefCell::default(),
        received: RefCell::new(0),
    });
    loop {
        let accepted = tokio::select! {
            a = listener.accept() => a,
            _ = tokio::signal::ctrl_c() => return Ok(()),
        };
        let Ok((stream, _)) = accepted else { continue };
        let rp = Rc::clone(&rp);
        tokio::task::spawn_local(async move {
            let service = service_fn(move |req| {
                let rp = Rc::clone(&rp);
                async move {
                    match rp.handle(req).await {
                        Some(r) => Ok::<_, Infallible>(r),
                        // Hang: hold the connection until the client gives up.
                        None => std::future::pending().await,
                    }
                }
            });
            let _ = http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
    }
}
