//! Start-up and serving: [`bind`] prepares the store and the secrets, binds the socket and
//! seeds the demo realm, so that everything that can fail at start-up fails before anything is
//! served; [`BoundServer::run`] then accepts connections ([`super::http`]) and runs the
//! background tasks beside them on the same [`LocalSet`]: the delivery worker
//! ([`super::deliver`]), the session sweep and the purge of expired store entries
//! (`tasks.rs`). At most [`ServerOptions::max_connections`] connections are served at
//! once.

use std::fmt;
use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::rc::Rc;
use std::sync::Arc;
use std::time::Duration;

use oidc_edge_core::host::{Host as _, HostConfig};
use oidc_edge_core::host_config::parse_master_key;
use oidc_edge_core::provider;
use tokio::net::TcpListener;
use tokio::sync::{Semaphore, mpsc};
use tokio::task::LocalSet;

use super::config::{
    ADMIN_TOKEN_FILE, Limits, MASTER_KEY_FILE, STORE_FILE, SecretSource, ServerOptions, base_url,
    check_admin_token, check_delivery, check_limits, create_private_file, default_base_url,
    file_secret, invalid, prepare_data_dir, random, random_b64, with_path,
};
use super::deliver::delivery_worker;
use super::host::{NativeHost, log};
use super::http::{serve_connection, serve_metrics};
use super::store::{MemStore, NativeStore, RedbStore};
use super::tasks::{SweepRequest, purge_loop, sweep_loop};

/// A server whose socket is bound and whose host is ready; [`run`](Self::run) it.
pub struct BoundServer {
    listener: TcpListener,
    metrics_listener: Option<TcpListener>,
    pub(super) local_addr: SocketAddr,
    host: Rc<NativeHost>,
    pub(super) data: Option<PathBuf>,
    pub(super) admin_token_source: SecretSource,
    pub(super) master_key_source: SecretSource,
    pub(super) demo: bool,
    pub(super) base_url_defaulted: bool,
    pub(super) sweep_interval: Duration,
    limits: Limits,
    pub(super) sweep_requests: mpsc::UnboundedSender<SweepRequest>,
    sweep_requests_rx: mpsc::UnboundedReceiver<SweepRequest>,
}

impl fmt::Debug for BoundServer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BoundServer")
            .field("local_addr", &self.local_addr)
            .field("host", &self.host)
            .field("admin_token_source", &self.admin_token_source)
            .field("master_key_source", &self.master_key_source)
            .finish_non_exhaustive()
    }
}

/// Prepare the store and the secrets, bind the socket, seed the demo realm if asked: everything
/// that can fail at start-up fails here, before anything is served.
pub async fn bind(opts: ServerOptions) -> io::Result<BoundServer> {
    if let Some(token) = &opts.admin_token {
        check_admin_token(token)?;
    }
    check_delivery(&opts.delivery, opts.sweep_interval)?;
    let limits = check_limits(&opts)?;
    let base_url = opts.base_url.as_deref().map(base_url).transpose()?;
    let store = match &opts.data {
        Some(dir) => {
            prepare_data_dir(dir)?;
            let path = dir.join(STORE_FILE);
            create_private_file(&path)?;
            NativeStore::Redb(
                RedbStore::open(&path, opts.clock.clone()).map_err(|e| io::Error::other(e.0))?,
            )
        }
        None => NativeStore::Mem(MemStore::new(opts.clock.clone())),
    };
    // Bind before generating secrets: a start that fails on a busy port writes nothing.
    let listener = TcpListener::bind(opts.addr)
        .await
        .map_err(|e| io::Error::new(e.kind(), format!("cannot listen on {}: {e}", opts.addr)))?;
    let local_addr = listener.local_addr()?;
    let metrics_listener = match opts.metrics_addr {
        Some(addr) => Some(TcpListener::bind(addr).await.map_err(|e| {
            io::Error::new(
                e.kind(),
                format!("cannot listen on {addr} for metrics: {e}"),
            )
        })?),
        None => None,
    };

    let (master_key, master_key_source) = match (opts.master_key, &opts.data) {
        (Some(key), _) => (key, SecretSource::Given),
        (None, Some(dir)) => {
            let (text, source) = file_secret(&dir.join(MASTER_KEY_FILE), || random_b64(32))?;
            let key = parse_master_key(&text)
                .map_err(|e| invalid(format!("{}: {e}", dir.join(MASTER_KEY_FILE).display())))?;
            (key, source)
        }
        (None, None) => (random::<32>()?, SecretSource::Ephemeral),
    };
    let (admin_token, admin_token_source) = match (opts.admin_token, &opts.data) {
        (Some(token), _) => (token, SecretSource::Given),
        (None, Some(dir)) => {
            let path = dir.join(ADMIN_TOKEN_FILE);
            let (token, source) = file_secret(&path, || random_b64(32))?;
            check_admin_token(&token).map_err(|e| with_path(&path, &e))?;
            (token, source)
        }
        (None, None) => (random_b64(32)?, SecretSource::Ephemeral),
    };

    let base_url_defaulted = base_url.is_none();
    let base_url = base_url.unwrap_or_else(|| default_base_url(local_addr));
    let config = HostConfig {
        base_url,
        admin_token,
        master_key,
        delivery: opts.delivery,
    };
    let host = Rc::new(NativeHost::new(store, config, opts.clock)?);
    if opts.demo {
        provider::seed_demo(&*host)
            .await
            .map_err(|e| io::Error::other(format!("seeding the demo realm: {e}")))?;
    }
    let (sweep_requests, sweep_requests_rx) = mpsc::unbounded_channel();
    Ok(BoundServer {
        listener,
        metrics_listener,
        local_addr,
        host,
        data: opts.data,
        admin_token_source,
        master_key_source,
        demo: opts.demo,
        base_url_defaulted,
        sweep_interval: opts.sweep_interval,
        limits,
        sweep_requests,
        sweep_requests_rx,
    })
}

impl BoundServer {
    /// The address the server listens on (with the actual port when 0 was asked for).
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// The public base URL, without a trailing slash.
    pub fn base_url(&self) -> &str {
        &self.host.config().base_url
    }

    /// The admin API's bearer token.
    pub fn admin_token(&self) -> &str {
        &self.host.config().admin_token
    }

    /// The host the provider runs on.
    pub fn host(&self) -> &NativeHost {
        &self.host
    }

    /// Serve until the process ends.
    pub async fn run(self) -> io::Result<()> {
        self.run_until(std::future::pending()).await
    }

    /// Serve until `shutdown` completes; then stop accepting and drop open connections.
    /// Runs its own [`LocalSet`], so any current-thread runtime can drive it.
    pub async fn run_until(self, shutdown: impl Future<Output = ()>) -> io::Result<()> {
        LocalSet::new().run_until(self.accept_loop(shutdown)).await
    }

    /// Where `GET /metrics` is served without the token (`--metrics-addr`), if anywhere.
    pub fn metrics_addr(&self) -> Option<SocketAddr> {
        self.metrics_listener
            .as_ref()
            .and_then(|l| l.local_addr().ok())
    }

    async fn accept_loop(mut self, shutdown: impl Future<Output = ()>) -> io::Result<()> {
        let metrics = self
            .metrics_listener
            .take()
            .map(|l| tokio::task::spawn_local(serve_metrics(l, Rc::clone(&self.host))));
        let workers = [
            tokio::task::spawn_local(purge_loop(Rc::clone(&self.host))),
            tokio::task::spawn_local(delivery_worker(Rc::clone(&self.host))),
            tokio::task::spawn_local(sweep_loop(
                Rc::clone(&self.host),
                self.sweep_interval,
                self.sweep_requests_rx,
            )),
        ];
        tokio::pin!(shutdown);
        // One permit per connection being served; at the cap, nothing is accepted until one
        // ends, and new connections wait in the listen backlog.
        let slots = Arc::new(Semaphore::new(self.limits.max_connections));
        loop {
            let slot = tokio::select! {
                () = &mut shutdown => break,
                slot = Arc::clone(&slots).acquire_owned() => match slot {
                    Ok(slot) => slot,
                    // Never closed; if it were, serving would be over anyway.
                    Err(_) => break,
                },
            };
            tokio::select! {
                () = &mut shutdown => break,
                accepted = self.listener.accept() => match accepted {
                    Ok((stream, _peer)) => {
                        let host = Rc::clone(&self.host);
                        let limits = self.limits;
                        tokio::task::spawn_local(async move {
                            serve_connection(stream, host, limits).await;
                            drop(slot);
                        });
                    }
                    Err(e) => {
                        // Out of file descriptors and the like: wait a little, then go on.
                        log(format_args!("accept failed: {e}"));
                        tokio::time::sleep(Duration::from_millis(100)).await;
                    }
                },
            }
        }
        for worker in workers {
            worker.abort();
        }
        if let Some(m) = metrics {
            m.abort();
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bind_now(opts: ServerOptions) -> io::Result<BoundServer> {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap()
            .block_on(bind(opts))
    }

    #[test]
    fn data_dir_secrets_are_generated_once_then_reused() {
        let dir = tempfile::tempdir().unwrap();
        let opts = ServerOptions {
            addr: "127.0.0.1:0".parse().unwrap(),
            data: Some(dir.path().join("nested")),
            ..ServerOptions::default()
        };
        let (token, banner) = {
            let first = bind_now(opts.clone()).unwrap();
            let token = first.admin_token().to_owned();
            assert_eq!(token.len(), 43);
            assert!(matches!(
                first.admin_token_source,
                SecretSource::Generated(_)
            ));
            assert!(matches!(
                first.master_key_source,
                SecretSource::Generated(_)
            ));
            assert!(first.banner().contains(&token), "shown when generated");
            (token, first.banner())
        };
        assert!(banner.contains("store.redb"));
        #[cfg(unix)]
        for f in [ADMIN_TOKEN_FILE, MASTER_KEY_FILE, STORE_FILE] {
            use std::os::unix::fs::PermissionsExt as _;
            let mode = std::fs::metadata(dir.path().join("nested").join(f))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600, "{f}");
        }
        let second = bind_now(opts.clone()).unwrap();
        assert_eq!(second.admin_token(), token);
        assert!(matches!(second.admin_token_source, SecretSource::File(_)));
        assert!(!second.banner().contains(&token), "not shown again");
        drop(second);

        // Given secrets win over the files; a malformed key file is an error.
        let given = bind_now(ServerOptions {
            admin_token: Some("given-admin-token-1234".into()),
            ..opts.clone()
        })
        .unwrap();
        assert_eq!(given.admin_token(), "given-admin-token-1234");
        drop(given);
        std::fs::write(dir.path().join("nested").join(MASTER_KEY_FILE), "short").unwrap();
        let err = bind_now(opts).unwrap_err();
        assert!(err.to_string().contains(MASTER_KEY_FILE), "{err}");
    }

    #[test]
    fn unusable_data_dir_and_bad_options_fail_at_bind() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path()).unwrap();
        let file = dir.path().join("a-file");
        std::fs::write(&file, "x").unwrap();
        let opts = ServerOptions {
            addr: "127.0.0.1:0".parse().unwrap(),
            data: Some(file.join("sub")),
            ..ServerOptions::default()
        };
        assert!(bind_now(opts.clone()).is_err());
        assert!(
            bind_now(ServerOptions {
                data: None,
                base_url: Some("ftp://x".into()),
                ..opts.clone()
            })
            .is_err()
        );
        // The admin token: core's rules, whether given, from the environment or from a file.
        for token in [
            "has space",
            "short-token",
            "replace-with-16-or-more-printable-characters",
        ] {
            assert!(
                bind_now(ServerOptions {
                    data: None,
                    admin_token: Some(token.into()),
                    ..opts.clone()
                })
                .is_err(),
                "{token}"
            );
        }
        let data = dir.path().join("placeholder");
        prepare_data_dir(&data).unwrap();
        std::fs::write(
            data.join(ADMIN_TOKEN_FILE),
            "replace-with-16-or-more-printable-characters\n",
        )
        .unwrap();
        let err = bind_now(ServerOptions {
            data: Some(data),
            ..opts
        })
        .unwrap_err();
        assert!(err.to_string().contains("placeholder"), "{err}");
    }
}
