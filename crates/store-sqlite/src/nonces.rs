//! Signature nonces seen within their window, in this process's memory (one
//! SQLite file is served by one node). Remembered as 64-bit keyed hashes
//! (8 bytes each) until their timestamp leaves the window; beyond
//! `max_entries` the oldest are forgotten first.

use std::collections::hash_map::RandomState;
use std::collections::{HashSet, VecDeque};
use std::hash::BuildHasher;
use std::sync::Mutex;

pub(crate) struct NonceCache {
    hasher: RandomState,
    inner: Mutex<NonceInner>,
    max_entries: usize,
}

struct NonceInner {
    seen: HashSet<u64>,
    /// (expires_at_s, hash) in arrival order.
    expiry: VecDeque<(i64, u64)>,
}

impl NonceCache {
    pub(crate) fn new(max_entries: usize) -> NonceCache {
        NonceCache {
            hasher: RandomState::new(),
            inner: Mutex::new(NonceInner { seen: HashSet::new(), expiry: VecDeque::new() }),
            max_entries,
        }
    }

    /// Records a nonce; false when it was already seen.
    pub(crate) fn first_use(&self, key_id: &str, nonce: &str, expires_at_s: i64, now_s: i64) -> bool {
        let h = self.hasher.hash_one((key_id, nonce));
        let mut inner = self.inner.lock().expect("nonce cache poisoned");
        while let Some(&(exp, old)) = inner.expiry.front() {
            if exp >= now_s && inner.expiry.len() < self.max_entries {
                break;
            }
            inner.expiry.pop_front();
            inner.seen.remove(&old);
        }
        if !inner.seen.insert(h) {
            return false;
        }
        inner.expiry.push_back((expires_at_s, h));
        true
    }
}
