//! A process's parsed private keys, kept for reuse ([`KeyCache`]): unsealing a realm key and
//! parsing it (an EC key's public point, an RSA key's CRT values) costs more than the signature
//! it is for, and a fan-out to a thousand relying parties signs a thousand times with one key.

use alloc::{collections::BTreeMap, rc::Rc, string::String};
use core::cell::RefCell;

use super::jwk::Jwk;

/// Keys kept at most; the cache starts over when full (a realm has few active keys).
pub const MAX_KEYS: usize = 64;

/// Parsed private keys by a name their owner chooses (a realm's is realm and `kid`: a `kid` is
/// the key's thumbprint, so one name never stands for two keys).
#[derive(Default)]
pub struct KeyCache {
    keys: RefCell<BTreeMap<String, Rc<Jwk>>>,
}

impl core::fmt::Debug for KeyCache {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        // Names only: never the keys.
        f.debug_struct("KeyCache")
            .field("len", &self.keys.borrow().len())
            .finish_non_exhaustive()
    }
}

impl KeyCache {
    /// An empty cache.
    pub fn new() -> Self {
        Self::default()
    }

    /// The key kept as `name`.
    pub fn get(&self, name: &str) -> Option<Rc<Jwk>> {
        self.keys.borrow().get(name).cloned()
    }

    /// Keep `key` as `name`.
    pub fn insert(&self, name: String, key: Rc<Jwk>) {
        let mut keys = self.keys.borrow_mut();
        if keys.len() >= MAX_KEYS && !keys.contains_key(&name) {
            keys.clear();
        }
        keys.insert(name, key);
    }

    /// How many keys are kept.
    pub fn len(&self) -> usize {
        self.keys.borrow().len()
    }

    /// Whether none is.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}
