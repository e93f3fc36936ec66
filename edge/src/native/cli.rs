//! The `oidc-edge` command line: the provider's HTTP server (`serve`), and keys, JWKS, and
//! logout tokens to test relying parties with (`logout-token check-rp` runs the RP checker).
//!
//! Exit codes: 0 success; 1 a token was rejected, an RP did not accept a delivery, or an RP
//! failed a case of `check-rp`;
//! 2 bad input (unreadable file, wrong key for the algorithm, malformed token, bad option,
//! unusable data directory or address).

use std::io::{Read as _, Write as _};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};
use oidc_edge_core::UnixTime;
use oidc_edge_core::host::PostOutcome;
use oidc_edge_core::jose::jwk::KeyType;
use oidc_edge_core::jose::{Jwk, JwkSet, JwsAlg};
use oidc_edge_core::logout::check::{self, CheckParams};
use oidc_edge_core::logout::delivery::DeliveryPolicy;
use oidc_edge_core::logout::logout_token::{self, LogoutTokenError, LogoutTokenKeys};
use oidc_edge_core::logout::mint_request::{MintError, MintField, MintRequest};
use serde_json::Value;

use super::server::{self, ADMIN_TOKEN_ENV, MASTER_KEY_ENV, ServerOptions};
use super::{NativeClock, OsEntropy, now};

/// Largest key or JWKS file read, in bytes.
const MAX_FILE: u64 = 256 * 1024;
/// `--delivery-concurrency`'s default: core's policy's, which a `u32` holds.
#[allow(clippy::cast_possible_truncation)]
const DEFAULT_CONCURRENCY: u32 = DeliveryPolicy::DEFAULT_CONCURRENCY as u32;
/// Largest response body printed by `send`, in bytes.
const MAX_BODY_SHOWN: usize = 4096;

#[derive(Parser, Debug)]
#[command(
    name = "oidc-edge",
    version,
    about = "oidc-edge: an OpenID Provider for session lifecycle and back-channel logout"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

// Parsed once per process: the size of the largest variant does not matter.
#[allow(clippy::large_enum_variant)]
#[derive(Subcommand, Debug)]
enum Command {
    /// Run the OpenID Provider: an HTTP server with an embedded store.
    Serve(ServeArgs),
    /// Generate a private signing key (JWK) and print it.
    Keygen {
        /// ES256, RS256 or PS256.
        #[arg(long)]
        alg: String,
        /// RSA modulus size (2048 to 4096).
        #[arg(long, default_value_t = 2048)]
        bits: usize,
        /// Key id (default: the RFC 7638 thumbprint).
        #[arg(long)]
        kid: Option<String>,
        /// `sig` for an OP signing key (the default), `enc` for an RP's ID-token encryption key.
        #[arg(long = "use", default_value = "sig", value_parser = ["sig", "enc"])]
        key_use: String,
    },
    /// Print the public JWKS of a private key.
    Jwks {
        /// The private key (JWK file).
        #[arg(long)]
        key: String,
    },
    /// Mint, verify and send back-channel logout tokens.
    #[command(subcommand, name = "logout-token")]
    LogoutToken(LogoutTokenCommand),
    /// A relying party in one command: registers itself with a realm (or takes an existing
    /// client), serves http://127.0.0.1:{port}/backchannel-logout, verifies and prints every
    /// logout token it receives, and answers as told. Ctrl-C stops it.
    #[command(name = "mock-rp")]
    MockRp {
        /// The realm's issuer (http://127.0.0.1:8787/realms/demo).
        #[arg(long)]
        issuer: String,
        /// The port to serve on (0: any free one, printed).
        #[arg(long, default_value_t = 0)]
        port: u16,
        /// An existing client instead of a new registration (its backchannel_logout_uri must
        /// point here).
        #[arg(long = "client-id")]
        client_id: Option<String>,
        /// That client's secret.
        #[arg(long = "client-secret", requires = "client_id")]
        client_secret: Option<String>,
        /// 200: 200 for a valid token, 400 for an invalid one; 400, 503: always that; hang:
        /// never answer (to watch retries and dead letters).
        #[arg(long, default_value = "200", value_parser = ["200", "400", "503", "hang"])]
        answer: String,
        /// One JSON object per line: first {client_id, client_secret?, backchannel_logout_uri},
        /// then one per token {verdict, reason?, header, claims, answered}.
        #[arg(long)]
        json: bool,
        /// Register an ID-token encryption key (ECDH-ES+A128KW, A256GCM) with the new client:
        /// its logout tokens then come encrypted, and are decrypted here.
        #[arg(long, conflicts_with = "client_id")]
        encrypt: bool,
    },
}

#[derive(Args, Debug)]
#[command(after_help = format!(
    "Environment:\n  {ADMIN_TOKEN_ENV}  bearer token of the admin API (default: generated into the data \
     directory and printed once; with --memory, printed at every start)\n  {MASTER_KEY_ENV}   \
     base64url of 32 bytes sealing the signing keys (default: generated into the data directory)"
))]
struct ServeArgs {
    /// Address to listen on.
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:8787")]
    addr: SocketAddr,
    /// Public base URL (default http://ADDR); the issuer of realm R is URL/realms/R.
    #[arg(long = "base-url", value_name = "URL")]
    base_url: Option<String>,
    /// Data directory: the store and generated secrets.
    #[arg(
        long,
        value_name = "DIR",
        default_value = "./.oidc-edge",
        conflicts_with = "memory"
    )]
    data: PathBuf,
    /// Keep everything in memory instead: nothing survives a restart.
    #[arg(long)]
    memory: bool,
    /// Provision realm `demo` (open registration, user demo / changeit, loopback and private
    /// back-channel URIs allowed) and print a walkthrough.
    #[arg(long)]
    demo: bool,
    /// Back-channel logout: per-request timeout, in milliseconds (a logout token lives two
    /// minutes at most).
    #[arg(long = "delivery-timeout-ms", value_name = "MS", default_value_t = DeliveryPolicy::default().timeout_ms,
          value_parser = clap::value_parser!(u64).range(1..=120_000))]
    delivery_timeout_ms: u64,
    /// Back-channel logout: retries after a timeout, network error, 5xx, 408 or 429, before
    /// the delivery is dead-lettered.
    #[arg(long = "retry-max", value_name = "N", default_value_t = DeliveryPolicy::default().retry_max,
          value_parser = clap::value_parser!(u32).range(0..=30))]
    retry_max: u32,
    /// Back-channel logout: the first retry waits about this long (with jitter), in
    /// milliseconds; each further one twice as long.
    #[arg(long = "retry-base-ms", value_name = "MS", default_value_t = DeliveryPolicy::default().retry_base_ms,
          value_parser = clap::value_parser!(u64).range(1..=3_600_000))]
    retry_base_ms: u64,
    /// Back-channel logout: deliveries in flight at once.
    #[arg(long = "delivery-concurrency", value_name = "N", default_value_t = DEFAULT_CONCURRENCY,
          value_parser = clap::value_parser!(u32).range(1..=10_000))]
    delivery_concurrency: u32,
    /// How often expired sessions are ended (and their relying parties told), in seconds.
    #[arg(long = "sweep-interval-secs", value_name = "SECS", default_value_t = server::DEFAULT_SWEEP_INTERVAL.as_secs(),
          value_parser = clap::value_parser!(u64).range(1..=86_400))]
    sweep_interval_secs: u64,
    /// Seconds a client has to send a request's head, and again its body; an idle
    /// kept-alive connection is closed after it too.
    #[arg(long = "read-timeout-secs", value_name = "SECS", default_value_t = server::DEFAULT_READ_TIMEOUT.as_secs(),
          value_parser = clap::value_parser!(u64).range(1..=3600))]
    read_timeout_secs: u64,
    /// Connections served at once; beyond it new connections wait (in the listen backlog)
    /// until one closes.
    #[arg(long = "max-connections", value_name = "N", default_value_t = server::DEFAULT_MAX_CONNECTIONS as u32,
          value_parser = clap::value_parser!(u32).range(1..=1_000_000))]
    max_connections: u32,
    /// Also serve `GET /metrics` (Prometheus text) here, without the admin token: bind it
    /// where only the metrics collector reaches (on the main address it needs the token).
    #[arg(long = "metrics-addr", value_name = "ADDR")]
    metrics_addr: Option<std::net::SocketAddr>,
}

#[derive(Subcommand, Debug)]
enum LogoutTokenCommand {
    /// Mint a logout token and print it.
    Mint(MintArgs),
    /// Read a logout token on stdin and run every check of Back-Channel Logout 1.0 §2.6.
    Verify {
        /// The OP's public keys (JWKS file).
        #[arg(long)]
        jwks: String,
        /// The expected issuer.
        #[arg(long)]
        iss: String,
        /// This RP's client id.
        #[arg(long)]
        aud: String,
        /// The RP's private key, for tokens encrypted to it (then encryption is required).
        #[arg(long = "decrypt-with")]
        decrypt_with: Option<String>,
        /// Accept only this signature algorithm (default: ES256, RS256 and PS256).
        #[arg(long = "sign-alg")]
        sign_alg: Option<String>,
        /// Clock skew tolerated, in seconds.
        #[arg(long = "leeway-secs", default_value_t = 60)]
        leeway_secs: u64,
        /// Verify as of this Unix time instead of now.
        #[arg(long)]
        now: Option<u64>,
    },
    /// Mint a logout token and POST it to a relying party's back-channel logout URI.
    Send {
        /// The RP's backchannel_logout_uri.
        uri: String,
        #[command(flatten)]
        mint: MintArgs,
        /// Request timeout in milliseconds.
        #[arg(long = "timeout-ms", default_value_t = 5000)]
        timeout_ms: u64,
    },
    /// Check a relying party's back-channel logout endpoint: POST it a valid logout token and
    /// six invalid ones (wrong_signature, alg_none, nonce_present, expired, wrong_aud,
    /// missing_events), each with a fresh jti and a made-up sub and sid, and print what it
    /// answered as JSON. Exit 0 when it accepted the valid one (200 or 204) and refused each
    /// invalid one with 400; 1 when any case failed.
    #[command(name = "check-rp")]
    CheckRp(CheckRpArgs),
}

#[derive(Args, Debug)]
struct CheckRpArgs {
    /// The RP's backchannel_logout_uri.
    uri: String,
    /// The OP's private signing key (JWK file), whose public half the RP trusts.
    #[arg(long)]
    key: String,
    /// Issuer.
    #[arg(long)]
    iss: String,
    /// The RP's client id.
    #[arg(long)]
    aud: String,
    /// Signature algorithm (default: the key's `alg`, else ES256 for EC and RS256 for RSA keys).
    #[arg(long = "sign-alg")]
    sign_alg: Option<String>,
    /// Nest every token in a JWE to this public key (JWK file): the RP's ID-token encryption key.
    #[arg(long = "encrypt-to")]
    encrypt_to: Option<String>,
    /// JWE key management (default: the key's `alg`, else ECDH-ES or RSA-OAEP-256).
    #[arg(long, requires = "encrypt_to")]
    alg: Option<String>,
    /// JWE content encryption (default: A128CBC-HS256).
    #[arg(long, requires = "encrypt_to")]
    enc: Option<String>,
    /// Timeout of each request, in milliseconds.
    #[arg(long = "timeout-ms", default_value_t = 5000,
          value_parser = clap::value_parser!(u64).range(1..=120_000))]
    timeout_ms: u64,
}

#[derive(Args, Debug)]
struct MintArgs {
    /// The OP's private signing key (JWK file).
    #[arg(long)]
    key: String,
    /// Issuer.
    #[arg(long)]
    iss: String,
    /// The RP's client id.
    #[arg(long)]
    aud: String,
    /// Subject, as in the RP's ID token.
    #[arg(long)]
    sub: Option<String>,
    /// Session id, as in the RP's ID token.
    #[arg(long)]
    sid: Option<String>,
    /// CLIENT_LOGOUT, SESSION_TERMINATION, SESSION_MAX_TIMEOUT or SESSION_IDLE_TIMEOUT.
    #[arg(long)]
    cause: Option<String>,
    /// Lifetime (exp - iat) in seconds, at most 120.
    #[arg(long = "exp-secs", default_value_t = 120)]
    exp_secs: u64,
    /// Signature algorithm (default: the key's `alg`, else ES256 for EC and RS256 for RSA keys).
    #[arg(long = "sign-alg")]
    sign_alg: Option<String>,
    /// AM's auditTrackingId (default: a fresh UUID).
    #[arg(long = "tracking-id")]
    tracking_id: Option<String>,
    /// Nest the token in a JWE to this public key (JWK file).
    #[arg(long = "encrypt-to", requires_all = ["alg", "enc"])]
    encrypt_to: Option<String>,
    /// JWE key management: RSA-OAEP-256, ECDH-ES, ECDH-ES+A128KW, ECDH-ES+A256KW.
    #[arg(long, requires = "encrypt_to")]
    alg: Option<String>,
    /// JWE content encryption: A128CBC-HS256, A256CBC-HS512, A128GCM, A256GCM.
    #[arg(long, requires = "encrypt_to")]
    enc: Option<String>,
}

/// How a command failed, which decides the exit code.
#[derive(Debug)]
enum Failure {
    /// Bad input: exit 2.
    Input(String),
    /// A well-formed token or delivery that was not accepted: exit 1.
    Rejected(String),
}

fn input<E: std::fmt::Display>(what: &str) -> impl FnOnce(E) -> Failure + '_ {
    move |e| Failure::Input(format!("{what}: {e}"))
}

/// Run the command line; returns the process exit code.
pub fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(c) => c,
        Err(e) => {
            let code = if e.use_stderr() { 2 } else { 0 };
            let _ = e.print();
            return ExitCode::from(code);
        }
    };
    match run(cli.command) {
        Ok(()) => ExitCode::SUCCESS,
        Err(Failure::Input(msg)) => {
            eprintln!("oidc-edge: {}", one_line(&msg));
            ExitCode::from(2)
        }
        Err(Failure::Rejected(msg)) => {
            eprintln!("oidc-edge: {}", one_line(&msg));
            ExitCode::from(1)
        }
    }
}

fn one_line(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

fn run(command: Command) -> Result<(), Failure> {
    match command {
        Command::Serve(args) => serve(args),
        Command::Keygen {
            alg,
            bits,
            kid,
            key_use,
        } => keygen(&alg, bits, kid, &key_use),
        Command::Jwks { key } => {
            let key = read_jwk(&key)?;
            print_json(&JwkSet { keys: vec![key] }.to_value())
        }
        Command::LogoutToken(LogoutTokenCommand::Mint(args)) => {
            let token = mint(&args)?;
            println!("{token}");
            Ok(())
        }
        Command::LogoutToken(LogoutTokenCommand::Verify {
            jwks,
            iss,
            aud,
            decrypt_with,
            sign_alg,
            leeway_secs,
            now: at,
        }) => verify(
            &jwks,
            &iss,
            &aud,
            decrypt_with.as_deref(),
            sign_alg.as_deref(),
            leeway_secs,
            at,
        ),
        Command::LogoutToken(LogoutTokenCommand::Send {
            uri,
            mint: args,
            timeout_ms,
        }) => send(&uri, &args, timeout_ms),
        Command::LogoutToken(LogoutTokenCommand::CheckRp(args)) => check_rp(&args),
        Command::MockRp {
            issuer,
            port,
            client_id,
            client_secret,
            answer,
            json,
            encrypt,
        } => super::mock_rp::run(super::mock_rp::Options {
            issuer,
            port,
            client_id,
            client_secret,
            answer: super::mock_rp::Answer::parse(&answer)
                .ok_or_else(|| Failure::Input(format!("--answer {answer}")))?,
            json,
            encrypt,
        })
        .map_err(Failure::Input),
    }
}

fn serve(args: ServeArgs) -> Result<(), Failure> {
    let opts = serve_options(args)
        .secrets_from_env()
        .map_err(|e| Failure::Input(e.to_string()))?;
    server::serve_forever(opts).map_err(|e| Failure::Input(e.to_string()))
}

/// The server's options as the flags give them (secrets come later, from the environment).
fn serve_options(args: ServeArgs) -> ServerOptions {
    ServerOptions {
        addr: args.addr,
        base_url: args.base_url,
        data: (!args.memory).then_some(args.data),
        demo: args.demo,
        admin_token: None,
        master_key: None,
        clock: NativeClock::system(),
        delivery: DeliveryPolicy {
            timeout_ms: args.delivery_timeout_ms,
            retry_max: args.retry_max,
            retry_base_ms: args.retry_base_ms,
            concurrency: args.delivery_concurrency as usize,
        },
        sweep_interval: Duration::from_secs(args.sweep_interval_secs),
        read_timeout: Duration::from_secs(args.read_timeout_secs),
        max_connections: args.max_connections as usize,
        metrics_addr: args.metrics_addr,
    }
}

fn keygen(alg: &str, bits: usize, kid: Option<String>, key_use: &str) -> Result<(), Failure> {
    let alg: JwsAlg = alg.parse().map_err(input("--alg"))?;
    let mut key = match alg.key_type() {
        KeyType::EcP256 => Jwk::generate_ec(&OsEntropy),
        KeyType::Rsa => Jwk::generate_rsa(bits, &OsEntropy),
    }
    .map_err(input("keygen"))?;
    // An encryption key serves any of the JWE algorithms for its type; a signing key one alg.
    if key_use == "sig" {
        key.alg = Some(alg.as_str().to_owned());
    }
    key.key_use = Some(key_use.to_owned());
    if kid.is_some() {
        key.kid = kid;
    }
    print_json(&key.to_value())
}

fn print_json(v: &Value) -> Result<(), Failure> {
    let s = serde_json::to_string_pretty(v).map_err(input("JSON"))?;
    let mut out = std::io::stdout().lock();
    writeln!(out, "{s}").map_err(input("stdout"))
}

fn read_file(path: &str) -> Result<String, Failure> {
    let f = std::fs::File::open(path).map_err(input(path))?;
    let mut s = String::new();
    f.take(MAX_FILE + 1)
        .read_to_string(&mut s)
        .map_err(input(path))?;
    if s.len() as u64 > MAX_FILE {
        return Err(Failure::Input(format!(
            "{path}: larger than {MAX_FILE} bytes"
        )));
    }
    Ok(s)
}

fn read_jwk(path: &str) -> Result<Jwk, Failure> {
    Jwk::from_json(&read_file(path)?).map_err(input(path))
}

/// The OP's signing key (`--key`) and, with `--encrypt-to`, the public half of the RP's key.
fn read_keys(key: &str, encrypt_to: Option<&str>) -> Result<(Jwk, Option<Jwk>), Failure> {
    let key = read_jwk(key)?;
    let recipient = encrypt_to
        .map(|path| read_jwk(path).map(|k| k.to_public()))
        .transpose()?;
    Ok((key, recipient))
}

fn mint(args: &MintArgs) -> Result<String, Failure> {
    let (key, encrypt_to) = read_keys(&args.key, args.encrypt_to.as_deref())?;
    let request = MintRequest {
        issuer: args.iss.clone(),
        audience: args.aud.clone(),
        subject: args.sub.clone(),
        sid: args.sid.clone(),
        cause: args.cause.clone(),
        expires_in: Some(args.exp_secs),
        sign_alg: args.sign_alg.clone(),
        now: None,
        audit_tracking_id: args.tracking_id.clone(),
        encryption_alg: args.alg.clone(),
        enc: args.enc.clone(),
    };
    request
        .mint(&key, encrypt_to.as_ref(), now(), &OsEntropy)
        .map_err(mint_failure)
}

/// A refused [`MintRequest`] as bad input, naming the flag at fault.
fn mint_failure(e: MintError) -> Failure {
    let flag = match e.field() {
        None => "mint",
        Some(MintField::Key) => "--key",
        Some(MintField::SignAlg) => "--sign-alg",
        Some(MintField::EncryptTo) => "--encrypt-to",
        Some(MintField::EncryptionAlg) => "--alg",
        Some(MintField::Enc) => "--enc",
        Some(MintField::Cause) => "--cause",
        Some(MintField::ExpiresIn) => "--exp-secs",
        Some(MintField::SubjectOrSid) => "--sub/--sid",
    };
    Failure::Input(format!("{flag}: {e}"))
}

fn verify(
    jwks: &str,
    iss: &str,
    aud: &str,
    decrypt_with: Option<&str>,
    sign_alg: Option<&str>,
    leeway_secs: u64,
    at: Option<u64>,
) -> Result<(), Failure> {
    let set = JwkSet::from_json(&read_file(jwks)?).map_err(input(jwks))?;
    let decrypt_key = decrypt_with.map(read_jwk).transpose()?;
    if decrypt_key.as_ref().is_some_and(|k| !k.is_private()) {
        return Err(Failure::Input(
            "--decrypt-with must be a private key".into(),
        ));
    }
    let algs: Vec<JwsAlg> = match sign_alg {
        Some(a) => vec![a.parse().map_err(input("--sign-alg"))?],
        None => JwsAlg::ALL.to_vec(),
    };
    let mut token = String::new();
    std::io::stdin()
        .take(oidc_edge_core::jose::MAX_TOKEN_LEN as u64 + 2)
        .read_to_string(&mut token)
        .map_err(input("stdin"))?;
    let validation = logout_token::LogoutTokenValidation {
        issuer: iss,
        audience: aud,
        jwks: &set,
        algs: &algs,
        decrypt_with: decrypt_key.as_ref(),
        now: at.map_or_else(now, UnixTime),
        leeway_secs,
    };
    match logout_token::verify(&token, &validation, &OsEntropy, None) {
        Ok(claims) => print_json(&Value::Object(claims.claims)),
        Err(e @ LogoutTokenError::Malformed(_)) => Err(Failure::Input(format!("{e}"))),
        Err(e) => Err(Failure::Rejected(format!("rejected ({}): {e}", e.code()))),
    }
}

/// An RP's URI as `send` and `check-rp` take it: absolute http(s), no fragment.
fn rp_url(uri: &str) -> Result<url::Url, Failure> {
    let url = url::Url::parse(uri).map_err(input("URI"))?;
    if !matches!(url.scheme(), "http" | "https") || url.fragment().is_some() {
        return Err(Failure::Input(
            "the URI must be absolute http(s) without a fragment".into(),
        ));
    }
    Ok(url)
}

/// An HTTP client for RPs: no redirects followed, `timeout_ms` per request.
fn rp_client(timeout_ms: u64) -> Result<reqwest::blocking::Client, Failure> {
    reqwest::blocking::Client::builder()
        .timeout(Duration::from_millis(timeout_ms))
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .map_err(input("HTTP client"))
}

fn send(uri: &str, args: &MintArgs, timeout_ms: u64) -> Result<(), Failure> {
    let url = rp_url(uri)?;
    let token = mint(args)?;
    let client = rp_client(timeout_ms)?;
    let resp = client
        .post(url)
        .form(&[("logout_token", token.as_str())])
        .send()
        .map_err(|e| Failure::Rejected(format!("request to {uri} failed: {}", describe(&e))))?;
    let status = resp.status();
    let mut out = format!("HTTP {}\n", status);
    for name in [
        "content-type",
        "cache-control",
        "www-authenticate",
        "retry-after",
        "location",
    ] {
        if let Some(v) = resp.headers().get(name).and_then(|v| v.to_str().ok()) {
            out.push_str(&format!("{name}: {v}\n"));
        }
    }
    let body = resp.text().unwrap_or_default();
    let shown: String = body.chars().take(MAX_BODY_SHOWN).collect();
    out.push('\n');
    out.push_str(&shown);
    println!("{}", out.trim_end());
    if status.as_u16() == 200 || status.as_u16() == 204 {
        Ok(())
    } else {
        Err(Failure::Rejected(format!(
            "{uri} answered HTTP {}",
            status.as_u16()
        )))
    }
}

/// `logout-token check-rp`: core's RP checker ([`check`]) with this process's key, clock and
/// HTTP client.
fn check_rp(args: &CheckRpArgs) -> Result<(), Failure> {
    let url = rp_url(&args.uri)?;
    let (key, recipient) = read_keys(&args.key, args.encrypt_to.as_deref())?;
    // The same defaults and checks as `mint`.
    let request = MintRequest {
        sign_alg: args.sign_alg.clone(),
        encryption_alg: args.alg.clone(),
        enc: args.enc.clone(),
        ..MintRequest::default()
    };
    let alg = request.signing_alg(&key).map_err(mint_failure)?;
    let encryption = request
        .encryption(recipient.as_ref())
        .map_err(mint_failure)?;
    let params = CheckParams {
        issuer: &args.iss,
        audience: &args.aud,
        keys: LogoutTokenKeys {
            signing_key: &key,
            alg,
            encrypt_to: recipient
                .as_ref()
                .zip(encryption)
                .map(|(k, (a, e))| (k, a, e)),
        },
        now: now(),
    };
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .map_err(input("runtime"))?;
    let minted = runtime
        .block_on(check::cases(
            &oidc_edge_core::crypto::RustCrypto,
            &OsEntropy,
            &params,
        ))
        .map_err(input("check-rp"))?;
    let client = rp_client(args.timeout_ms)?;
    let outcomes: Vec<(check::CaseKind, PostOutcome)> = minted
        .cases
        .iter()
        .map(|case| {
            let outcome = match client
                .post(url.clone())
                .header("content-type", "application/x-www-form-urlencoded")
                .body(case.form_body())
                .send()
            {
                Ok(resp) => PostOutcome::Status(resp.status().as_u16()),
                Err(e) if e.is_timeout() => PostOutcome::Timeout,
                Err(e) => PostOutcome::Failed(describe(&e)),
            };
            (case.kind, outcome)
        })
        .collect();
    let report = check::judge(outcomes.iter().map(|(k, o)| (*k, o)));
    let mut out = serde_json::to_value(&report).map_err(input("JSON"))?;
    if let Value::Object(m) = &mut out {
        m.insert("client_id".into(), Value::String(args.aud.clone()));
        m.insert("uri".into(), Value::String(args.uri.clone()));
    }
    print_json(&out)?;
    if report.all_passed() {
        Ok(())
    } else {
        let failed: Vec<&str> = report
            .cases
            .iter()
            .filter(|c| !c.pass)
            .map(|c| c.name)
            .collect();
        Err(Failure::Rejected(format!(
            "{} passed {} of {} cases; failed: {}",
            args.uri,
            report.passed,
            report.total,
            failed.join(", ")
        )))
    }
}

fn describe(e: &reqwest::Error) -> String {
    if e.is_timeout() {
        "timed out".into()
    } else if e.is_connect() {
        format!("could not connect ({})", root_cause(e))
    } else {
        root_cause(e)
    }
}

fn root_cause(e: &dyn std::error::Error) -> String {
    let mut cur = e;
    while let Some(next) = cur.source() {
        cur = next;
    }
    cur.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn serve_args(flags: &[&str]) -> ServeArgs {
        let argv = ["oidc-edge", "serve"].iter().chain(flags);
        match Cli::try_parse_from(argv).unwrap().command {
            Command::Serve(args) => args,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn serve_defaults_are_the_servers() {
        let opts = serve_options(serve_args(&[]));
        let defaults = ServerOptions::default();
        assert_eq!(opts.delivery, defaults.delivery);
        assert_eq!(opts.delivery, DeliveryPolicy::default());
        assert_eq!(opts.sweep_interval, defaults.sweep_interval);
    }

    #[test]
    fn serve_delivery_flags() {
        let opts = serve_options(serve_args(&[
            "--delivery-timeout-ms",
            "250",
            "--retry-max",
            "0",
            "--retry-base-ms",
            "10",
            "--delivery-concurrency",
            "4",
            "--sweep-interval-secs",
            "2",
        ]));
        assert_eq!(
            opts.delivery,
            DeliveryPolicy {
                timeout_ms: 250,
                retry_max: 0,
                retry_base_ms: 10,
                concurrency: 4,
            }
        );
        assert_eq!(opts.sweep_interval, Duration::from_secs(2));
        for bad in [
            ["--delivery-timeout-ms", "0"],
            ["--delivery-concurrency", "0"],
            ["--sweep-interval-secs", "0"],
            ["--retry-base-ms", "0"],
            ["--retry-max", "-1"],
        ] {
            let argv = ["oidc-edge", "serve"].into_iter().chain(bad);
            assert!(Cli::try_parse_from(argv).is_err(), "{bad:?}");
        }
    }
}
