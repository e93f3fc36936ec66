//! Core's [`Store`] over the embedding's store object: `store.get/put/delete/list`, and
//! `store.swap` when it has one, each returning a value or a promise of it.

use std::fmt;

use js_sys::{Array, Function, Reflect, Uint8Array};
use oidc_edge_core::host::{ListPage, Page, Store, StoreError};
use wasm_bindgen::prelude::*;

use super::interop::{call, describe, fail, method};

/// The embedding's store object.
pub struct JsStore {
    this: JsValue,
    get: Function,
    put: Function,
    delete: Function,
    list: Function,
    /// `swap(key, expected, value, ttl) -> boolean`, atomic, when the store offers it.
    swap: Option<Function>,
}

impl fmt::Debug for JsStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("JsStore").finish_non_exhaustive()
    }
}

impl JsStore {
    /// The store object `obj`, whose `get`, `put`, `delete` and `list` must be functions.
    pub fn new(obj: JsValue) -> Result<Self, JsValue> {
        if !obj.is_object() {
            return Err(fail("invalid_config", "store must be an object"));
        }
        Ok(Self {
            get: method(&obj, "get", "store")?,
            put: method(&obj, "put", "store")?,
            delete: method(&obj, "delete", "store")?,
            list: method(&obj, "list", "store")?,
            swap: Reflect::get(&obj, &"swap".into())
                .ok()
                .and_then(|f| f.dyn_into::<Function>().ok()),
            this: obj,
        })
    }

    async fn call(&self, f: &Function, op: &str, args: &[JsValue]) -> Result<JsValue, StoreError> {
        call(f, &self.this, args)
            .await
            .map_err(|e| StoreError(format!("store.{op}: {}", describe(&e))))
    }
}

fn bytes_of(v: &JsValue, key: &str) -> Result<Option<Vec<u8>>, StoreError> {
    if v.is_undefined() || v.is_null() {
        Ok(None)
    } else if let Some(s) = v.as_string() {
        Ok(Some(s.into_bytes()))
    } else if let Some(a) = v.dyn_ref::<Uint8Array>() {
        Ok(Some(a.to_vec()))
    } else if let Some(b) = v.dyn_ref::<js_sys::ArrayBuffer>() {
        Ok(Some(Uint8Array::new(b).to_vec()))
    } else {
        Err(StoreError(format!(
            "store.get {key:?} returned neither bytes, a string nor null"
        )))
    }
}

impl Store for JsStore {
    async fn get(&self, key: &str) -> Result<Option<Vec<u8>>, StoreError> {
        let v = self.call(&self.get, "get", &[key.into()]).await?;
        bytes_of(&v, key)
    }

    async fn put(&self, key: &str, value: &[u8], ttl_secs: Option<u64>) -> Result<(), StoreError> {
        let ttl = ttl_secs.map_or(JsValue::UNDEFINED, |t| JsValue::from(t as f64));
        self.call(
            &self.put,
            "put",
            &[key.into(), Uint8Array::from(value).into(), ttl],
        )
        .await
        .map(drop)
    }

    async fn delete(&self, key: &str) -> Result<(), StoreError> {
        self.call(&self.delete, "delete", &[key.into()])
            .await
            .map(drop)
    }

    async fn list(&self, prefix: &str, page: Page<'_>) -> Result<ListPage, StoreError> {
        let Page {
            cursor,
            limit,
            start,
        } = page;
        let cursor = cursor.map_or(JsValue::UNDEFINED, JsValue::from);
        // A hint the store may ignore: the caller filters keys before `start` itself.
        let start = start.map_or(JsValue::UNDEFINED, JsValue::from);
        let page = self
            .call(
                &self.list,
                "list",
                &[prefix.into(), cursor, JsValue::from(limit as f64), start],
            )
            .await?;
        let malformed = || StoreError(format!("store.list {prefix:?}: expected {{keys, cursor}}"));
        let keys = Reflect::get(&page, &"keys".into()).map_err(|_| malformed())?;
        let keys = keys.dyn_into::<Array>().map_err(|_| malformed())?;
        let keys = keys
            .iter()
            .map(|k| k.as_string().ok_or_else(malformed))
            .collect::<Result<Vec<_>, _>>()?;
        let cursor = Reflect::get(&page, &"cursor".into())
            .ok()
            .and_then(|c| c.as_string())
            .filter(|c| !c.is_empty());
        Ok(ListPage { keys, cursor })
    }

    /// The store's own `swap` (atomic, as a store with transactions can make it); without
    /// one, read, compare and write.
    async fn swap(
        &self,
        key: &str,
        expected: Option<&[u8]>,
        new: Option<&[u8]>,
        ttl_secs: Option<u64>,
    ) -> Result<bool, StoreError> {
        let Some(swap) = &self.swap else {
            return oidc_edge_core::store::swap_by_read(self, key, expected, new, ttl_secs).await;
        };
        let bytes = |b: Option<&[u8]>| b.map_or(JsValue::NULL, |b| Uint8Array::from(b).into());
        let ttl = ttl_secs.map_or(JsValue::UNDEFINED, |t| JsValue::from(t as f64));
        let done = self
            .call(
                swap,
                "swap",
                &[key.into(), bytes(expected), bytes(new), ttl],
            )
            .await?;
        done.as_bool()
            .ok_or_else(|| StoreError(format!("store.swap {key:?} returned no boolean")))
    }
}
