//! Which keys a builder's lists already hold, and where, without a copy of each key.
//!
//! ipsets and nftables sets keep an entry once however often it is added, so their builders
//! look each new entry up among those added; nftables' builder finds a chain by its name. The
//! keys are the entries' own texts: an index that held a copy of each was hundreds of
//! thousands of strings at 44,125 Services, made one by one and let go of in one piece when
//! the build ended (49–83 ms of the page), and hashed with SipHash where it grew.

use std::hash::BuildHasher;

/// The (list, item) positions of the keys added to one or more lists: a key is read back from
/// the list itself (`key_at`) whenever two hashes meet, and to hash it again when the index
/// grows.
#[derive(Default)]
pub(crate) struct Members {
    index: hashbrown::HashTable<(usize, usize)>,
    /// Seeded per process, as std's maps are: names chosen to collide cannot make a build
    /// quadratic.
    hasher: foldhash::fast::RandomState,
}

/// Reads the key at (list, item) back from the lists. (A trait object: one instantiation of
/// the index's code serves every builder, for the site's size.)
pub(crate) type KeyAt<'a, 'k> = &'a dyn Fn((usize, usize)) -> &'k str;

/// The index's hash of `key` in `list`: the same for a key looked up and for a key read back
/// from its list when the index grows.
fn hash(hasher: &foldhash::fast::RandomState, list: usize, key: &str) -> u64 {
    hasher.hash_one((list, key))
}

/// The test of a position: whether it holds `key` in `list`.
fn holds<'a, 'k>(
    list: usize,
    key: &'a str,
    key_at: KeyAt<'a, 'k>,
) -> impl Fn(&(usize, usize)) -> bool + use<'a, 'k> {
    move |&at| at.0 == list && key_at(at) == key
}

impl Members {
    /// Room for `n` more keys, so that the index is not grown (each growth hashes every key
    /// again, in one piece).
    pub fn reserve(&mut self, n: usize, key_at: KeyAt) {
        let hasher = &self.hasher;
        self.index.reserve(n, |&at| hash(hasher, at.0, key_at(at)));
    }

    /// Where `key` is in `list`, if it was added.
    pub fn find(&self, list: usize, key: &str, key_at: KeyAt) -> Option<usize> {
        let found = self
            .index
            .find(hash(&self.hasher, list, key), holds(list, key, key_at));
        found.map(|&(_, item)| item)
    }

    /// Whether `key` is new to `list`; if so it is taken as the list's item `next` (the caller
    /// adds it there).
    pub fn add(&mut self, list: usize, key: &str, next: usize, key_at: KeyAt) -> bool {
        let hasher = &self.hasher;
        let entry = self
            .index
            .entry(hash(hasher, list, key), holds(list, key, key_at), |&at| {
                hash(hasher, at.0, key_at(at))
            });
        match entry {
            hashbrown::hash_table::Entry::Occupied(_) => false,
            hashbrown::hash_table::Entry::Vacant(v) => {
                v.insert((list, next));
                true
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Keys are told apart by list and by text, whatever the growth.
    #[test]
    fn a_key_is_added_once_per_list() {
        let mut lists: Vec<Vec<String>> = vec![vec![], vec![]];
        let mut members = Members::default();
        for round in 0..2 {
            // Room made while it holds keys, as the builders make it: they are hashed again.
            members.reserve(100, &|(l, i)| &lists[l][i]);
            for n in 0..1000 {
                for list in 0..2 {
                    let key = format!("10.0.{}.{}", n / 250, n % 250);
                    let next = lists[list].len();
                    let added = members.add(list, &key, next, &|(l, i)| &lists[l][i]);
                    assert_eq!(added, round == 0, "{key} in list {list}, round {round}");
                    if added {
                        lists[list].push(key.clone());
                    }
                    let found = members.find(list, &key, &|(l, i)| &lists[l][i]);
                    assert_eq!(found.map(|i| &lists[list][i]), Some(&key));
                }
            }
        }
        assert_eq!(
            members.find(1, "10.0.1.7", &|(l, i)| &lists[l][i]),
            Some(257)
        );
        assert_eq!(members.find(1, "10.0.9.7", &|(l, i)| &lists[l][i]), None);
        assert_eq!(lists[0].len(), 1000);
        assert_eq!(lists[1].len(), 1000);
    }
}
