//! How the native server is configured: [`ServerOptions`] (the flags of `oidc-edge serve`),
//! its secrets (from the environment, from the data directory, or generated into it) and the
//! data directory itself. The rules the settings meet are core's
//! ([`oidc_edge_core::host_config`]); this module only says where each setting comes from.

use std::fmt;
use std::io::{self, Write as _};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::time::Duration;

use oidc_edge_core::host::Entropy as _;
use oidc_edge_core::host_config::{
    check_admin_token as core_check_admin_token, check_delivery_policy, normalize_base_url,
    parse_master_key,
};
use oidc_edge_core::jose::b64;
use oidc_edge_core::logout::delivery::DeliveryPolicy;

use super::{NativeClock, OsEntropy};

/// The environment variable holding the admin API's bearer token.
pub const ADMIN_TOKEN_ENV: &str = "OIDC_EDGE_ADMIN_TOKEN";
/// The environment variable holding the master key (base64url of 32 bytes).
pub const MASTER_KEY_ENV: &str = "OIDC_EDGE_MASTER_KEY";
/// The admin token's file in the data directory, when generated.
pub const ADMIN_TOKEN_FILE: &str = "admin-token";
/// The master key's file in the data directory, when generated.
pub const MASTER_KEY_FILE: &str = "master.key";
/// The database file in the data directory.
pub const STORE_FILE: &str = "store.redb";

/// The default of [`ServerOptions::read_timeout`].
pub const DEFAULT_READ_TIMEOUT: Duration = Duration::from_secs(30);
/// The default of [`ServerOptions::max_connections`].
pub const DEFAULT_MAX_CONNECTIONS: usize = 1024;
/// How to run the server: the flags of `oidc-edge serve`, plus the secrets the command line
/// takes from the environment ([`ServerOptions::secrets_from_env`]).
#[derive(Clone)]
pub struct ServerOptions {
    /// Where to listen; port 0 picks a free port.
    pub addr: SocketAddr,
    /// The public base URL; default `http://{addr}` (the issuer of realm R is
    /// `{base_url}/realms/{R}`).
    pub base_url: Option<String>,
    /// The data directory; `None` keeps everything in memory.
    pub data: Option<PathBuf>,
    /// Provision realm `demo` (open registration, user `demo` / `changeit`).
    pub demo: bool,
    /// The admin API's bearer token; default from, or generated into, the data directory.
    pub admin_token: Option<String>,
    /// The key that seals signing keys at rest; default from, or generated into, the data
    /// directory.
    pub master_key: Option<[u8; 32]>,
    /// The clock; tests use a manual one or advance this one.
    pub clock: NativeClock,
    /// Back-channel delivery: per-request timeout, retries, backoff base, concurrency
    /// (`--delivery-timeout-ms`, `--retry-max`, `--retry-base-ms`, `--delivery-concurrency`).
    pub delivery: DeliveryPolicy,
    /// How often expired sessions are looked for (`--sweep-interval-secs`); real time, also
    /// with a manual clock. Tests can also sweep at once
    /// (`RunningServer::sweep_now`).
    pub sweep_interval: Duration,
    /// Time a client has to send a request's head, and again its body
    /// (`--read-timeout-secs`). The head's clock also runs while a kept-alive connection
    /// waits for its next request, so an idle or trickling client is closed within it.
    pub read_timeout: Duration,
    /// Connections served at once (`--max-connections`). Beyond it the server stops
    /// accepting: new connections wait in the listen backlog (the kernel's queue) until one
    /// closes, which [`read_timeout`](Self::read_timeout) bounds for idle ones.
    pub max_connections: usize,
    /// Where to serve `GET /metrics` without the admin token (`--metrics-addr`); on the main
    /// listener it always needs the token.
    pub metrics_addr: Option<SocketAddr>,
}

/// The default of [`ServerOptions::sweep_interval`].
pub const DEFAULT_SWEEP_INTERVAL: Duration = Duration::from_secs(30);

impl Default for ServerOptions {
    /// `127.0.0.1:8787`, in memory, no demo, generated secrets, the system clock, the default
    /// delivery policy, a sweep every 30 s, 30 s to read a request's head and its body, 1024
    /// connections at once.
    fn default() -> Self {
        Self {
            addr: SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), 8787),
            base_url: None,
            data: None,
            demo: false,
            admin_token: None,
            master_key: None,
            clock: NativeClock::system(),
            delivery: DeliveryPolicy::default(),
            sweep_interval: DEFAULT_SWEEP_INTERVAL,
            read_timeout: DEFAULT_READ_TIMEOUT,
            max_connections: DEFAULT_MAX_CONNECTIONS,
            metrics_addr: None,
        }
    }
}

impl fmt::Debug for ServerOptions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ServerOptions")
            .field("addr", &self.addr)
            .field("base_url", &self.base_url)
            .field("data", &self.data)
            .field("demo", &self.demo)
            .field(
                "admin_token",
                &self.admin_token.as_ref().map(|_| "[redacted]"),
            )
            .field(
                "master_key",
                &self.master_key.as_ref().map(|_| "[redacted]"),
            )
            .field("clock", &self.clock)
            .field("delivery", &self.delivery)
            .field("sweep_interval", &self.sweep_interval)
            .field("read_timeout", &self.read_timeout)
            .field("max_connections", &self.max_connections)
            .finish()
    }
}

impl ServerOptions {
    /// Take the admin token from [`ADMIN_TOKEN_ENV`] and the master key from
    /// [`MASTER_KEY_ENV`] where they are set (and not already given). A set but empty, short,
    /// malformed or placeholder value is an error, never silently replaced by a generated one.
    pub fn secrets_from_env(mut self) -> io::Result<Self> {
        if self.admin_token.is_none()
            && let Some(token) = env_var(ADMIN_TOKEN_ENV)?
        {
            core_check_admin_token(&token)
                .map_err(|e| invalid(format!("{ADMIN_TOKEN_ENV}: {e}")))?;
            self.admin_token = Some(token);
        }
        if self.master_key.is_none()
            && let Some(key) = env_var(MASTER_KEY_ENV)?
        {
            self.master_key = Some(
                parse_master_key(&key).map_err(|e| invalid(format!("{MASTER_KEY_ENV}: {e}")))?,
            );
        }
        Ok(self)
    }
}

fn env_var(name: &str) -> io::Result<Option<String>> {
    match std::env::var(name) {
        Ok(v) => Ok(Some(v)),
        Err(std::env::VarError::NotPresent) => Ok(None),
        Err(std::env::VarError::NotUnicode(_)) => Err(invalid(format!("{name} is not UTF-8"))),
    }
}

pub(super) fn invalid(msg: String) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidInput, msg)
}

pub(super) fn with_path(path: &Path, e: &io::Error) -> io::Error {
    io::Error::new(e.kind(), format!("{}: {e}", path.display()))
}

/// Where a secret came from, for the start-up banner.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SecretSource {
    /// Given by the caller (from the environment, on the command line).
    Given,
    /// Read from this file in the data directory.
    File(PathBuf),
    /// Generated now and saved to this file.
    Generated(PathBuf),
    /// Generated now, kept in memory only.
    Ephemeral,
}

/// What bounds a client's hold on the server (see [`ServerOptions`]).
#[derive(Clone, Copy, Debug)]
pub(super) struct Limits {
    pub(super) read_timeout: Duration,
    pub(super) max_connections: usize,
}

/// Limits that would stop the server from serving anyone: refused at start.
pub(super) fn check_limits(opts: &ServerOptions) -> io::Result<Limits> {
    if opts.read_timeout.is_zero() {
        return Err(invalid("the read timeout must not be zero".into()));
    }
    if opts.max_connections == 0 {
        return Err(invalid("at least one connection must be allowed".into()));
    }
    Ok(Limits {
        read_timeout: opts.read_timeout,
        max_connections: opts.max_connections,
    })
}

/// Settings that would make the delivery worker spin or never send, or the sweep never stop:
/// refused at start (the delivery policy by core's rule).
pub(super) fn check_delivery(policy: &DeliveryPolicy, sweep_interval: Duration) -> io::Result<()> {
    check_delivery_policy(policy).map_err(|e| invalid(e.to_string()))?;
    if sweep_interval.is_zero() {
        return Err(invalid("the sweep interval must not be zero".into()));
    }
    Ok(())
}

/// Core's rules for an admin token, as a start-up error.
pub(super) fn check_admin_token(token: &str) -> io::Result<()> {
    core_check_admin_token(token).map_err(|e| invalid(format!("the admin token: {e}")))
}

/// A base URL as given by `--base-url`, by core's rule ([`normalize_base_url`]).
pub(super) fn base_url(s: &str) -> io::Result<String> {
    normalize_base_url(s).map_err(|why| invalid(format!("--base-url {s:?}: {why}")))
}

/// `http://{addr}`, with loopback for an unspecified address (clients cannot use `0.0.0.0`).
pub(super) fn default_base_url(addr: SocketAddr) -> String {
    let ip = match addr.ip() {
        IpAddr::V4(ip) if ip.is_unspecified() => IpAddr::V4(Ipv4Addr::LOCALHOST),
        IpAddr::V6(ip) if ip.is_unspecified() => IpAddr::V6(Ipv6Addr::LOCALHOST),
        ip => ip,
    };
    format!("http://{}", SocketAddr::new(ip, addr.port()))
}

/// Create the data directory (owner-only on Unix) if needed, and check it is one.
pub(super) fn prepare_data_dir(dir: &Path) -> io::Result<()> {
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder
        .create(dir)
        .map_err(|e| io::Error::new(e.kind(), format!("data directory {}: {e}", dir.display())))?;
    if !dir.is_dir() {
        return Err(invalid(format!(
            "data directory {}: not a directory",
            dir.display()
        )));
    }
    Ok(())
}

/// Create `path` empty and owner-only unless it exists (redb initializes an empty file), so
/// the store is private whatever the directory's mode.
pub(super) fn create_private_file(path: &Path) -> io::Result<()> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(false);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    options
        .open(path)
        .map(drop)
        .map_err(|e| with_path(path, &e))
}

/// The secret in `path`, or a fresh one from `generate` written there (owner-only).
pub(super) fn file_secret(
    path: &Path,
    generate: impl FnOnce() -> io::Result<String>,
) -> io::Result<(String, SecretSource)> {
    match std::fs::read_to_string(path) {
        Ok(text) => return Ok((text.trim().to_owned(), SecretSource::File(path.to_owned()))),
        Err(e) if e.kind() == io::ErrorKind::NotFound => {}
        Err(e) => return Err(with_path(path, &e)),
    }
    let secret = generate()?;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options.open(path).map_err(|e| with_path(path, &e))?;
    file.write_all(format!("{secret}\n").as_bytes())
        .and_then(|()| file.sync_all())
        .map_err(|e| with_path(path, &e))?;
    Ok((secret, SecretSource::Generated(path.to_owned())))
}

pub(super) fn random<const N: usize>() -> io::Result<[u8; N]> {
    let mut out = [0u8; N];
    OsEntropy
        .fill(&mut out)
        .map_err(|e| io::Error::other(e.to_string()))?;
    Ok(out)
}

pub(super) fn random_b64(len: usize) -> io::Result<String> {
    let mut out = vec![0u8; len];
    OsEntropy
        .fill(&mut out)
        .map_err(|e| io::Error::other(e.to_string()))?;
    Ok(b64::encode(out))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base_urls() {
        assert_eq!(
            base_url("https://ID.example/").unwrap(),
            "https://id.example"
        );
        let err = base_url("ftp://id.example").unwrap_err().to_string();
        assert!(
            err.starts_with("--base-url \"ftp://id.example\": "),
            "{err}"
        );
        assert_eq!(
            default_base_url("0.0.0.0:8787".parse().unwrap()),
            "http://127.0.0.1:8787"
        );
        assert_eq!(
            default_base_url("[::]:80".parse().unwrap()),
            "http://[::1]:80"
        );
        assert_eq!(
            default_base_url("127.0.0.1:1".parse().unwrap()),
            "http://127.0.0.1:1"
        );
    }
}
