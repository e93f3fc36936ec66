//! Core's [`Store`] over a Workers KV namespace.
//!
//! KV as core expects it: eventually consistent, no transactions, expiry per key. Two
//! adaptations: a TTL below KV's minimum of 60 s is rounded up to it (core's `Store` allows
//! that; short-lived entries such as authorization codes are also checked against their own
//! expiry by core), and a list page is whatever KV returns — possibly fewer keys than asked
//! even when more follow, with KV's opaque cursor.

use oidc_edge_core::host::{ListPage, Page, Store, StoreError};
use worker::kv::{KvError, KvStore};

/// Workers KV returns at most this many keys per list call.
const MAX_LIST: usize = 1000;
/// Workers KV refuses an `expirationTtl` below this.
pub const MIN_TTL_SECS: u64 = 60;

/// The TTL to hand KV for a requested one: at least KV's minimum (core's `Store` allows hosts
/// to round up; core checks the deadlines of codes and sessions itself).
pub fn kv_ttl(ttl_secs: u64) -> u64 {
    ttl_secs.max(MIN_TTL_SECS)
}

/// A KV namespace binding as core's store.
#[derive(Clone)]
pub struct KvBackedStore {
    kv: KvStore,
}

impl std::fmt::Debug for KvBackedStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KvBackedStore").finish_non_exhaustive()
    }
}

impl KvBackedStore {
    /// Wrap a namespace binding.
    pub fn new(kv: KvStore) -> Self {
        Self { kv }
    }
}

fn store_error(op: &str, key: &str, e: &KvError) -> StoreError {
    StoreError(format!("KV {op} {key:?}: {e}"))
}

impl Store for KvBackedStore {
    async fn get(&self, key: &str) -> Result<Option<Vec<u8>>, StoreError> {
        self.kv
            .get(key)
            .bytes()
            .await
            .map_err(|e| store_error("get", key, &e))
    }

    async fn put(&self, key: &str, value: &[u8], ttl_secs: Option<u64>) -> Result<(), StoreError> {
        let mut put = self
            .kv
            .put_bytes(key, value)
            .map_err(|e| store_error("put", key, &e))?;
        if let Some(ttl) = ttl_secs {
            put = put.expiration_ttl(kv_ttl(ttl));
        }
        put.execute().await.map_err(|e| store_error("put", key, &e))
    }

    async fn delete(&self, key: &str) -> Result<(), StoreError> {
        self.kv
            .delete(key)
            .await
            .map_err(|e| store_error("delete", key, &e))
    }

    async fn list(&self, prefix: &str, page: Page<'_>) -> Result<ListPage, StoreError> {
        // Workers KV cannot seek: `page.start` is left to the caller's filter.
        let Page { cursor, limit, .. } = page;
        let mut list = self
            .kv
            .list()
            .prefix(prefix.to_owned())
            .limit(limit.clamp(1, MAX_LIST) as u64);
        if let Some(c) = cursor {
            list = list.cursor(c.to_owned());
        }
        let page = list
            .execute()
            .await
            .map_err(|e| store_error("list", prefix, &e))?;
        Ok(ListPage {
            keys: page.keys.into_iter().map(|k| k.name).collect(),
            cursor: if page.list_complete {
                None
            } else {
                page.cursor.filter(|c| !c.is_empty())
            },
        })
    }

    /// KV has no compare-and-swap: read, compare, write (see the README's consistency
    /// section). What must happen once lives in the Durable Object instead.
    async fn swap(
        &self,
        key: &str,
        expected: Option<&[u8]>,
        new: Option<&[u8]>,
        ttl_secs: Option<u64>,
    ) -> Result<bool, StoreError> {
        oidc_edge_core::store::swap_by_read(self, key, expected, new, ttl_secs).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kv_ttls_have_a_floor() {
        assert_eq!(kv_ttl(1), 60);
        assert_eq!(kv_ttl(60), 60);
        assert_eq!(kv_ttl(3600), 3600);
    }
}
