//! `DynamoStore`: the shared store on a DynamoDB table.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::error::{DisplayErrorContext, SdkError};
use aws_sdk_dynamodb::operation::update_item::UpdateItemError;
use aws_sdk_dynamodb::primitives::Blob;
use aws_sdk_dynamodb::types::{
    AttributeValue, DeleteRequest, KeysAndAttributes, ReturnValue, WriteRequest,
};
use futures::{StreamExt, TryStreamExt};

use super::overflow::{BodyRef, S3Overflow, sha256_hex};
use super::{AttrValue, CacheStore, Capabilities, StoreEntry};
use crate::StoreError;
use crate::clock::{self, Clock};

/// DynamoDB's maximum item size, 400 KB.
pub const MAX_ITEM_BYTES: usize = 400 * 1024;
const NAME: &str = "dynamodb";
const BATCH_GET_MAX: usize = 100;
const BATCH_WRITE_MAX: usize = 25;
const BATCH_ATTEMPTS: u32 = 8;
const BATCH_CONCURRENCY: usize = 4;

type Item = HashMap<String, AttributeValue>;

/// Attribute names of cache items; shared contract with the generator.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DynamoLayout {
    /// Partition key attribute (type S).
    pub key_attribute: String,
    /// Sort key attribute and the constant value cache items use.
    pub sort_key: Option<(String, AttrValue)>,
    /// Value attribute (type B).
    pub value_attribute: String,
    /// Application expiry attribute (type N, epoch seconds).
    pub expires_at_attribute: String,
    /// The table's TTL attribute (type N, epoch seconds), if any.
    pub ttl_attribute: Option<String>,
    /// Added to `expiresAt` for the TTL attribute.
    pub ttl_grace: Duration,
    /// Creation time attribute (type N, epoch seconds).
    pub created_at_attribute: String,
    /// String-set attribute listing a tag item's members.
    pub tag_members_attribute: String,
    /// Map attribute pointing at a value kept in S3 (object key and SHA-256), written
    /// instead of the value attribute when the value is too large for the item.
    pub value_ref_attribute: String,
}

/// Default name of [`DynamoLayout::value_ref_attribute`].
pub const DEFAULT_VALUE_REF_ATTRIBUTE: &str = cachegen_names::item::VALUE_REF;

impl Default for DynamoLayout {
    fn default() -> Self {
        Self {
            key_attribute: "pk".into(),
            sort_key: None,
            value_attribute: cachegen_names::item::VALUE.into(),
            expires_at_attribute: cachegen_names::item::EXPIRES_AT.into(),
            ttl_attribute: None,
            ttl_grace: Duration::from_secs(3600),
            created_at_attribute: cachegen_names::item::CREATED_AT.into(),
            tag_members_attribute: cachegen_names::item::TAG_MEMBERS.into(),
            value_ref_attribute: DEFAULT_VALUE_REF_ATTRIBUTE.into(),
        }
    }
}

impl DynamoLayout {
    /// A builder with defaults and the given partition key name.
    pub fn builder(key_attribute: impl Into<String>) -> DynamoLayoutBuilder {
        DynamoLayoutBuilder(Self {
            key_attribute: key_attribute.into(),
            ..Self::default()
        })
    }
}

/// Builds a [`DynamoLayout`].
#[derive(Debug, Clone)]
pub struct DynamoLayoutBuilder(DynamoLayout);

impl DynamoLayoutBuilder {
    /// Sort key attribute and its constant value.
    pub fn sort_key(mut self, name: impl Into<String>, value: AttrValue) -> Self {
        self.0.sort_key = Some((name.into(), value));
        self
    }
    /// Value attribute name.
    pub fn value_attribute(mut self, name: impl Into<String>) -> Self {
        self.0.value_attribute = name.into();
        self
    }
    /// Application expiry attribute name.
    pub fn expires_at_attribute(mut self, name: impl Into<String>) -> Self {
        self.0.expires_at_attribute = name.into();
        self
    }
    /// The table's TTL attribute name.
    pub fn ttl_attribute(mut self, name: impl Into<String>) -> Self {
        self.0.ttl_attribute = Some(name.into());
        self
    }
    /// Grace added to `expiresAt` for the TTL attribute.
    pub fn ttl_grace(mut self, grace: Duration) -> Self {
        self.0.ttl_grace = grace;
        self
    }
    /// Creation time attribute name.
    pub fn created_at_attribute(mut self, name: impl Into<String>) -> Self {
        self.0.created_at_attribute = name.into();
        self
    }
    /// Tag members attribute name.
    pub fn tag_members_attribute(mut self, name: impl Into<String>) -> Self {
        self.0.tag_members_attribute = name.into();
        self
    }
    /// Attribute name of the pointer to a value kept in S3.
    pub fn value_ref_attribute(mut self, name: impl Into<String>) -> Self {
        self.0.value_ref_attribute = name.into();
        self
    }
    /// The layout.
    pub fn build(self) -> DynamoLayout {
        self.0
    }
}

/// A [`CacheStore`] on one DynamoDB table.
///
/// # Item layout
///
/// | attribute (default name) | type | content |
/// |---|---|---|
/// | `key_attribute` (`pk`) | S | full prefixed cache key |
/// | `sort_key` (optional) | S/N | a constant, the same for every cache item |
/// | `value` | B | the encoded [envelope](crate::envelope); absent when the body is in S3 |
/// | `valueRef` (with overflow) | M | `{key: S, sha256: S}`: where the body is in S3, and its digest |
/// | `expiresAt` | N | hard expiry, epoch seconds; checked on every read |
/// | `ttl_attribute` (optional) | N | `expiresAt` + grace (default 1 h), for the table's TTL; may be `expiresAt` itself |
/// | `createdAt` | N | epoch seconds |
/// | extra attributes | S/N | per-`set` attributes, for GSIs; layout attributes win on a name clash |
///
/// # Tags
///
/// A tag key `<prefix>tag#<tag>` (built by the tiered cache) is stored as an
/// ordinary item of the same table under that partition key (and the constant
/// sort key), with a string set `members` of the cache keys written with the
/// tag, added by `UpdateItem ADD`. Its `expiresAt`/TTL attribute is raised to
/// the latest member's, never lowered. `delete_by_tag` reads that item,
/// batch-deletes the members (25 per `BatchWriteItem`, unprocessed items
/// retried), then deletes the tag item. No GSI is needed.
///
/// # Oversized values
///
/// With [`with_overflow`](Self::with_overflow), an entry that allows it
/// ([`StoreEntry::large_values`]) and would exceed [`MAX_ITEM_BYTES`] keeps every
/// attribute but its value in DynamoDB; the value goes to S3 (see [`S3Overflow`]) and
/// the item gets a `valueRef` pointer instead. The object is written first, then the
/// item, so an item never points at a body not yet written. Reads follow the pointer
/// and check the digest: a missing or replaced body is a miss, an S3 failure an error.
/// Without overflow, or for entries that do not allow it, such a value is
/// [`StoreError::TooLarge`].
///
/// Which deletions remove the S3 object:
/// - `delete` removes the object the deleted item pointed at (read back with
///   `ReturnValues=ALL_OLD`, no extra request);
/// - a large-values `set` that replaces an item pointing elsewhere (an inline value
///   now, or another prefix) removes the old object;
/// - `clear`, `delete_by_tag` and `delete_by_index` remove the object at the key each
///   deleted item would use under the current prefix (`DeleteObjects`, no extra
///   read), so objects written under another prefix stay;
/// - DynamoDB's TTL removes items only.
///
/// `has` reads the item only: it does not check that the body is still in S3.
///
/// S3 deletions are best effort (logged): what they leave, the bucket's lifecycle
/// rule on the prefix collects (see [`S3Overflow`] for its expiration).
#[derive(Debug, Clone)]
pub struct DynamoStore {
    client: Client,
    table: String,
    layout: Arc<DynamoLayout>,
    clock: Arc<dyn Clock>,
    overflow: Option<S3Overflow>,
}

/// Where an item's value is.
enum Body {
    /// In the item.
    Inline(Vec<u8>),
    /// In S3.
    Overflow(BodyRef),
}

fn attr(v: &AttrValue) -> AttributeValue {
    match v {
        AttrValue::S(s) => AttributeValue::S(s.clone()),
        AttrValue::N(n) => AttributeValue::N(n.clone()),
    }
}

/// Lease items: who holds the lease, and until when (epoch ms).
const LEASE_HOLDER: &str = "leaseHolder";
const LEASE_EXPIRES_AT: &str = "leaseExpiresAt";

fn num(n: u64) -> AttributeValue {
    AttributeValue::N(n.to_string())
}

fn sdk<E, R>(e: SdkError<E, R>) -> StoreError
where
    E: std::error::Error + Send + Sync + 'static,
    R: std::fmt::Debug + Send + Sync + 'static,
{
    StoreError::backend(NAME, DisplayErrorContext(&e).to_string())
}

fn built(e: aws_sdk_dynamodb::error::BuildError) -> StoreError {
    StoreError::backend(NAME, e)
}

/// Approximate DynamoDB item size: attribute names plus values.
fn item_size(item: &Item) -> usize {
    item.iter().map(|(k, v)| k.len() + value_size(v)).sum()
}

/// Approximate size of one attribute value, after DynamoDB's sizing rules.
fn value_size(value: &AttributeValue) -> usize {
    match value {
        AttributeValue::S(s) => s.len(),
        AttributeValue::N(n) => n.len().div_ceil(2) + 1,
        AttributeValue::B(b) => b.as_ref().len(),
        AttributeValue::Ss(set) => set.iter().map(String::len).sum(),
        AttributeValue::Ns(set) => set.iter().map(|n| n.len().div_ceil(2) + 1).sum(),
        AttributeValue::Bs(set) => set.iter().map(|b| b.as_ref().len()).sum(),
        AttributeValue::M(map) => {
            3 + map
                .iter()
                .map(|(k, v)| k.len() + value_size(v) + 1)
                .sum::<usize>()
        }
        AttributeValue::L(list) => 3 + list.iter().map(|v| value_size(v) + 1).sum::<usize>(),
        _ => 1,
    }
}

impl DynamoStore {
    /// A store on `table` with `layout`.
    pub fn new(client: Client, table: impl Into<String>, layout: DynamoLayout) -> Self {
        Self {
            client,
            table: table.into(),
            layout: Arc::new(layout),
            clock: clock::system(),
            overflow: None,
        }
    }

    /// Keeps values over [`MAX_ITEM_BYTES`] in S3, for entries that allow it.
    pub fn with_overflow(mut self, overflow: S3Overflow) -> Self {
        self.overflow = Some(overflow);
        self
    }

    /// Where oversized values go, if configured.
    pub fn overflow(&self) -> Option<&S3Overflow> {
        self.overflow.as_ref()
    }

    /// Uses `clock` for the application-level expiry check.
    pub fn with_clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    /// For each live (unexpired) item among `keys`, the scalar attributes among `names`
    /// it has; reads only those attributes, not the values. For callers that need to know
    /// what is cached already, such as a backfill that skips up-to-date items.
    pub async fn live_attributes(
        &self,
        keys: &[String],
        names: &[&str],
    ) -> Result<HashMap<String, super::Attributes>, StoreError> {
        let l = &self.layout;
        let mut projected: Vec<&str> = vec![&l.key_attribute, &l.expires_at_attribute];
        projected.extend(names);
        let mut live = HashMap::new();
        for chunk in keys.chunks(BATCH_GET_MAX) {
            for item in self.batch_get_projected(chunk, &projected).await? {
                let Some(key) = self.key_of(&item).filter(|_| self.is_live(&item)) else {
                    continue;
                };
                let attributes = names
                    .iter()
                    .filter_map(|name| {
                        let value = match item.get(*name)? {
                            AttributeValue::S(text) => AttrValue::S(text.clone()),
                            AttributeValue::N(number) => AttrValue::N(number.clone()),
                            _ => return None,
                        };
                        Some(((*name).to_owned(), value))
                    })
                    .collect();
                live.insert(key, attributes);
            }
        }
        Ok(live)
    }

    /// Deletes every item that index `index` finds under `attribute = value` and whose key
    /// starts with `key_prefix`, paging through the query; returns how many it deleted.
    ///
    /// GSIs are eventually consistent: an item written a moment ago may not be found yet.
    pub async fn delete_by_index(
        &self,
        index: &str,
        attribute: &str,
        value: &str,
        key_prefix: &str,
    ) -> Result<u64, StoreError> {
        let l = &self.layout;
        let mut names = HashMap::from([
            ("#a".to_owned(), attribute.to_owned()),
            ("#k".to_owned(), l.key_attribute.clone()),
        ]);
        let mut projection = "#k".to_owned();
        if let Some((sk, _)) = &l.sort_key {
            names.insert("#s".into(), sk.clone());
            projection.push_str(", #s");
        }
        let mut request = self
            .client
            .query()
            .table_name(&self.table)
            .index_name(index)
            .key_condition_expression("#a = :v")
            .projection_expression(projection)
            .set_expression_attribute_names(Some(names))
            .expression_attribute_values(":v", AttributeValue::S(value.to_owned()));
        if !key_prefix.is_empty() {
            request = request
                .filter_expression("begins_with(#k, :p)")
                .expression_attribute_values(":p", AttributeValue::S(key_prefix.to_owned()));
        }
        let mut keys = Vec::new();
        let mut pages = request.into_paginator().items().send();
        while let Some(item) = pages.next().await {
            keys.push(item.map_err(sdk)?);
        }
        self.batch_delete(keys).await
    }

    /// The DynamoDB client.
    pub fn client(&self) -> &Client {
        &self.client
    }

    /// The table name.
    pub fn table(&self) -> &str {
        &self.table
    }

    /// The layout.
    pub fn layout(&self) -> &DynamoLayout {
        &self.layout
    }

    fn key(&self, key: &str) -> Item {
        let mut k = Item::with_capacity(2);
        k.insert(
            self.layout.key_attribute.clone(),
            AttributeValue::S(key.to_owned()),
        );
        if let Some((name, value)) = &self.layout.sort_key {
            k.insert(name.clone(), attr(value));
        }
        k
    }

    fn key_of(&self, item: &Item) -> Option<String> {
        match item.get(&self.layout.key_attribute) {
            Some(AttributeValue::S(s)) => Some(s.clone()),
            _ => None,
        }
    }

    /// Whether `item` has an expiry, still ahead of the clock.
    fn is_live(&self, item: &Item) -> bool {
        match item.get(&self.layout.expires_at_attribute) {
            Some(AttributeValue::N(n)) => n
                .parse::<u64>()
                .is_ok_and(|expires| expires.saturating_mul(1000) > self.clock.now_ms()),
            _ => false,
        }
    }

    /// The value of a live cache item, or where it is; `None` if expired or malformed.
    fn live_value(&self, mut item: Item) -> Option<Body> {
        if !self.is_live(&item) {
            return None;
        }
        match item.remove(&self.layout.value_attribute) {
            Some(AttributeValue::B(b)) => Some(Body::Inline(b.into_inner())),
            Some(_) => None,
            None => item
                .get(&self.layout.value_ref_attribute)
                .and_then(BodyRef::from_attribute)
                .map(Body::Overflow),
        }
    }

    /// The value bytes of `body`, reading S3 for a pointer: a body that is missing,
    /// replaced, or unreadable here (no overflow configured) is `None`.
    async fn resolve(&self, body: Body) -> Result<Option<Vec<u8>>, StoreError> {
        match (body, &self.overflow) {
            (Body::Inline(bytes), _) => Ok(Some(bytes)),
            (Body::Overflow(reference), Some(overflow)) => overflow.get(&reference).await,
            (Body::Overflow(reference), None) => {
                tracing::debug!(key = %reference.key, "value in S3 but no overflow bucket configured: a miss");
                Ok(None)
            }
        }
    }

    /// The S3 object an old item pointed at, if it is not `kept` (the one just written).
    fn old_object(&self, old: Option<&Item>, kept: Option<&BodyRef>) -> Option<String> {
        let old = BodyRef::from_attribute(old?.get(&self.layout.value_ref_attribute)?)?;
        (kept.map(|r| &r.key) != Some(&old.key)).then_some(old.key)
    }

    fn ttl_value(&self, expires_at_s: u64) -> u64 {
        expires_at_s + self.layout.ttl_grace.as_secs()
    }

    async fn add_tag_member(
        &self,
        tag: &str,
        key: &str,
        expires_at_s: u64,
    ) -> Result<(), StoreError> {
        let l = &self.layout;
        let update = |raise_expiry: bool| {
            let mut req = self
                .client
                .update_item()
                .table_name(&self.table)
                .set_key(Some(self.key(tag)))
                .expression_attribute_names("#m", &l.tag_members_attribute)
                .expression_attribute_values(":m", AttributeValue::Ss(vec![key.to_owned()]));
            if !raise_expiry {
                return req.update_expression("ADD #m :m");
            }
            let mut expr = "ADD #m :m SET #e = :e".to_owned();
            req = req
                .expression_attribute_names("#e", &l.expires_at_attribute)
                .expression_attribute_values(":e", num(expires_at_s))
                .condition_expression("attribute_not_exists(#e) OR #e < :e");
            if let Some(ttl) = l
                .ttl_attribute
                .as_ref()
                .filter(|t| **t != l.expires_at_attribute)
            {
                expr.push_str(", #t = :t");
                req = req
                    .expression_attribute_names("#t", ttl)
                    .expression_attribute_values(":t", num(self.ttl_value(expires_at_s)));
            }
            req.update_expression(expr)
        };
        match update(true).send().await {
            Ok(_) => Ok(()),
            Err(SdkError::ServiceError(e))
                if matches!(e.err(), UpdateItemError::ConditionalCheckFailedException(_)) =>
            {
                // The tag already outlives this member: only add the member.
                update(false).send().await.map(drop).map_err(sdk)
            }
            Err(e) => Err(sdk(e)),
        }
    }

    async fn batch_get(&self, keys: &[String]) -> Result<Vec<Item>, StoreError> {
        self.batch_get_projected(keys, &[]).await
    }

    /// Like `batch_get`, reading only `attributes` (all when empty).
    async fn batch_get_projected(
        &self,
        keys: &[String],
        attributes: &[&str],
    ) -> Result<Vec<Item>, StoreError> {
        let mut pending: Vec<Item> = keys.iter().map(|k| self.key(k)).collect();
        let mut found = Vec::with_capacity(keys.len());
        let placeholders: Vec<String> = (0..attributes.len()).map(|n| format!("#a{n}")).collect();
        let projection = (!attributes.is_empty()).then(|| placeholders.join(", "));
        let names: HashMap<String, String> = placeholders
            .into_iter()
            .zip(attributes.iter().map(|name| (*name).to_owned()))
            .collect();
        for attempt in 0..BATCH_ATTEMPTS {
            if pending.is_empty() {
                return Ok(found);
            }
            backoff(attempt).await;
            let ka = KeysAndAttributes::builder()
                .set_keys(Some(std::mem::take(&mut pending)))
                .set_projection_expression(projection.clone())
                .set_expression_attribute_names((!names.is_empty()).then(|| names.clone()))
                .build()
                .map_err(built)?;
            let out = self
                .client
                .batch_get_item()
                .request_items(&self.table, ka)
                .send()
                .await
                .map_err(sdk)?;
            if let Some(mut r) = out.responses {
                found.extend(r.remove(&self.table).unwrap_or_default());
            }
            if let Some(mut u) = out.unprocessed_keys {
                pending = u.remove(&self.table).map(|ka| ka.keys).unwrap_or_default();
            }
        }
        if pending.is_empty() {
            Ok(found)
        } else {
            Err(StoreError::backend(
                NAME,
                format!("{} keys still unprocessed by BatchGetItem", pending.len()),
            ))
        }
    }

    /// Deletes the items with `keys`, then (with overflow) the objects at their keys.
    async fn batch_delete(&self, keys: Vec<Item>) -> Result<u64, StoreError> {
        let n = keys.len() as u64;
        let objects: Vec<String> = match &self.overflow {
            Some(overflow) => keys
                .iter()
                .filter_map(|item| self.key_of(item))
                .map(|key| overflow.object_key(&self.table, &key))
                .collect(),
            None => Vec::new(),
        };
        let chunks: Vec<Vec<Item>> = keys.chunks(BATCH_WRITE_MAX).map(<[Item]>::to_vec).collect();
        futures::stream::iter(chunks)
            .map(|chunk| self.batch_delete_chunk(chunk))
            .buffer_unordered(BATCH_CONCURRENCY)
            .try_collect::<Vec<()>>()
            .await?;
        if let Some(overflow) = &self.overflow {
            overflow.delete_best_effort(objects).await;
        }
        Ok(n)
    }

    async fn batch_delete_chunk(&self, keys: Vec<Item>) -> Result<(), StoreError> {
        let mut pending = keys
            .into_iter()
            .map(|k| {
                let del = DeleteRequest::builder()
                    .set_key(Some(k))
                    .build()
                    .map_err(built)?;
                Ok(WriteRequest::builder().delete_request(del).build())
            })
            .collect::<Result<Vec<_>, StoreError>>()?;
        for attempt in 0..BATCH_ATTEMPTS {
            if pending.is_empty() {
                return Ok(());
            }
            backoff(attempt).await;
            let out = self
                .client
                .batch_write_item()
                .request_items(&self.table, std::mem::take(&mut pending))
                .send()
                .await
                .map_err(sdk)?;
            pending = out
                .unprocessed_items
                .and_then(|mut u| u.remove(&self.table))
                .unwrap_or_default();
        }
        if pending.is_empty() {
            Ok(())
        } else {
            Err(StoreError::backend(
                NAME,
                format!(
                    "{} deletes still unprocessed by BatchWriteItem",
                    pending.len()
                ),
            ))
        }
    }
}

/// Exponential backoff before retry `attempt` (none before the first).
async fn backoff(attempt: u32) {
    if attempt > 0 {
        tokio::time::sleep(Duration::from_millis(25 << attempt.min(6))).await;
    }
}

#[async_trait]
impl CacheStore for DynamoStore {
    fn name(&self) -> &'static str {
        NAME
    }

    fn capabilities(&self) -> Capabilities {
        Capabilities {
            tags: true,
            pattern_delete: false,
        }
    }

    async fn get(&self, key: &str) -> Result<Option<Vec<u8>>, StoreError> {
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .set_key(Some(self.key(key)))
            .send()
            .await
            .map_err(sdk)?;
        match out.item.and_then(|item| self.live_value(item)) {
            Some(body) => self.resolve(body).await,
            None => Ok(None),
        }
    }

    async fn get_many(&self, keys: &[String]) -> Result<HashMap<String, Vec<u8>>, StoreError> {
        let mut unique = keys.to_vec();
        unique.sort_unstable();
        unique.dedup();
        let chunks: Vec<Vec<String>> = unique
            .chunks(BATCH_GET_MAX)
            .map(<[String]>::to_vec)
            .collect();
        let items: Vec<Vec<Item>> = futures::stream::iter(chunks)
            .map(|chunk| async move { self.batch_get(&chunk).await })
            .buffer_unordered(BATCH_CONCURRENCY)
            .try_collect()
            .await?;
        let bodies: Vec<(String, Body)> = items
            .into_iter()
            .flatten()
            .filter_map(|item| Some((self.key_of(&item)?, self.live_value(item)?)))
            .collect();
        let resolved: Vec<Option<(String, Vec<u8>)>> = futures::stream::iter(bodies)
            .map(|(key, body)| async move {
                Ok::<_, StoreError>(self.resolve(body).await?.map(|bytes| (key, bytes)))
            })
            .buffer_unordered(BATCH_CONCURRENCY)
            .try_collect()
            .await?;
        Ok(resolved.into_iter().flatten().collect())
    }

    async fn set(&self, key: &str, entry: StoreEntry<'_>) -> Result<(), StoreError> {
        let l = &self.layout;
        let expires_at_s = entry.expires_at_ms.div_ceil(1000);
        let mut item: Item = entry
            .attributes
            .iter()
            .map(|(k, v)| (k.clone(), attr(v)))
            .collect();
        item.extend(self.key(key));
        item.insert(l.expires_at_attribute.clone(), num(expires_at_s));
        item.insert(
            l.created_at_attribute.clone(),
            num(entry.created_at_ms / 1000),
        );
        if let Some(ttl) = &l.ttl_attribute {
            // When the TTL attribute is expiresAt itself, the grace is not added.
            item.entry(ttl.clone())
                .or_insert_with(|| num(self.ttl_value(expires_at_s)));
        }
        // The value inline when it fits; else, where allowed, a pointer to its S3 copy.
        let inline_size = item_size(&item) + l.value_attribute.len() + entry.value.len();
        let overflow = self.overflow.as_ref().filter(|_| entry.large_values);
        let reference = match overflow {
            Some(overflow) if inline_size > MAX_ITEM_BYTES => {
                let reference = BodyRef {
                    key: overflow.object_key(&self.table, key),
                    sha256: sha256_hex(entry.value),
                };
                item.insert(l.value_ref_attribute.clone(), reference.to_attribute());
                Some(reference)
            }
            _ => {
                item.insert(
                    l.value_attribute.clone(),
                    AttributeValue::B(Blob::new(entry.value)),
                );
                None
            }
        };
        let size = item_size(&item);
        if size > MAX_ITEM_BYTES {
            return Err(StoreError::TooLarge {
                store: NAME,
                key: key.to_owned(),
                size,
                limit: MAX_ITEM_BYTES,
            });
        }
        // The body first: an item never points at a body not yet written.
        if let (Some(overflow), Some(reference)) = (overflow, &reference) {
            overflow.put(reference, entry.value).await?;
        }
        let old = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item))
            // A large-values item may replace one whose body is elsewhere in S3.
            .set_return_values(overflow.map(|_| ReturnValue::AllOld))
            .send()
            .await
            .map_err(sdk)?
            .attributes;
        if let (Some(overflow), Some(stale)) =
            (overflow, self.old_object(old.as_ref(), reference.as_ref()))
        {
            overflow.delete_best_effort(vec![stale]).await;
        }
        for tag in entry.tags {
            self.add_tag_member(tag, key, expires_at_s).await?;
        }
        Ok(())
    }

    async fn delete(&self, key: &str) -> Result<(), StoreError> {
        let old = self
            .client
            .delete_item()
            .table_name(&self.table)
            .set_key(Some(self.key(key)))
            // With overflow, the deleted item says whether it had a body in S3.
            .set_return_values(self.overflow.as_ref().map(|_| ReturnValue::AllOld))
            .send()
            .await
            .map_err(sdk)?
            .attributes;
        if let (Some(overflow), Some(object)) =
            (&self.overflow, self.old_object(old.as_ref(), None))
        {
            overflow.delete_best_effort(vec![object]).await;
        }
        Ok(())
    }

    async fn has(&self, key: &str) -> Result<bool, StoreError> {
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .set_key(Some(self.key(key)))
            .projection_expression("#e")
            .expression_attribute_names("#e", &self.layout.expires_at_attribute)
            .send()
            .await
            .map_err(sdk)?;
        let expires_ms = match out
            .item
            .as_ref()
            .and_then(|i| i.get(&self.layout.expires_at_attribute))
        {
            Some(AttributeValue::N(n)) => n.parse::<u64>().map_or(0, |s| s.saturating_mul(1000)),
            _ => 0,
        };
        Ok(expires_ms > self.clock.now_ms())
    }

    async fn clear(&self, prefix: &str) -> Result<u64, StoreError> {
        let l = &self.layout;
        let mut names = HashMap::from([("#k".to_owned(), l.key_attribute.clone())]);
        let mut projection = "#k".to_owned();
        if let Some((sk, _)) = &l.sort_key {
            names.insert("#s".into(), sk.clone());
            projection.push_str(", #s");
        }
        let mut req = self
            .client
            .scan()
            .table_name(&self.table)
            .projection_expression(projection)
            .set_expression_attribute_names(Some(names));
        if !prefix.is_empty() {
            req = req
                .filter_expression("begins_with(#k, :p)")
                .expression_attribute_values(":p", AttributeValue::S(prefix.to_owned()));
        }
        let mut keys = Vec::new();
        let mut pages = req.into_paginator().items().send();
        while let Some(item) = pages.next().await {
            let item = item.map_err(sdk)?;
            let same_sort = l
                .sort_key
                .as_ref()
                .is_none_or(|(n, v)| item.get(n) == Some(&attr(v)));
            if same_sort {
                keys.push(item);
            }
        }
        self.batch_delete(keys).await
    }

    async fn acquire_lease(
        &self,
        key: &str,
        holder: &str,
        ttl: Duration,
    ) -> Result<bool, StoreError> {
        let now = self.clock.now_ms();
        let expires = now + ttl.as_millis() as u64;
        let mut item = self.key(key);
        item.insert(LEASE_HOLDER.into(), AttributeValue::S(holder.to_owned()));
        item.insert(LEASE_EXPIRES_AT.into(), num(expires));
        if let Some(ttl_attribute) = &self.layout.ttl_attribute {
            item.insert(
                ttl_attribute.clone(),
                num(self.ttl_value(expires.div_ceil(1000))),
            );
        }
        let put = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item))
            .condition_expression("attribute_not_exists(#k) OR #e < :now")
            .expression_attribute_names("#k", &self.layout.key_attribute)
            .expression_attribute_names("#e", LEASE_EXPIRES_AT)
            .expression_attribute_values(":now", num(now))
            .send()
            .await;
        match put {
            Ok(_) => Ok(true),
            Err(e)
                if e.as_service_error()
                    .is_some_and(|e| e.is_conditional_check_failed_exception()) =>
            {
                Ok(false)
            }
            Err(e) => Err(sdk(e)),
        }
    }

    async fn release_lease(&self, key: &str, holder: &str) -> Result<(), StoreError> {
        let delete = self
            .client
            .delete_item()
            .table_name(&self.table)
            .set_key(Some(self.key(key)))
            .condition_expression("#h = :h")
            .expression_attribute_names("#h", LEASE_HOLDER)
            .expression_attribute_values(":h", AttributeValue::S(holder.to_owned()))
            .send()
            .await;
        match delete {
            Ok(_) => Ok(()),
            Err(e)
                if e.as_service_error()
                    .is_some_and(|e| e.is_conditional_check_failed_exception()) =>
            {
                Ok(())
            }
            Err(e) => Err(sdk(e)),
        }
    }

    async fn delete_by_tag(&self, tag: &str) -> Result<u64, StoreError> {
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .set_key(Some(self.key(tag)))
            .consistent_read(true)
            .send()
            .await
            .map_err(sdk)?;
        let members = match out
            .item
            .and_then(|mut i| i.remove(&self.layout.tag_members_attribute))
        {
            Some(AttributeValue::Ss(members)) => members,
            _ => return Ok(0),
        };
        let n = self
            .batch_delete(members.iter().map(|m| self.key(m)).collect())
            .await?;
        self.delete(tag).await?;
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_count_names_values_and_nested_maps() {
        let reference = BodyRef {
            key: "overflow/t/k".into(),
            sha256: "0".repeat(64),
        };
        let item = Item::from([
            ("pk".to_owned(), AttributeValue::S("user#1".into())),
            ("expiresAt".to_owned(), num(1_700_000_000)),
            ("valueRef".to_owned(), reference.to_attribute()),
        ]);
        // pk: 2 + 6; expiresAt: 9 + 6; valueRef: 8 + 3 + (3 + 12 + 1) + (6 + 64 + 1).
        assert_eq!(item_size(&item), 8 + 15 + 8 + 3 + 16 + 71);
        let blob = AttributeValue::B(Blob::new(vec![0u8; MAX_ITEM_BYTES]));
        assert_eq!(value_size(&blob), MAX_ITEM_BYTES);
    }
}
