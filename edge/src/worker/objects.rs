//! The realm's strongly consistent store: one Durable Object per realm (binding
//! `REALM_STATE`, class [`RealmState`]) keeps what core names strong ([`keys::STRONG`]:
//! sessions and their indexes, codes, refresh tokens, revocations), and its alarm is the timer
//! core asks for ([`Host::wake_at`](oidc_edge_core::host::Host::wake_at)).
//!
//! The object decides nothing about the protocol. It offers core's [`Store`] operations, each
//! one request and each atomic (only storage awaits happen inside one, so the object's input
//! gate keeps other requests out: a [`Store::swap`] compares and writes as one step), plus
//! "wake me at T". This file is its storage and the worker's side of it; the class and its
//! alarm are [`super::realm_state`].
//!
//! Storage layout inside an object: `d/{key}` the entries (value base64url, expiry in Unix
//! seconds on core's clock), `x/{expiry}/{key}` their expiry index (purged at each alarm),
//! `w/{at}/{session id}` the wakes asked for, `meta/realm` its realm's name.

use oidc_edge_core::host::{ListPage, Page, Store, StoreError};
use oidc_edge_core::jose::b64;
use serde::{Deserialize, Serialize};
use worker::{ListOptions, Method, ObjectNamespace, Request, RequestInit, ScheduledTime, Storage};

/// The Durable Object namespace binding.
pub const BINDING: &str = "REALM_STATE";

/// One entry as an object keeps it.
#[derive(Debug, Serialize, Deserialize)]
struct Entry {
    /// The value, base64url.
    v: String,
    /// When it expires (Unix seconds), if ever.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    e: Option<u64>,
}

/// One operation on a realm's object, as the worker sends it (the fields are those of the
/// [`Store`] method of the same name; values base64url).
#[derive(Debug, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
#[allow(missing_docs)]
pub enum Op {
    /// [`Store::get`].
    Get { key: String },
    /// [`Store::put`]; the value base64url.
    Put {
        key: String,
        value: String,
        ttl: Option<u64>,
    },
    /// [`Store::delete`].
    Delete { key: String },
    /// [`Store::list`].
    List {
        prefix: String,
        cursor: Option<String>,
        start: Option<String>,
        limit: usize,
    },
    /// [`Store::swap`]; the values base64url.
    Swap {
        key: String,
        expected: Option<String>,
        new: Option<String>,
        ttl: Option<u64>,
    },
    /// Wake at `at` (Unix seconds) for session `id`.
    Wake { id: String, at: u64 },
}

/// An operation with its context: the realm (the object's name) and core's clock.
#[derive(Debug, Serialize, Deserialize)]
pub struct Call {
    /// The realm.
    pub realm: String,
    /// Now on core's clock (Unix seconds): expiry is judged by it.
    pub now: u64,
    /// What to do.
    #[serde(flatten)]
    pub op: Op,
}

/// What an operation answers.
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct Answer {
    /// [`Op::Get`]: the value, base64url.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<String>,
    /// [`Op::List`]: the keys.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub keys: Option<Vec<String>>,
    /// [`Op::List`]: where the next page starts.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cursor: Option<String>,
    /// [`Op::Swap`]: whether it swapped.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub swapped: Option<bool>,
}

fn store_error(what: &str, e: &worker::Error) -> StoreError {
    StoreError(format!("realm state {what}: {e}"))
}

fn live(e: Option<u64>, now: u64) -> bool {
    e.is_none_or(|e| now < e)
}

fn decode(v: &str) -> Result<Vec<u8>, StoreError> {
    b64::decode(v).map_err(|_| StoreError("realm state: a value is not base64url".into()))
}

/// One object's storage, operated on directly (inside the object).
#[derive(Clone)]
pub struct Objects {
    storage: std::rc::Rc<Storage>,
}

impl std::fmt::Debug for Objects {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Objects").finish_non_exhaustive()
    }
}

/// Where an object keeps its realm's name (the alarm needs it).
const REALM_KEY: &str = "meta/realm";

impl Objects {
    /// The storage of the object this runs in.
    pub fn new(storage: Storage) -> Self {
        Self {
            storage: std::rc::Rc::new(storage),
        }
    }

    async fn entry(&self, key: &str, now: u64) -> Result<Option<Entry>, StoreError> {
        let d = format!("d/{key}");
        let entry: Option<Entry> = self
            .storage
            .get(&d)
            .await
            .map_err(|e| store_error("get", &e))?;
        match entry {
            Some(e) if live(e.e, now) => Ok(Some(e)),
            Some(_) => {
                self.storage
                    .delete(&d)
                    .await
                    .map_err(|e| store_error("delete", &e))?;
                Ok(None)
            }
            None => Ok(None),
        }
    }

    async fn get(&self, key: &str, now: u64) -> Result<Option<Vec<u8>>, StoreError> {
        self.entry(key, now)
            .await?
            .map(|e| decode(&e.v))
            .transpose()
    }

    async fn put(
        &self,
        key: &str,
        value: &[u8],
        ttl: Option<u64>,
        now: u64,
    ) -> Result<(), StoreError> {
        let e = ttl.map(|t| now.saturating_add(t));
        self.storage
            .put(
                &format!("d/{key}"),
                Entry {
                    v: b64::encode(value),
                    e,
                },
            )
            .await
            .map_err(|e| store_error("put", &e))?;
        if let Some(e) = e {
            self.storage
                .put(&format!("x/{e:012}/{key}"), true)
                .await
                .map_err(|e| store_error("put", &e))?;
        }
        Ok(())
    }

    async fn delete(&self, key: &str) -> Result<(), StoreError> {
        self.storage
            .delete(&format!("d/{key}"))
            .await
            .map(drop)
            .map_err(|e| store_error("delete", &e))
    }

    /// Keys under `prefix` of storage (its own prefix included), in order, with values.
    async fn raw_list(
        &self,
        prefix: &str,
        start: &str,
        limit: usize,
    ) -> Result<Vec<(String, wasm_bindgen::JsValue)>, StoreError> {
        let opts = ListOptions::new().prefix(prefix).start(start).limit(limit);
        let map = self
            .storage
            .list_with_options(opts)
            .await
            .map_err(|e| store_error("list", &e))?;
        let mut out = Vec::new();
        for item in map.entries() {
            let Ok(pair) = item else { continue };
            let pair = js_sys::Array::from(&pair);
            if let Some(k) = pair.get(0).as_string() {
                out.push((k, pair.get(1)));
            }
        }
        Ok(out)
    }

    async fn list(&self, prefix: &str, page: Page<'_>, now: u64) -> Result<ListPage, StoreError> {
        let dp = format!("d/{prefix}");
        let mut start = dp.clone();
        if let Some(s) = page.start {
            start = start.max(format!("d/{s}"));
        }
        if let Some(c) = page.cursor {
            start = start.max(format!("d/{c}\u{0}"));
        }
        let limit = page.limit.clamp(1, 1000);
        let raw = self.raw_list(&dp, &start, limit).await?;
        let full = raw.len() == limit;
        let cursor = if full {
            raw.last().map(|(k, _)| k[2..].to_owned())
        } else {
            None
        };
        let keys = raw
            .into_iter()
            .filter(|(_, v)| {
                serde_wasm_bindgen::from_value::<Entry>(v.clone()).is_ok_and(|e| live(e.e, now))
            })
            .map(|(k, _)| k[2..].to_owned())
            .collect();
        Ok(ListPage { keys, cursor })
    }

    async fn swap(
        &self,
        key: &str,
        expected: Option<&[u8]>,
        new: Option<&[u8]>,
        ttl: Option<u64>,
        now: u64,
    ) -> Result<bool, StoreError> {
        // Only storage awaits from here to the write: the input gate holds other requests.
        if self.get(key, now).await?.as_deref() != expected {
            return Ok(false);
        }
        match new {
            Some(v) => self.put(key, v, ttl, now).await?,
            None => self.delete(key).await?,
        }
        Ok(true)
    }

    /// Keep a wake for session `id` at `at`, and set the alarm to it when it is the earliest.
    async fn wake(&self, realm: &str, id: &str, at: u64) -> Result<(), StoreError> {
        let known: Option<String> = self
            .storage
            .get(REALM_KEY)
            .await
            .map_err(|e| store_error("get", &e))?;
        if known.as_deref() != Some(realm) {
            self.storage
                .put(REALM_KEY, realm)
                .await
                .map_err(|e| store_error("put", &e))?;
        }
        self.storage
            .put(&format!("w/{at:012}/{id}"), true)
            .await
            .map_err(|e| store_error("put", &e))?;
        let at_ms = i64::try_from(at.saturating_mul(1000)).unwrap_or(i64::MAX);
        let alarm = self
            .storage
            .get_alarm()
            .await
            .map_err(|e| store_error("get_alarm", &e))?;
        if alarm.is_none_or(|a| a > at_ms) {
            self.set_alarm(at_ms).await?;
        }
        Ok(())
    }

    /// Set the alarm to `at_ms` (ms since the epoch).
    pub async fn set_alarm(&self, at_ms: i64) -> Result<(), StoreError> {
        let date = js_sys::Date::new(&wasm_bindgen::JsValue::from_f64(at_ms as f64));
        self.storage
            .set_alarm(ScheduledTime::new(date))
            .await
            .map_err(|e| store_error("set_alarm", &e))
    }

    /// The realm this object holds, once a wake has named it.
    pub async fn realm(&self) -> Result<Option<String>, StoreError> {
        self.storage
            .get(REALM_KEY)
            .await
            .map_err(|e| store_error("get", &e))
    }

    /// Forget a wake (its key, from [`Objects::due_wakes`]).
    pub async fn forget_wake(&self, key: &str) -> Result<(), StoreError> {
        self.storage
            .delete(key)
            .await
            .map(drop)
            .map_err(|e| store_error("delete", &e))
    }

    /// Keep a wake again (its key, as [`Objects::due_wakes`] gave it).
    pub async fn keep_wake(&self, key: &str) -> Result<(), StoreError> {
        self.storage
            .put(key, true)
            .await
            .map_err(|e| store_error("put", &e))
    }

    /// The earliest wake kept (Unix seconds).
    pub async fn next_wake(&self) -> Result<Option<u64>, StoreError> {
        Ok(self
            .raw_list("w/", "w/", 1)
            .await?
            .first()
            .and_then(|(k, _)| k.strip_prefix("w/")?.split_once('/')?.0.parse().ok()))
    }

    /// Run one operation.
    pub async fn run(&self, call: Call) -> Result<Answer, StoreError> {
        let now = call.now;
        let mut answer = Answer::default();
        match call.op {
            Op::Get { key } => answer.value = self.get(&key, now).await?.map(b64::encode),
            Op::Put { key, value, ttl } => self.put(&key, &decode(&value)?, ttl, now).await?,
            Op::Delete { key } => self.delete(&key).await?,
            Op::List {
                prefix,
                cursor,
                start,
                limit,
            } => {
                let mut page = Page::after(cursor.as_deref(), limit);
                if let Some(s) = start.as_deref() {
                    page = page.starting_at(s);
                }
                let listed = self.list(&prefix, page, now).await?;
                answer.keys = Some(listed.keys);
                answer.cursor = listed.cursor;
            }
            Op::Swap {
                key,
                expected,
                new,
                ttl,
            } => {
                let expected = expected.as_deref().map(decode).transpose()?;
                let new = new.as_deref().map(decode).transpose()?;
                let swapped = self
                    .swap(&key, expected.as_deref(), new.as_deref(), ttl, now)
                    .await?;
                answer.swapped = Some(swapped);
            }
            Op::Wake { id, at } => self.wake(&call.realm, &id, at).await?,
        }
        Ok(answer)
    }

    /// The wakes due by `now_ms` (real time), at most 100: (their key, the session id).
    pub async fn due_wakes(&self, now_ms: u64) -> Result<Vec<(String, String)>, StoreError> {
        let raw = self.raw_list("w/", "w/", 100).await?;
        Ok(raw
            .into_iter()
            .filter_map(|(k, _)| {
                let (at, id) = k.strip_prefix("w/")?.split_once('/')?;
                let at: u64 = at.parse().ok()?;
                (at.saturating_mul(1000) <= now_ms).then(|| (k.clone(), id.to_owned()))
            })
            .collect())
    }

    /// Drop the entries whose expiry (core's clock) has passed.
    pub async fn purge_expired(&self, now: u64) -> Result<(), StoreError> {
        for (k, _) in self.raw_list("x/", "x/", 200).await? {
            let Some((at, key)) = k.strip_prefix("x/").and_then(|r| r.split_once('/')) else {
                continue;
            };
            if at.parse::<u64>().is_ok_and(|at| at > now) {
                break;
            }
            // Only if it is still expired: it may have been written again since.
            self.entry(key, now).await?;
            self.storage
                .delete(&k)
                .await
                .map_err(|e| store_error("delete", &e))?;
        }
        Ok(())
    }
}

/// The worker's side: each operation one request to the realm's object.
#[derive(Clone)]
pub struct Stubs {
    ns: ObjectNamespace,
}

impl std::fmt::Debug for Stubs {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Stubs").finish_non_exhaustive()
    }
}

impl Stubs {
    /// The namespace binding.
    pub fn new(ns: ObjectNamespace) -> Self {
        Self { ns }
    }

    /// Run `call` in its realm's object.
    pub async fn run(&self, call: &Call) -> Result<Answer, StoreError> {
        let fail = |e: worker::Error| store_error("call", &e);
        let stub = self.ns.get_by_name(&call.realm).map_err(fail)?;
        let body = serde_json::to_string(call).map_err(|e| StoreError(e.to_string()))?;
        let mut init = RequestInit::new();
        init.with_method(Method::Post)
            .with_body(Some(wasm_bindgen::JsValue::from_str(&body)));
        let req = Request::new_with_init("https://realm-state/op", &init).map_err(fail)?;
        let mut resp = stub.fetch_with_request(req).await.map_err(fail)?;
        if resp.status_code() != 200 {
            let text = resp.text().await.unwrap_or_default();
            return Err(StoreError(format!(
                "realm state answered {}: {text}",
                resp.status_code()
            )));
        }
        resp.json::<Answer>().await.map_err(fail)
    }
}

/// Where the worker keeps what core names strong: in the realms' objects (through their stubs,
/// or directly inside the object that runs), or — without the binding — on KV as everything
/// else.
#[derive(Clone, Debug)]
pub enum Strong {
    /// No `REALM_STATE` binding: KV (eventually consistent; see the README).
    Kv,
    /// Each realm's object, through its stub.
    Stubs(Stubs),
    /// Inside realm `realm`'s object: its storage directly; other realms through stubs.
    Inside {
        /// This object's storage.
        here: Objects,
        /// Its realm.
        realm: String,
        /// The others'.
        stubs: Stubs,
    },
}

impl Strong {
    /// Run `call` where its realm's data lives (`None`: on KV).
    pub async fn run(&self, call: Call) -> Option<Result<Answer, StoreError>> {
        match self {
            Self::Kv => None,
            Self::Stubs(s) => Some(s.run(&call).await),
            Self::Inside { here, realm, .. } if *realm == call.realm => Some(here.run(call).await),
            Self::Inside { stubs, .. } => Some(stubs.run(&call).await),
        }
    }
}

/// Core's store for the worker: [`keys::STRONG`] data where [`Strong`] says, the rest on KV.
#[derive(Clone, Debug)]
pub struct WorkerStore {
    /// Workers KV.
    pub kv: super::store::KvBackedStore,
    /// Where strong data lives.
    pub strong: Strong,
    /// Core's clock as the host reads it (ms; the test clock when set).
    pub now_ms: Option<u64>,
}

use oidc_edge_core::keys;

impl WorkerStore {
    fn now(&self) -> u64 {
        self.now_ms.unwrap_or_else(crate::web::now_ms) / 1000
    }

    async fn strong(&self, key: &str, op: Op) -> Option<Result<Answer, StoreError>> {
        let realm = keys::strong_realm(key)?;
        let call = Call {
            realm: realm.to_owned(),
            now: self.now(),
            op,
        };
        self.strong.run(call).await
    }

    /// Ask the realm's object to wake at `at` for session `id` (nothing without the binding).
    pub async fn wake(&self, realm: &str, id: &str, at: u64) -> Result<(), StoreError> {
        let call = Call {
            realm: realm.to_owned(),
            now: self.now(),
            op: Op::Wake {
                id: id.to_owned(),
                at,
            },
        };
        self.strong.run(call).await.transpose().map(drop)
    }
}

impl Store for WorkerStore {
    async fn get(&self, key: &str) -> Result<Option<Vec<u8>>, StoreError> {
        let op = Op::Get {
            key: key.to_owned(),
        };
        match self.strong(key, op).await {
            Some(a) => a?.value.as_deref().map(decode).transpose(),
            None => self.kv.get(key).await,
        }
    }

    async fn put(&self, key: &str, value: &[u8], ttl_secs: Option<u64>) -> Result<(), StoreError> {
        let op = Op::Put {
            key: key.to_owned(),
            value: b64::encode(value),
            ttl: ttl_secs,
        };
        match self.strong(key, op).await {
            Some(a) => a.map(drop),
            None => self.kv.put(key, value, ttl_secs).await,
        }
    }

    async fn delete(&self, key: &str) -> Result<(), StoreError> {
        let op = Op::Delete {
            key: key.to_owned(),
        };
        match self.strong(key, op).await {
            Some(a) => a.map(drop),
            None => self.kv.delete(key).await,
        }
    }

    async fn list(&self, prefix: &str, page: Page<'_>) -> Result<ListPage, StoreError> {
        let op = Op::List {
            prefix: prefix.to_owned(),
            cursor: page.cursor.map(str::to_owned),
            start: page.start.map(str::to_owned),
            limit: page.limit,
        };
        match self.strong(prefix, op).await {
            Some(a) => {
                let a = a?;
                Ok(ListPage {
                    keys: a.keys.unwrap_or_default(),
                    cursor: a.cursor,
                })
            }
            None => self.kv.list(prefix, page).await,
        }
    }

    async fn swap(
        &self,
        key: &str,
        expected: Option<&[u8]>,
        new: Option<&[u8]>,
        ttl_secs: Option<u64>,
    ) -> Result<bool, StoreError> {
        let op = Op::Swap {
            key: key.to_owned(),
            expected: expected.map(b64::encode),
            new: new.map(b64::encode),
            ttl: ttl_secs,
        };
        match self.strong(key, op).await {
            Some(a) => Ok(a?.swapped.unwrap_or(false)),
            None => self.kv.swap(key, expected, new, ttl_secs).await,
        }
    }
}
