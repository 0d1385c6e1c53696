//! Typed tables: every record is a JSON value under a redb key, declared once as a constant.

use std::borrow::Borrow;
use std::marker::PhantomData;
use std::ops::{ControlFlow, RangeBounds};

use redb::{Key, ReadableTable, TableDefinition};
use serde::Serialize;
use serde::de::DeserializeOwned;

use super::StoreError;

/// A table of `V` records (stored as JSON) keyed by `K`.
pub struct JsonTable<K: Key + 'static, V> {
    def: TableDefinition<'static, K, &'static [u8]>,
    name: &'static str,
    _record: PhantomData<fn() -> V>,
}

impl<K: Key + 'static, V> JsonTable<K, V> {
    /// Declares a table; the name is its identity in the file and must never change.
    pub const fn new(name: &'static str) -> Self {
        Self {
            def: TableDefinition::new(name),
            name,
            _record: PhantomData,
        }
    }

    /// The underlying redb definition.
    pub fn definition(&self) -> TableDefinition<'static, K, &'static [u8]> {
        self.def
    }

    /// The table's name, for error messages.
    pub fn name(&self) -> &'static str {
        self.name
    }
}

/// A typed table opened in a read snapshot.
pub type ReadTable<K, V> = Typed<redb::ReadOnlyTable<K, &'static [u8]>, K, V>;

/// A typed table opened in a write transaction.
pub type WriteTable<'t, K, V> = Typed<redb::Table<'t, K, &'static [u8]>, K, V>;

/// An open table inside a transaction; `T` is redb's read-only or writable table.
pub struct Typed<T, K: Key + 'static, V> {
    inner: T,
    name: &'static str,
    _types: PhantomData<fn() -> (K, V)>,
}

impl<T, K: Key + 'static, V> Typed<T, K, V> {
    pub(super) fn new(inner: T, name: &'static str) -> Self {
        Self {
            inner,
            name,
            _types: PhantomData,
        }
    }
}

impl<T, K, V> Typed<T, K, V>
where
    T: ReadableTable<K, &'static [u8]>,
    K: Key + 'static,
    V: DeserializeOwned,
{
    fn decode(&self, bytes: &[u8]) -> Result<V, StoreError> {
        serde_json::from_slice(bytes).map_err(|e| StoreError::Corrupt {
            table: self.name,
            message: e.to_string(),
        })
    }

    /// The record under `key`, if any.
    pub fn get<'a>(&self, key: impl Borrow<K::SelfType<'a>>) -> Result<Option<V>, StoreError> {
        match self.inner.get(key)? {
            Some(guard) => self.decode(guard.value()).map(Some),
            None => Ok(None),
        }
    }

    /// Visits records in key order within `range` until `visit` breaks.
    pub fn scan<'a, KR>(
        &self,
        range: impl RangeBounds<KR> + 'a,
        mut visit: impl FnMut(K::SelfType<'_>, V) -> ControlFlow<()>,
    ) -> Result<(), StoreError>
    where
        KR: Borrow<K::SelfType<'a>> + 'a,
    {
        for entry in self.inner.range(range)? {
            let (key, value) = entry?;
            let record = self.decode(value.value())?;
            if visit(key.value(), record).is_break() {
                break;
            }
        }
        Ok(())
    }

    /// The last key and record in key order.
    pub fn last(&self) -> Result<Option<V>, StoreError> {
        match self.inner.last()? {
            Some((_, value)) => self.decode(value.value()).map(Some),
            None => Ok(None),
        }
    }

    /// Number of records.
    pub fn len(&self) -> Result<u64, StoreError> {
        Ok(self.inner.len()?)
    }

    /// Whether the table is empty.
    pub fn is_empty(&self) -> Result<bool, StoreError> {
        Ok(self.inner.is_empty()?)
    }
}

impl<T, V> Typed<T, &'static str, V>
where
    T: ReadableTable<&'static str, &'static [u8]>,
    V: DeserializeOwned,
{
    /// The record of `org` (or the org itself, with `org` `None`) spelled exactly `name`.
    pub fn named(&self, org: Option<&str>, name: &str) -> Result<Option<V>, StoreError>
    where
        V: super::Named,
    {
        let key = match org {
            Some(org) => super::org_key(org, name),
            None => name.to_ascii_lowercase(),
        };
        Ok(self
            .get(key.as_str())?
            .filter(|record| record.name() == name))
    }

    /// The keys starting with `prefix`, in key order, without decoding their records (for
    /// index tables).
    pub fn keys_with_prefix(&self, prefix: &str) -> Result<Vec<String>, StoreError> {
        let mut keys = Vec::new();
        for entry in self.inner.range(prefix..)? {
            let (key, _) = entry?;
            let key = key.value();
            if !key.starts_with(prefix) {
                break;
            }
            keys.push(key.to_string());
        }
        Ok(keys)
    }

    /// How many keys start with `prefix` (no record decoded, no key copied).
    pub fn count_prefix(&self, prefix: &str) -> Result<usize, StoreError> {
        let mut count = 0;
        for entry in self.inner.range(prefix..)? {
            if !entry?.0.value().starts_with(prefix) {
                break;
            }
            count += 1;
        }
        Ok(count)
    }

    /// The keys starting with `prefix`, last first, skipping `skip` and keeping `take`: one
    /// page of an index, newest first.
    pub fn keys_with_prefix_rev(
        &self,
        prefix: &str,
        skip: usize,
        take: usize,
    ) -> Result<Vec<String>, StoreError> {
        let end = format!("{prefix}\u{10FFFF}");
        let mut keys = Vec::new();
        for entry in self
            .inner
            .range(prefix..end.as_str())?
            .rev()
            .skip(skip)
            .take(take)
        {
            keys.push(entry?.0.value().to_string());
        }
        Ok(keys)
    }

    /// Every record whose key starts with `prefix`, in key order.
    pub fn with_prefix(&self, prefix: &str) -> Result<Vec<(String, V)>, StoreError> {
        let mut found = Vec::new();
        self.scan(prefix.., |key, value| {
            if !key.starts_with(prefix) {
                return ControlFlow::Break(());
            }
            found.push((key.to_string(), value));
            ControlFlow::Continue(())
        })?;
        Ok(found)
    }
}

impl<K, V> Typed<redb::Table<'_, K, &'static [u8]>, K, V>
where
    K: Key + 'static,
    V: Serialize,
{
    /// Stores `value` under `key`, replacing any previous record.
    pub fn put<'k>(
        &mut self,
        key: impl Borrow<K::SelfType<'k>>,
        value: &V,
    ) -> Result<(), StoreError> {
        let bytes = serde_json::to_vec(value).map_err(|e| StoreError::Corrupt {
            table: self.name,
            message: e.to_string(),
        })?;
        self.inner.insert(key, bytes.as_slice())?;
        Ok(())
    }

    /// Removes the record under `key`; true when one existed.
    pub fn remove<'k>(&mut self, key: impl Borrow<K::SelfType<'k>>) -> Result<bool, StoreError> {
        Ok(self.inner.remove(key)?.is_some())
    }
}

impl<V> Typed<redb::Table<'_, &'static str, &'static [u8]>, &'static str, V> {
    /// Removes every record whose key starts with `prefix`; returns how many.
    pub fn remove_prefix(&mut self, prefix: &str) -> Result<usize, StoreError> {
        let mut removed = 0;
        self.inner.retain_in(prefix.., |key, _| {
            let matches = key.starts_with(prefix);
            removed += usize::from(matches);
            !matches
        })?;
        Ok(removed)
    }
}

impl<K, V> Typed<redb::Table<'_, K, &'static [u8]>, K, V>
where
    K: Key + 'static,
    V: DeserializeOwned,
{
    /// Removes every record for which `doomed` holds; returns how many. Undecodable records
    /// are kept (and reported by the next read).
    pub fn remove_where(
        &mut self,
        mut doomed: impl FnMut(&V) -> bool,
    ) -> Result<usize, StoreError> {
        let mut removed = 0;
        self.inner.retain(|_, bytes| {
            let remove = serde_json::from_slice::<V>(bytes).is_ok_and(|v| doomed(&v));
            removed += usize::from(remove);
            !remove
        })?;
        Ok(removed)
    }
}
