//! Core's host over plain JS objects: the store and the deliverer the embedding gives
//! (`store.rs`, `deliver.rs`), its log, and the web platform's clock, randomness
//! and WebCrypto ([`crate::web`]).
//!
//! [`Deliver`]: `enqueue` is core's store-backed outbox ([`outbox::put`]): durable as soon as
//! the host's store has the deliveries, and the provider runs them afterwards (see
//! `provider.rs`); `post` is the deliverer's.
//!
//! [`outbox::put`]: oidc_edge_core::logout::outbox::put

use std::cell::Cell;
use std::fmt;
use std::rc::Rc;

use js_sys::Function;
use oidc_edge_core::UnixTime;
use oidc_edge_core::host::{
    Clock, Deliver, Entropy, EntropyError, Host, HostConfig, LogEvent, Post, PostOutcome,
    StoreError,
};
use oidc_edge_core::logout::delivery::Delivery;
use oidc_edge_core::logout::outbox;
use wasm_bindgen::prelude::*;

use super::deliver::Poster;
use super::interop::fail;
use super::store::JsStore;
use crate::web::{self, WebCrypto, WebEntropy};

#[wasm_bindgen]
extern "C" {
    #[wasm_bindgen(js_namespace = console, js_name = log)]
    fn console_log(line: &str);
}

/// How the embedding wants log lines.
#[derive(Debug, Clone)]
pub enum Log {
    /// `console.log`.
    Console,
    /// Its own function.
    To(Function),
    /// Not at all.
    Off,
}

impl Log {
    /// The `log` option: absent (`console.log`), a function, or `null`/`false` (off).
    pub fn new(log: JsValue) -> Result<Self, JsValue> {
        if log.is_undefined() {
            Ok(Self::Console)
        } else if log.is_null() || log.as_bool() == Some(false) {
            Ok(Self::Off)
        } else {
            log.dyn_into()
                .map(Self::To)
                .map_err(|_| fail("invalid_config", "log must be a function, null or false"))
        }
    }

    /// Write `line`.
    pub fn write(&self, line: &str) {
        match self {
            Self::Console => console_log(line),
            Self::To(f) => {
                // A throwing logger must not break the provider.
                let _ = f.call1(&JsValue::UNDEFINED, &line.into());
            }
            Self::Off => {}
        }
    }
}

/// The crypto of the standalone `mintLogoutToken` and `generateKey`: WebCrypto, as a
/// `Provider`'s, without a log to tell (where WebCrypto refuses, core's code gives the same
/// result, only slower).
pub fn standalone_crypto() -> WebCrypto {
    WebCrypto::new(|_| {})
}

/// Core's host for a `Provider`.
pub struct JsHost {
    store: JsStore,
    poster: Poster,
    log: Rc<Log>,
    config: HostConfig,
    crypto: WebCrypto,
    /// How many times deliveries were enqueued: the provider runs them when this moves.
    enqueued: Cell<u64>,
}

impl fmt::Debug for JsHost {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("JsHost")
            .field("config", &self.config)
            .field("poster", &self.poster)
            .finish_non_exhaustive()
    }
}

impl JsHost {
    /// A host over `store` and `poster`.
    pub fn new(store: JsStore, poster: Poster, log: Log, config: HostConfig) -> Self {
        let log = Rc::new(log);
        let crypto = WebCrypto::new({
            let log = Rc::clone(&log);
            move |line| log.write(line)
        });
        Self {
            store,
            poster,
            log,
            config,
            crypto,
            enqueued: Cell::new(0),
        }
    }

    /// Write a line of the host's own (its background work) to the log, as core's events go.
    pub fn log_line(&self, line: &str) {
        self.log.write(line);
    }

    /// How many times deliveries were enqueued so far.
    pub fn enqueued(&self) -> u64 {
        self.enqueued.get()
    }
}

oidc_edge_core::store_via!(JsHost => store: JsStore);

impl Clock for JsHost {
    fn now(&self) -> UnixTime {
        UnixTime(web::now_secs())
    }

    fn now_ms(&self) -> u64 {
        web::now_ms()
    }
}

impl Entropy for JsHost {
    fn fill(&self, dest: &mut [u8]) -> Result<(), EntropyError> {
        WebEntropy.fill(dest)
    }
}

impl Deliver for JsHost {
    async fn enqueue(&self, deliveries: Vec<Delivery>) -> Result<(), StoreError> {
        outbox::put(self, &deliveries).await?;
        self.enqueued.set(self.enqueued.get().wrapping_add(1));
        Ok(())
    }

    async fn post(&self, post: Post<'_>) -> PostOutcome {
        self.poster.post(post).await
    }
}

impl Host for JsHost {
    type Crypto = WebCrypto;

    fn config(&self) -> &HostConfig {
        &self.config
    }

    // The costly primitives through WebCrypto, as the Workers host does (core's pure-Rust RSA
    // in wasm costs tens of milliseconds per signature).
    fn crypto(&self) -> &WebCrypto {
        &self.crypto
    }

    fn log(&self, event: &LogEvent<'_>) {
        self.log.write(&event.to_string());
    }
}
