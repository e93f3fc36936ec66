//! The native stores behind core's [`Store`]: [`RedbStore`], one `redb` file under the data
//! directory, and [`MemStore`] for `--memory` and tests. Both keep each value with its expiry
//! and answer exactly alike: an expired key reads as absent (and is deleted when seen), a list
//! is a lexicographic prefix scan resuming *after* the cursor, the last key of the page before.
//!
//! [`MemStore`] is synchronous inside. [`RedbStore`] reads on the caller's thread (a read
//! transaction is a snapshot, never blocked by a writer) and writes through one writer thread
//! of its own, which commits whatever writes are waiting in one transaction (group commit): a
//! write's future resolves once its transaction is durable, as before, but a thousand
//! deliveries settling at once cost a few disk syncs rather than a thousand, and the event loop
//! never waits for the disk.

use std::collections::BTreeMap;
use std::ops::Bound;
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, mpsc};
use std::thread::JoinHandle;

use oidc_edge_core::host::{Clock, ListPage, Page, Store, StoreError};
use redb::{ReadableDatabase as _, ReadableTable as _, Table, TableDefinition};
use tokio::sync::oneshot;

use super::NativeClock;

/// The one table: key → (expires at, in Unix seconds, or never; value).
const ENTRIES: TableDefinition<&str, (Option<u64>, &[u8])> = TableDefinition::new("entries");

/// Whether an entry that expires at `expires_at` is still visible at `now`.
fn live(expires_at: Option<u64>, now: u64) -> bool {
    expires_at.is_none_or(|at| now < at)
}

fn expiry(clock: &NativeClock, ttl_secs: Option<u64>) -> Option<u64> {
    ttl_secs.map(|ttl| clock.now().plus(ttl).secs())
}

/// Where a prefix scan starts: at the prefix, or just after the cursor when that lies within.
fn start_bound<'a>(prefix: &'a str, page: &Page<'a>) -> Bound<&'a str> {
    let from = match page.start {
        Some(s) if s > prefix => s,
        _ => prefix,
    };
    match page.cursor {
        Some(c) if c >= from => Bound::Excluded(c),
        _ => Bound::Included(from),
    }
}

/// Collect one page from `(key, live)` pairs in key order, starting at the scan's start.
fn page_of<I, E>(entries: I, prefix: &str, limit: usize) -> Result<ListPage, E>
where
    I: Iterator<Item = Result<(String, bool), E>>,
{
    // A zero limit would hand back the same cursor forever.
    let limit = limit.max(1);
    let mut keys = Vec::new();
    for entry in entries {
        let (key, is_live) = entry?;
        if !key.starts_with(prefix) {
            break;
        }
        if keys.len() == limit {
            // Another key follows (live or not): the caller asks again from the last one.
            let cursor = keys.last().cloned();
            return Ok(ListPage { keys, cursor });
        }
        if is_live {
            keys.push(key);
        }
    }
    Ok(ListPage { keys, cursor: None })
}

/// Most writes one transaction of the writer thread takes.
const MAX_GROUP: usize = 1024;

/// An entry as read: its expiry (Unix seconds) and value.
type Stored = (Option<u64>, Vec<u8>);

/// A write for the writer thread.
enum Write {
    /// Entries (key, value, ttl): one for a put.
    Put(Vec<(String, Vec<u8>, Option<u64>)>),
    /// Keys: one for a delete.
    Delete(Vec<String>),
    /// Key, expected value, new value (or delete), ttl.
    Swap(String, Option<Vec<u8>>, Option<Vec<u8>>, Option<u64>),
    /// Delete the key if it is (still) expired at this time: a fresh value may have been put.
    RemoveIfExpired(String, u64),
}

/// A write and where its result goes: `true` unless a swap found another value.
struct Job {
    write: Write,
    done: oneshot::Sender<Result<bool, StoreError>>,
}

/// The persistent store: one redb database file (`<data>/store.redb`).
pub struct RedbStore {
    db: Arc<redb::Database>,
    clock: NativeClock,
    /// To the writer thread; taken on drop, which ends it.
    jobs: Option<mpsc::Sender<Job>>,
    writer: Option<JoinHandle<()>>,
    /// Write transactions the writer committed.
    commits: Arc<AtomicUsize>,
}

impl Drop for RedbStore {
    fn drop(&mut self) {
        // The writer finishes what was sent, then lets go of the database, so that the file
        // can be opened again as soon as the store is gone.
        drop(self.jobs.take());
        if let Some(writer) = self.writer.take() {
            let _ = writer.join();
        }
    }
}

/// Apply one write inside the writer's transaction.
fn apply(
    table: &mut Table<'_, &str, (Option<u64>, &[u8])>,
    clock: &NativeClock,
    write: &Write,
) -> Result<bool, redb::Error> {
    match write {
        Write::Put(entries) => {
            for (key, value, ttl) in entries {
                table.insert(key.as_str(), (expiry(clock, *ttl), value.as_slice()))?;
            }
        }
        Write::Delete(keys) => {
            for key in keys {
                table.remove(key.as_str())?;
            }
        }
        Write::Swap(key, expected, new, ttl) => {
            let now = clock.now().secs();
            let current = table.get(key.as_str())?.and_then(|g| {
                let (expires_at, value) = g.value();
                live(expires_at, now).then(|| value.to_vec())
            });
            if current != *expected {
                return Ok(false);
            }
            match new {
                Some(v) => {
                    table.insert(key.as_str(), (expiry(clock, *ttl), v.as_slice()))?;
                }
                None => {
                    table.remove(key.as_str())?;
                }
            }
        }
        Write::RemoveIfExpired(key, now) => {
            let expired = table
                .get(key.as_str())?
                .is_some_and(|g| !live(g.value().0, *now));
            if expired {
                table.remove(key.as_str())?;
            }
        }
    }
    Ok(true)
}

/// Apply `jobs` in order in one transaction and commit it: each job's result, or the error
/// that failed the transaction (then none of them was written).
fn commit_group(
    db: &redb::Database,
    clock: &NativeClock,
    jobs: &[Job],
) -> Result<Vec<bool>, redb::Error> {
    let txn = db.begin_write()?;
    let results = {
        let mut table = txn.open_table(ENTRIES)?;
        jobs.iter()
            .map(|job| apply(&mut table, clock, &job.write))
            .collect::<Result<Vec<_>, _>>()?
    };
    txn.commit()?;
    Ok(results)
}

/// The writer thread: take a write, and with it every write waiting behind it (up to
/// [`MAX_GROUP`]), commit them together, answer each. When a group fails, its writes are
/// committed one by one, so that each gets its own answer. Ends when the store is dropped.
fn writer(
    db: &redb::Database,
    clock: &NativeClock,
    jobs: &mpsc::Receiver<Job>,
    commits: &AtomicUsize,
) {
    let commit = |group: &[Job]| {
        let result = commit_group(db, clock, group);
        if result.is_ok() {
            commits.fetch_add(1, Ordering::Relaxed);
        }
        result
    };
    while let Ok(first) = jobs.recv() {
        let mut group = vec![first];
        while group.len() < MAX_GROUP {
            match jobs.try_recv() {
                Ok(job) => group.push(job),
                Err(_) => break,
            }
        }
        match commit(&group) {
            Ok(results) => {
                for (job, result) in group.into_iter().zip(results) {
                    let _ = job.done.send(Ok(result));
                }
            }
            Err(e) if group.len() == 1 => {
                if let Some(job) = group.pop() {
                    let _ = job.done.send(Err(store_error(e)));
                }
            }
            Err(_) => {
                for job in group {
                    let result = commit(std::slice::from_ref(&job))
                        .map(|r| r.first().copied().unwrap_or(true))
                        .map_err(store_error);
                    let _ = job.done.send(result);
                }
            }
        }
    }
}

impl std::fmt::Debug for RedbStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedbStore").finish_non_exhaustive()
    }
}

fn store_error(e: impl Into<redb::Error>) -> StoreError {
    StoreError(format!("redb: {}", e.into()))
}

impl RedbStore {
    /// Open (or create) the database at `path`. Fails when another process has it open.
    pub fn open(path: &Path, clock: NativeClock) -> Result<Self, StoreError> {
        let db = redb::Database::create(path).map_err(|e| {
            StoreError(format!(
                "cannot open {}: {}",
                path.display(),
                redb::Error::from(e)
            ))
        })?;
        // Create the table up front so that read transactions always find it.
        let txn = db.begin_write().map_err(store_error)?;
        txn.open_table(ENTRIES).map_err(store_error)?;
        txn.commit().map_err(store_error)?;
        let db = Arc::new(db);
        let (jobs, queue) = mpsc::channel();
        let commits = Arc::new(AtomicUsize::new(0));
        let writer = {
            let (db, clock, commits) = (Arc::clone(&db), clock.clone(), Arc::clone(&commits));
            std::thread::Builder::new()
                .name("oidc-edge-store".into())
                .spawn(move || writer(&db, &clock, &queue, &commits))
                .map_err(|e| StoreError(format!("cannot start the store's writer: {e}")))?
        };
        Ok(Self {
            db,
            clock,
            jobs: Some(jobs),
            writer: Some(writer),
            commits,
        })
    }

    /// How many write transactions have been committed since the store was opened.
    pub fn commits(&self) -> usize {
        self.commits.load(Ordering::Relaxed)
    }

    /// Hand `write` to the writer thread and wait until its transaction is durable.
    async fn write(&self, write: Write) -> Result<bool, StoreError> {
        let (done, result) = oneshot::channel();
        let gone = || StoreError("redb: the store's writer has stopped".into());
        self.jobs
            .as_ref()
            .ok_or_else(gone)?
            .send(Job { write, done })
            .map_err(|_| gone())?;
        result.await.map_err(|_| gone())?
    }

    /// The entry at `key` (its expiry and value), live or not, and the time it was read at.
    fn read(&self, key: &str) -> Result<(Option<Stored>, u64), redb::Error> {
        let now = self.clock.now().secs();
        let txn = self.db.begin_read()?;
        let table = txn.open_table(ENTRIES)?;
        let found = table.get(key)?.map(|g| {
            let (expires_at, value) = g.value();
            (expires_at, value.to_vec())
        });
        Ok((found, now))
    }

    fn list_sync(&self, prefix: &str, page: &Page<'_>) -> Result<ListPage, redb::Error> {
        let now = self.clock.now().secs();
        let txn = self.db.begin_read()?;
        let table = txn.open_table(ENTRIES)?;
        let range = table.range::<&str>((start_bound(prefix, page), Bound::Unbounded))?;
        let entries = range.map(|item| {
            item.map(|(k, v)| (k.value().to_owned(), live(v.value().0, now)))
                .map_err(redb::Error::from)
        });
        page_of(entries, prefix, page.limit)
    }

    /// Delete every expired entry; returns how many. The server runs this now and then so
    /// that keys nobody reads again (codes, audit events) do not pile up.
    pub fn purge_expired(&self) -> Result<usize, StoreError> {
        let now = self.clock.now().secs();
        let purge = || -> Result<usize, redb::Error> {
            let txn = self.db.begin_write()?;
            let removed = {
                let mut table = txn.open_table(ENTRIES)?;
                let mut removed = 0;
                for item in table.extract_if(|_, (expires_at, _)| !live(expires_at, now))? {
                    item?;
                    removed += 1;
                }
                removed
            };
            txn.commit()?;
            Ok(removed)
        };
        purge().map_err(store_error)
    }
}

impl Store for RedbStore {
    async fn get(&self, key: &str) -> Result<Option<Vec<u8>>, StoreError> {
        match self.read(key).map_err(store_error)? {
            (Some((expires_at, value)), now) if live(expires_at, now) => Ok(Some(value)),
            (Some(_), now) => {
                self.write(Write::RemoveIfExpired(key.to_owned(), now))
                    .await?;
                Ok(None)
            }
            (None, _) => Ok(None),
        }
    }

    async fn put(&self, key: &str, value: &[u8], ttl_secs: Option<u64>) -> Result<(), StoreError> {
        self.write(Write::Put(vec![(key.to_owned(), value.to_vec(), ttl_secs)]))
            .await
            .map(drop)
    }

    async fn put_many(&self, entries: &[(String, Vec<u8>, Option<u64>)]) -> Result<(), StoreError> {
        self.write(Write::Put(entries.to_vec())).await.map(drop)
    }

    async fn delete(&self, key: &str) -> Result<(), StoreError> {
        self.write(Write::Delete(vec![key.to_owned()]))
            .await
            .map(drop)
    }

    async fn delete_many(&self, keys: &[String]) -> Result<(), StoreError> {
        self.write(Write::Delete(keys.to_vec())).await.map(drop)
    }

    async fn list(&self, prefix: &str, page: Page<'_>) -> Result<ListPage, StoreError> {
        self.list_sync(prefix, &page).map_err(store_error)
    }

    /// In the writer's transaction: redb has one writer at a time, so the comparison and the
    /// write cannot interleave with another's.
    async fn swap(
        &self,
        key: &str,
        expected: Option<&[u8]>,
        new: Option<&[u8]>,
        ttl_secs: Option<u64>,
    ) -> Result<bool, StoreError> {
        self.write(Write::Swap(
            key.to_owned(),
            expected.map(<[u8]>::to_vec),
            new.map(<[u8]>::to_vec),
            ttl_secs,
        ))
        .await
    }
}

/// A value with its expiry (Unix seconds), as [`MemStore`] keeps it.
type MemEntries = BTreeMap<String, (Option<u64>, Vec<u8>)>;

/// An in-memory store with the same semantics as [`RedbStore`]; forgets everything on exit.
#[derive(Debug, Default)]
pub struct MemStore {
    entries: Mutex<MemEntries>,
    clock: NativeClock,
}

impl MemStore {
    /// An empty store reading time from `clock`.
    pub fn new(clock: NativeClock) -> Self {
        Self {
            entries: Mutex::default(),
            clock,
        }
    }

    fn entries(&self) -> Result<std::sync::MutexGuard<'_, MemEntries>, StoreError> {
        // A poisoned lock means a panic mid-operation; every operation is a single map call,
        // so the map is still consistent, but say so rather than guess.
        self.entries
            .lock()
            .map_err(|_| StoreError("memory store lock poisoned".into()))
    }

    /// Delete every expired entry; returns how many.
    pub fn purge_expired(&self) -> Result<usize, StoreError> {
        let now = self.clock.now().secs();
        let mut entries = self.entries()?;
        let before = entries.len();
        entries.retain(|_, (expires_at, _)| live(*expires_at, now));
        Ok(before - entries.len())
    }
}

impl Store for MemStore {
    async fn get(&self, key: &str) -> Result<Option<Vec<u8>>, StoreError> {
        let now = self.clock.now().secs();
        let mut entries = self.entries()?;
        match entries.get(key) {
            Some((expires_at, value)) if live(*expires_at, now) => Ok(Some(value.clone())),
            Some(_) => {
                entries.remove(key);
                Ok(None)
            }
            None => Ok(None),
        }
    }

    async fn put(&self, key: &str, value: &[u8], ttl_secs: Option<u64>) -> Result<(), StoreError> {
        let expires_at = expiry(&self.clock, ttl_secs);
        self.entries()?
            .insert(key.to_owned(), (expires_at, value.to_vec()));
        Ok(())
    }

    async fn delete(&self, key: &str) -> Result<(), StoreError> {
        self.entries()?.remove(key);
        Ok(())
    }

    async fn swap(
        &self,
        key: &str,
        expected: Option<&[u8]>,
        new: Option<&[u8]>,
        ttl_secs: Option<u64>,
    ) -> Result<bool, StoreError> {
        let now = self.clock.now().secs();
        // One lock held for the comparison and the write.
        let mut entries = self.entries()?;
        let current = entries
            .get(key)
            .filter(|(expires_at, _)| live(*expires_at, now))
            .map(|(_, v)| v.as_slice());
        if current != expected {
            return Ok(false);
        }
        match new {
            Some(v) => {
                let expires_at = expiry(&self.clock, ttl_secs);
                entries.insert(key.to_owned(), (expires_at, v.to_vec()));
            }
            None => {
                entries.remove(key);
            }
        }
        Ok(true)
    }

    async fn list(&self, prefix: &str, page: Page<'_>) -> Result<ListPage, StoreError> {
        let now = self.clock.now().secs();
        let entries = self.entries()?;
        let range = entries.range::<str, _>((start_bound(prefix, &page), Bound::Unbounded));
        page_of(
            range.map(|(k, (expires_at, _))| {
                Ok::<_, StoreError>((k.clone(), live(*expires_at, now)))
            }),
            prefix,
            page.limit,
        )
    }
}

/// The store a native host runs on: persistent (`--data`) or in memory (`--memory`).
#[derive(Debug)]
pub enum NativeStore {
    /// A redb file under the data directory.
    Redb(RedbStore),
    /// In memory.
    Mem(MemStore),
}

impl NativeStore {
    /// Delete every expired entry; returns how many.
    pub fn purge_expired(&self) -> Result<usize, StoreError> {
        match self {
            Self::Redb(s) => s.purge_expired(),
            Self::Mem(s) => s.purge_expired(),
        }
    }
}

impl Store for NativeStore {
    async fn get(&self, key: &str) -> Result<Option<Vec<u8>>, StoreError> {
        match self {
            Self::Redb(s) => s.get(key).await,
            Self::Mem(s) => s.get(key).await,
        }
    }

    async fn put(&self, key: &str, value: &[u8], ttl_secs: Option<u64>) -> Result<(), StoreError> {
        match self {
            Self::Redb(s) => s.put(key, value, ttl_secs).await,
            Self::Mem(s) => s.put(key, value, ttl_secs).await,
        }
    }

    async fn put_many(&self, entries: &[(String, Vec<u8>, Option<u64>)]) -> Result<(), StoreError> {
        match self {
            Self::Redb(s) => s.put_many(entries).await,
            Self::Mem(s) => s.put_many(entries).await,
        }
    }

    async fn delete(&self, key: &str) -> Result<(), StoreError> {
        match self {
            Self::Redb(s) => s.delete(key).await,
            Self::Mem(s) => s.delete(key).await,
        }
    }

    async fn delete_many(&self, keys: &[String]) -> Result<(), StoreError> {
        match self {
            Self::Redb(s) => s.delete_many(keys).await,
            Self::Mem(s) => s.delete_many(keys).await,
        }
    }

    async fn list(&self, prefix: &str, page: Page<'_>) -> Result<ListPage, StoreError> {
        match self {
            Self::Redb(s) => s.list(prefix, page).await,
            Self::Mem(s) => s.list(prefix, page).await,
        }
    }

    async fn swap(
        &self,
        key: &str,
        expected: Option<&[u8]>,
        new: Option<&[u8]>,
        ttl_secs: Option<u64>,
    ) -> Result<bool, StoreError> {
        match self {
            Self::Redb(s) => s.swap(key, expected, new, ttl_secs).await,
            Self::Mem(s) => s.swap(key, expected, new, ttl_secs).await,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use oidc_edge_core::UnixTime;

    /// Drive a store future to completion (redb's writes wait for its writer thread).
    fn block<F: std::future::Future>(f: F) -> F::Output {
        tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap()
            .block_on(f)
    }

    /// Run `check` against both stores, each with its own manual clock.
    fn both(check: impl Fn(&NativeStore, &NativeClock)) {
        let clock = NativeClock::manual(UnixTime(1_000_000));
        check(&NativeStore::Mem(MemStore::new(clock.clone())), &clock);
        let dir = tempfile::tempdir().unwrap();
        let clock = NativeClock::manual(UnixTime(1_000_000));
        let store = RedbStore::open(&dir.path().join("store.redb"), clock.clone()).unwrap();
        check(&NativeStore::Redb(store), &clock);
    }

    #[test]
    fn put_get_delete() {
        both(|s, _| {
            block(async {
                assert_eq!(s.get("a").await.unwrap(), None);
                s.put("a", b"one", None).await.unwrap();
                assert_eq!(s.get("a").await.unwrap().as_deref(), Some(&b"one"[..]));
                s.put("a", b"two", None).await.unwrap();
                assert_eq!(s.get("a").await.unwrap().as_deref(), Some(&b"two"[..]));
                s.delete("a").await.unwrap();
                assert_eq!(s.get("a").await.unwrap(), None);
                s.delete("a").await.unwrap();
                s.delete("never-there").await.unwrap();
            });
        });
    }

    #[test]
    fn delete_many_deletes_each_key_and_only_those() {
        both(|s, _| {
            block(async {
                for k in ["i/1", "i/2", "i/3", "keep"] {
                    s.put(k, b"v", None).await.unwrap();
                }
                let gone = ["i/1", "i/3", "never-there"].map(String::from);
                s.delete_many(&gone).await.unwrap();
                for k in ["i/1", "i/3", "never-there"] {
                    assert_eq!(s.get(k).await.unwrap(), None, "{k}");
                }
                for k in ["i/2", "keep"] {
                    assert!(s.get(k).await.unwrap().is_some(), "{k}");
                }
            });
        });
    }

    #[test]
    fn swap_compares_then_writes_once() {
        both(|s, clock| {
            // Absent, then present: only the expected value wins.
            assert!(block(s.swap("k", None, Some(b"1"), None)).unwrap());
            assert!(!block(s.swap("k", None, Some(b"2"), None)).unwrap());
            assert!(!block(s.swap("k", Some(b"2"), Some(b"3"), None)).unwrap());
            assert_eq!(block(s.get("k")).unwrap().as_deref(), Some(&b"1"[..]));
            assert!(block(s.swap("k", Some(b"1"), None, None)).unwrap());
            assert_eq!(block(s.get("k")).unwrap(), None);
            // An expired value is no value.
            assert!(block(s.swap("t", None, Some(b"x"), Some(60))).unwrap());
            clock.advance(61);
            assert!(!block(s.swap("t", Some(b"x"), Some(b"y"), None)).unwrap());
            assert!(block(s.swap("t", None, Some(b"y"), None)).unwrap());
        });
        // Eight threads race from one value: exactly one wins.
        both(|s, _| {
            block(s.put("race", b"0", None)).unwrap();
            let wins = std::sync::atomic::AtomicUsize::new(0);
            std::thread::scope(|scope| {
                for i in 0..8u8 {
                    let wins = &wins;
                    scope.spawn(move || {
                        if block(s.swap("race", Some(b"0"), Some(&[i]), None)).unwrap() {
                            wins.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                        }
                    });
                }
            });
            assert_eq!(wins.into_inner(), 1);
        });
    }

    #[test]
    fn ttl_expiry() {
        both(|s, clock| {
            block(async {
                s.put("code/demo/x", b"c", Some(60)).await.unwrap();
                s.put("realm/demo", b"r", None).await.unwrap();
                s.put("code/demo/gone", b"g", Some(0)).await.unwrap();
                assert_eq!(s.get("code/demo/gone").await.unwrap(), None);
                clock.advance(59);
                assert!(s.get("code/demo/x").await.unwrap().is_some());
                let page = s.list("code/", Page::first(10)).await.unwrap();
                assert_eq!(page.keys, ["code/demo/x"]);
                clock.advance(1);
                assert_eq!(s.get("code/demo/x").await.unwrap(), None);
                assert!(
                    s.list("code/", Page::first(10))
                        .await
                        .unwrap()
                        .keys
                        .is_empty()
                );
                assert!(s.get("realm/demo").await.unwrap().is_some());
                // A fresh put after expiry is visible again.
                s.put("code/demo/x", b"new", Some(60)).await.unwrap();
                assert_eq!(
                    s.get("code/demo/x").await.unwrap().as_deref(),
                    Some(&b"new"[..])
                );
                clock.advance(3600);
                s.put("audit/demo/1", b"a", Some(10)).await.unwrap();
                assert_eq!(s.purge_expired().unwrap(), 1);
                assert!(s.get("realm/demo").await.unwrap().is_some());
                assert!(s.get("audit/demo/1").await.unwrap().is_some());
            });
        });
    }

    #[test]
    fn prefix_listing_across_pages() {
        both(|s, clock| {
            block(async {
                for k in [
                    "usess/demo/alice/1",
                    "usess/demo/alice/2",
                    "usess/demo/alice/3",
                ] {
                    s.put(k, b"", None).await.unwrap();
                }
                s.put("usess/demo/alice/4", b"", Some(5)).await.unwrap();
                s.put("usess/demo/alice/5", b"", None).await.unwrap();
                // Neighbours that share part of the prefix stay out.
                s.put("usess/demo/alic", b"", None).await.unwrap();
                s.put("usess/demo/alicf/1", b"", None).await.unwrap();
                s.put("usess/demo/bob/1", b"", None).await.unwrap();
                clock.advance(5);

                let prefix = "usess/demo/alice/";
                let mut seen = Vec::new();
                let mut cursor: Option<String> = None;
                let mut pages = 0;
                loop {
                    let page = s
                        .list(prefix, Page::after(cursor.as_deref(), 2))
                        .await
                        .unwrap();
                    pages += 1;
                    assert!(page.keys.len() <= 2);
                    seen.extend(page.keys.iter().cloned());
                    match page.cursor {
                        Some(c) => {
                            assert_eq!(Some(&c), page.keys.last());
                            cursor = Some(c);
                        }
                        None => break,
                    }
                    assert!(pages < 10);
                }
                assert_eq!(
                    seen,
                    [
                        "usess/demo/alice/1",
                        "usess/demo/alice/2",
                        "usess/demo/alice/3",
                        "usess/demo/alice/5"
                    ]
                );
                assert_eq!(pages, 2);

                let all = s.list("usess/", Page::first(100)).await.unwrap();
                assert_eq!(all.keys.len(), 7);
                assert_eq!(all.cursor, None);
                let exact = s.list("usess/demo/", Page::first(7)).await.unwrap();
                assert_eq!(exact.cursor, None, "no key follows the 7th");
                assert!(
                    s.list("nothing/", Page::first(10))
                        .await
                        .unwrap()
                        .keys
                        .is_empty()
                );
                // A cursor before the prefix starts at the prefix.
                let from = s.list(prefix, Page::after(Some("a"), 1)).await.unwrap();
                assert_eq!(from.keys, ["usess/demo/alice/1"]);
                // A zero limit still makes progress.
                assert_eq!(s.list(prefix, Page::first(0)).await.unwrap().keys.len(), 1);
            });
        });
    }

    #[test]
    fn a_listing_seeks_to_its_start_and_pages_on_from_there() {
        both(|s, _| {
            block(async {
                for ms in [100, 200, 300, 400, 500] {
                    s.put(&format!("audit/r/{ms:015}/e"), b"", None)
                        .await
                        .unwrap();
                }
                s.put("audit/q/000000000000300/e", b"", None).await.unwrap();
                let start = "audit/r/000000000000300";
                let page = s
                    .list("audit/r/", Page::first(2).starting_at(start))
                    .await
                    .unwrap();
                assert_eq!(
                    page.keys,
                    ["audit/r/000000000000300/e", "audit/r/000000000000400/e"]
                );
                let next = s
                    .list(
                        "audit/r/",
                        Page::after(page.cursor.as_deref(), 2).starting_at(start),
                    )
                    .await
                    .unwrap();
                assert_eq!(next.keys, ["audit/r/000000000000500/e"]);
                assert_eq!(next.cursor, None);
                // A start before the prefix lists from the prefix; one past it, nothing.
                let all = s
                    .list("audit/r/", Page::first(10).starting_at("a"))
                    .await
                    .unwrap();
                assert_eq!(all.keys.len(), 5);
                let none = s
                    .list("audit/r/", Page::first(10).starting_at("audit/s"))
                    .await
                    .unwrap();
                assert!(none.keys.is_empty());
            });
        });
    }

    #[test]
    fn redb_persists_and_refuses_a_second_opener() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("store.redb");
        let clock = NativeClock::manual(UnixTime(10));
        {
            let s = RedbStore::open(&path, clock.clone()).unwrap();
            block(s.put("realm/demo", b"kept", None)).unwrap();
            assert!(RedbStore::open(&path, clock.clone()).is_err());
        }
        let s = RedbStore::open(&path, clock).unwrap();
        assert_eq!(
            block(s.get("realm/demo")).unwrap().as_deref(),
            Some(&b"kept"[..])
        );
    }

    /// Writes made at the same time share transactions, and each still gets its own answer:
    /// a hundred tasks incrementing one counter by compare-and-swap all succeed exactly once,
    /// and every put is there after the store is opened again.
    #[test]
    fn concurrent_writes_commit_together_and_keep_their_order() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("store.redb");
        let clock = NativeClock::manual(UnixTime(10));
        let store = Arc::new(RedbStore::open(&path, clock.clone()).unwrap());
        let before = store.commits();
        let runtime = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        runtime.block_on(async {
            let mut tasks = tokio::task::JoinSet::new();
            for i in 0..100 {
                let store = Arc::clone(&store);
                tasks.spawn(async move {
                    store
                        .put(&format!("k/{i:03}"), format!("v{i}").as_bytes(), None)
                        .await
                        .unwrap();
                    loop {
                        let current = store.get("counter").await.unwrap();
                        let n: u32 = current
                            .as_deref()
                            .map_or(0, |v| std::str::from_utf8(v).unwrap().parse().unwrap());
                        let next = (n + 1).to_string();
                        if store
                            .swap("counter", current.as_deref(), Some(next.as_bytes()), None)
                            .await
                            .unwrap()
                        {
                            break;
                        }
                    }
                });
            }
            while let Some(done) = tasks.join_next().await {
                done.unwrap();
            }
        });
        let commits = store.commits() - before;
        assert!(commits >= 2, "{commits}");
        assert!(
            commits < 200,
            "200 successful writes in {commits} transactions: not grouped"
        );
        drop(store);
        let store = RedbStore::open(&path, clock).unwrap();
        assert_eq!(
            block(store.get("counter")).unwrap().as_deref(),
            Some(&b"100"[..])
        );
        for i in 0..100 {
            assert_eq!(
                block(store.get(&format!("k/{i:03}"))).unwrap(),
                Some(format!("v{i}").into_bytes())
            );
        }
    }
}
