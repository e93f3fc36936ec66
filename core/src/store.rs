//! The storage seam: a key-value store as Workers KV offers it, and [`StoreVia`] for a host
//! that keeps its data in a store it holds.

use core::fmt;

/// Why the store failed. Stringly by nature: it carries the host's own message for logs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoreError(pub alloc::string::String);

impl fmt::Display for StoreError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "store: {}", self.0)
    }
}

impl core::error::Error for StoreError {}

/// One page of keys from [`Store::list`].
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ListPage {
    /// Keys in lexicographic order.
    pub keys: alloc::vec::Vec<alloc::string::String>,
    /// Where the next page starts; `None` when this was the last page.
    pub cursor: Option<alloc::string::String>,
}

/// Which page of a listing to read: at most `limit` keys, resuming after `cursor` (the
/// [`ListPage::cursor`] of the page before; `None` for the first page), from `start` on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Page<'a> {
    /// Where to resume.
    pub cursor: Option<&'a str>,
    /// How many keys at most.
    pub limit: usize,
    /// Keys before `start` may be left out: a store that can seek (the native stores, an
    /// ordered JS store) begins there, and a query over keys that sort by time costs what it
    /// returns. A hint: one that cannot (Workers KV lists from the prefix) ignores it, so the
    /// caller still filters.
    pub start: Option<&'a str>,
}

impl<'a> Page<'a> {
    /// The first page of at most `limit` keys.
    pub const fn first(limit: usize) -> Self {
        Self::after(None, limit)
    }

    /// At most `limit` keys after `cursor`.
    pub const fn after(cursor: Option<&'a str>, limit: usize) -> Self {
        Self {
            cursor,
            limit,
            start: None,
        }
    }

    /// This page, with keys before `start` left out where the store can seek.
    #[must_use]
    pub const fn starting_at(self, start: &'a str) -> Self {
        Self {
            start: Some(start),
            ..self
        }
    }

    /// Whether `key` is past where this page may begin: after `cursor`, at or after `start`.
    pub fn admits(&self, key: &str) -> bool {
        self.cursor.is_none_or(|c| key > c) && self.start.is_none_or(|s| key >= s)
    }
}

/// A key-value store with optional expiry per key, and one atomic step: [`Store::swap`], a
/// compare-and-swap. Every decision that must happen once — a code redeemed, a refresh token
/// rotated, a session touched or joined without bringing an ended one back — is a swap.
///
/// How strong a store is, is the host's to say (the README's consistency section): the native
/// stores and the worker's Durable Objects are strongly consistent and swap atomically; Workers
/// KV is eventually consistent (a write may be seen late at another location, up to about a
/// minute) and can only read, compare and write ([`swap_by_read`]).
#[allow(async_fn_in_trait)] // Workers futures are !Send: no Send bound, by design.
pub trait Store {
    /// The value at `key`, or `None` (also for an expired key).
    async fn get(&self, key: &str) -> Result<Option<alloc::vec::Vec<u8>>, StoreError>;
    /// Write `value` at `key`, expiring after `ttl_secs` when given (hosts may round it up to
    /// their minimum, 60 s on Workers KV).
    async fn put(&self, key: &str, value: &[u8], ttl_secs: Option<u64>) -> Result<(), StoreError>;
    /// Write several entries (key, value, TTL) at once: in one transaction where the store has
    /// them (the native on-disk store), one by one otherwise (the default; Workers KV). The
    /// outbox of a session's deliveries is written this way.
    async fn put_many(
        &self,
        entries: &[(alloc::string::String, alloc::vec::Vec<u8>, Option<u64>)],
    ) -> Result<(), StoreError> {
        for (key, value, ttl) in entries {
            self.put(key, value, *ttl).await?;
        }
        Ok(())
    }

    /// Delete `key`; deleting a missing key is not an error.
    async fn delete(&self, key: &str) -> Result<(), StoreError>;
    /// Delete several keys: in one transaction where the store has them (the native on-disk
    /// store), one by one otherwise (the default). A session's indexes go this way.
    async fn delete_many(&self, keys: &[alloc::string::String]) -> Result<(), StoreError> {
        for key in keys {
            self.delete(key).await?;
        }
        Ok(())
    }
    /// Keys starting with `prefix`, one [`Page`] of them.
    async fn list(&self, prefix: &str, page: Page<'_>) -> Result<ListPage, StoreError>;
    /// If the value at `key` is exactly `expected` (`None`: there is none), make it `new`
    /// (`None`: delete it; `ttl_secs` as for [`Store::put`]) and answer `true`; otherwise
    /// change nothing and answer `false`. Atomic where the store can be (two swaps from the
    /// same `expected` never both succeed); see [`swap_by_read`] for one that cannot.
    async fn swap(
        &self,
        key: &str,
        expected: Option<&[u8]>,
        new: Option<&[u8]>,
        ttl_secs: Option<u64>,
    ) -> Result<bool, StoreError>;
}

/// [`Store::swap`] for a store without an atomic one (Workers KV, a JS store that offers no
/// `swap`): read, compare, then write. Two callers that read the same value both win; the
/// README says what that costs.
pub async fn swap_by_read<S: Store + ?Sized>(
    store: &S,
    key: &str,
    expected: Option<&[u8]>,
    new: Option<&[u8]>,
    ttl_secs: Option<u64>,
) -> Result<bool, StoreError> {
    if store.get(key).await?.as_deref() != expected {
        return Ok(false);
    }
    match new {
        Some(v) => store.put(key, v, ttl_secs).await?,
        None => store.delete(key).await?,
    }
    Ok(true)
}

/// A host that keeps its data in a [`Store`] it holds: implementing this gives the host
/// [`Store`] itself, every call handed to [`StoreVia::store`] (what each host would otherwise
/// write out four times).
pub trait StoreVia {
    /// The store it delegates to.
    type Inner: Store;
    /// That store.
    fn store(&self) -> &Self::Inner;
}

/// `store_via!(Host => field: Inner)`: implement [`StoreVia`] for `Host` by its field `field`,
/// the [`Store`] of type `Inner` it keeps its data in.
#[macro_export]
macro_rules! store_via {
    ($host:ty => $field:ident: $inner:ty) => {
        impl $crate::store::StoreVia for $host {
            type Inner = $inner;

            fn store(&self) -> &$inner {
                &self.$field
            }
        }
    };
}

impl<T: StoreVia> Store for T {
    async fn get(&self, key: &str) -> Result<Option<alloc::vec::Vec<u8>>, StoreError> {
        self.store().get(key).await
    }

    async fn put(&self, key: &str, value: &[u8], ttl_secs: Option<u64>) -> Result<(), StoreError> {
        self.store().put(key, value, ttl_secs).await
    }

    async fn put_many(
        &self,
        entries: &[(alloc::string::String, alloc::vec::Vec<u8>, Option<u64>)],
    ) -> Result<(), StoreError> {
        self.store().put_many(entries).await
    }

    async fn delete(&self, key: &str) -> Result<(), StoreError> {
        self.store().delete(key).await
    }

    async fn delete_many(&self, keys: &[alloc::string::String]) -> Result<(), StoreError> {
        self.store().delete_many(keys).await
    }

    async fn list(&self, prefix: &str, page: Page<'_>) -> Result<ListPage, StoreError> {
        self.store().list(prefix, page).await
    }

    async fn swap(
        &self,
        key: &str,
        expected: Option<&[u8]>,
        new: Option<&[u8]>,
        ttl_secs: Option<u64>,
    ) -> Result<bool, StoreError> {
        self.store().swap(key, expected, new, ttl_secs).await
    }
}
