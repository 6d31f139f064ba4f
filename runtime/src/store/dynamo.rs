//! `DynamoStore`: the shared store on a DynamoDB table.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_dynamodb::operation::put_item::PutItemOutput;
use aws_sdk_dynamodb::operation::put_item::builders::PutItemFluentBuilder;
use aws_sdk_dynamodb::primitives::Blob;
use aws_sdk_dynamodb::types::{
    AttributeValue, KeysAndAttributes, PutRequest, ReturnValue,
    ReturnValuesOnConditionCheckFailure, TransactWriteItem, Update, WriteRequest,
};
use cachegen_names::sort_key::{INTERNAL_NUMBER, INTERNAL_STRING, SEPARATOR};
use futures::{StreamExt, TryStreamExt};

use super::aws_error::DYNAMODB;
use super::overflow::{BodyRef, S3Overflow, sha256_hex};
use super::{
    AttrValue, Attributes, CacheStore, Capabilities, INTERNAL_KEY_MARKER, LeaseHolder,
    LeaseOutcome, Precondition, Slot, Stamp, StoreEntry, TOMBSTONE_LIFETIME, TableRef, Version,
};
use crate::clock::{self, Clock};
use crate::error::StoreError;
use crate::query::{IndexQuery, PageToken};

mod query;

/// DynamoDB's maximum item size, 400 KB.
pub const MAX_ITEM_BYTES: usize = 400 * 1024;
/// Default name of [`DynamoLayout::value_ref_attribute`].
pub const DEFAULT_VALUE_REF_ATTRIBUTE: &str = cachegen_names::item::VALUE_REF;
/// Default name of [`DynamoLayout::version_attribute`].
pub const DEFAULT_VERSION_ATTRIBUTE: &str = cachegen_names::item::VERSION;

const NAME: &str = "dynamodb";

/// What a batch read makes of keys DynamoDB left unread after its retries.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Unread {
    /// Misses: a value read again from the origin.
    Miss,
    /// An error: a stamp must be read, never assumed.
    Fail,
}
const BATCH_GET_MAX: usize = 100;
const BATCH_WRITE_MAX: usize = 25;
const TRANSACT_MAX: usize = 100;
/// Rounds of a batch call in a row that made no progress before it gives up.
const BATCH_STALLS: u32 = 8;
const BATCH_CONCURRENCY: usize = 4;
/// Attempts at a sharded stamp bump that concurrent bumps keep refusing.
const BUMP_ATTEMPTS: u32 = 8;
/// How long a stamp item outlives its last bump: longer than any TTL cachegen accepts,
/// so no entry outlives the stamp it was checked against.
const STAMP_LIFETIME: Duration = Duration::from_secs(400 * 24 * 3600);
/// Lease attributes: who holds the key's lease, and until when (epoch ms).
const LEASE_HOLDER: &str = "leaseHolder";
const LEASE_EXPIRES_AT: &str = "leaseExpiresAt";
/// Stamp counters are top-level attributes named with this prefix.
const STAMP_COUNTER_PREFIX: &str = "stamp:";

type Item = HashMap<String, AttributeValue>;

/// The sort key of a table that has one, and how each cache item gets its value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SortKey {
    /// Every cache item has the same value, so the table's other items can use others.
    Constant {
        /// The sort key attribute.
        attribute: String,
        /// The value of every cache item.
        value: AttrValue,
    },
    /// Each key carries its item's sort value after [`SEPARATOR`]: `pk\u{1f}sk` is the item
    /// with partition `pk` and sort `sk`. The runtime's own items, whose keys have none, get
    /// [`INTERNAL_STRING`] or [`INTERNAL_NUMBER`]. The layout of generated crates, whose
    /// data types render both key templates.
    FromKey {
        /// The sort key attribute.
        attribute: String,
        /// Its DynamoDB type.
        kind: SortKeyType,
    },
}

/// The DynamoDB type of a sort key whose values come from the keys.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SortKeyType {
    /// A string (`S`).
    S,
    /// A number (`N`): the key's sort part is its decimal text.
    N,
}

impl SortKey {
    /// The sort key attribute.
    pub fn attribute(&self) -> &str {
        match self {
            Self::Constant { attribute, .. } | Self::FromKey { attribute, .. } => attribute,
        }
    }
}

/// How an attribute keys an index, which bounds the strings DynamoDB takes in it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IndexKeyRole {
    /// An index partition key: at most 2,048 bytes.
    Partition,
    /// An index sort key: at most 1,024 bytes.
    Sort,
}

impl IndexKeyRole {
    /// The longest string value DynamoDB takes for a key of this role, in bytes.
    pub fn max_bytes(self) -> usize {
        match self {
            Self::Partition => 2048,
            Self::Sort => 1024,
        }
    }
}

/// Attribute names of cache items; shared contract with the generator.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DynamoLayout {
    /// Partition key attribute (type S).
    pub key_attribute: String,
    /// The table's sort key, if it has one, and how cache items get its value.
    pub sort_key: Option<SortKey>,
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
    /// Map attribute pointing at a value kept in S3 (object key and SHA-256), written
    /// instead of the value attribute when the value is too large for the item.
    pub value_ref_attribute: String,
    /// The item's version (type N): every write, delete and lease sets a new one, and
    /// writes made from a read are conditional on it.
    pub version_attribute: String,
    /// Extra attributes that key the table's indexes, with the longest string DynamoDB
    /// takes for each: one it would refuse (empty, or too long) is left out of the item,
    /// which then stays out of that index rather than failing the write.
    pub index_keys: BTreeMap<String, usize>,
}

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
            value_ref_attribute: DEFAULT_VALUE_REF_ATTRIBUTE.into(),
            version_attribute: DEFAULT_VERSION_ATTRIBUTE.into(),
            index_keys: BTreeMap::new(),
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
    /// Sort key attribute and the constant value every cache item has.
    pub fn sort_key(mut self, name: impl Into<String>, value: AttrValue) -> Self {
        self.0.sort_key = Some(SortKey::Constant {
            attribute: name.into(),
            value,
        });
        self
    }
    /// Sort key attribute whose values the keys carry (see [`SortKey::FromKey`]).
    pub fn sort_key_from_keys(mut self, name: impl Into<String>, kind: SortKeyType) -> Self {
        self.0.sort_key = Some(SortKey::FromKey {
            attribute: name.into(),
            kind,
        });
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
    /// Attribute name of the pointer to a value kept in S3.
    pub fn value_ref_attribute(mut self, name: impl Into<String>) -> Self {
        self.0.value_ref_attribute = name.into();
        self
    }
    /// Attribute name of the item's version.
    pub fn version_attribute(mut self, name: impl Into<String>) -> Self {
        self.0.version_attribute = name.into();
        self
    }
    /// An attribute that keys an index as its partition or sort key (as both, or in two
    /// indexes: call once for each; the stricter limit holds).
    pub fn index_key(mut self, name: impl Into<String>, role: IndexKeyRole) -> Self {
        let limit = role.max_bytes();
        self.0
            .index_keys
            .entry(name.into())
            .and_modify(|max| *max = (*max).min(limit))
            .or_insert(limit);
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
/// | `sort_key` (optional) | S/N | a constant for every cache item, or the key's part after [`SEPARATOR`] (see [`SortKey`]) |
/// | `itemVersion` | N | the item's version: new on every write, delete and lease |
/// | `value` | B | the encoded [envelope](crate::envelope); absent when the body is in S3, and in tombstones and lease-only items |
/// | `valueRef` (with overflow) | M | `{key: S, sha256: S}`: where the body is in S3, and its digest |
/// | `expiresAt` | N | hard expiry, epoch seconds; checked on every read |
/// | `ttl_attribute` (optional) | N | `expiresAt` + grace (default 1 h), for the table's TTL; may be `expiresAt` itself |
/// | `createdAt` | N | when the value's origin read began, epoch seconds |
/// | `leaseHolder`, `leaseExpiresAt` | S, N | the key's lease (cross-process single-flight), epoch ms |
/// | extra attributes | S/N | per-write attributes, for GSIs; layout attributes win on a name clash; an empty string, or an index key longer than DynamoDB takes ([`DynamoLayoutBuilder::index_key`]), is left out |
///
/// Every read is strongly consistent, so a delete that returned is seen by every read
/// that starts after it. A delete writes a tombstone (the key and a new version, reclaimed
/// by the table's TTL after [`TOMBSTONE_LIFETIME`]); a fill is a `PutItem` conditional on
/// the version its miss read; a lease is an `UpdateItem` on the item itself, conditional
/// the same way, returning the current item when refused
/// (`ReturnValuesOnConditionCheckFailure`), and cleared by the fill that replaces it.
///
/// # Stamps
///
/// A stamp is an item of the same table under an internal key, holding counters as
/// top-level number attributes named `stamp:<counter>`, raised by `UpdateItem ADD` (one
/// shard) or by one `TransactWriteItems` (several shards, all set to one new value).
///
/// # Oversized values
///
/// With [`with_overflow`](Self::with_overflow), an entry that allows it
/// ([`StoreEntry::large_values`]) and would exceed [`MAX_ITEM_BYTES`] keeps every
/// attribute but its value in DynamoDB; the value goes to S3 (see [`S3Overflow`]) and
/// the item gets a `valueRef` pointer instead. The object is written first, then the
/// item, so an item never points at a body not yet written. Reads follow the pointer
/// and check the digest: a missing or replaced body is a miss, an S3 failure an error.
/// Two fills racing on one large key may leave the loser's body under the winner's
/// pointer: the key then reads as a miss until it is written again, never as a wrong
/// value. Without overflow, or for entries that do not allow it, such a value is
/// [`StoreError::TooLarge`].
///
/// A write or delete that replaces an item pointing at an object removes that object
/// (read back with `ReturnValues=ALL_OLD`, no extra request); `clear` removes the objects
/// of what it tombstones; DynamoDB's TTL removes items only, and S3 deletions are best
/// effort (logged): what they leave, the bucket's lifecycle rule on the prefix collects.
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

impl SortKeyType {
    /// The sort value of the runtime's own items.
    fn internal(self) -> &'static str {
        match self {
            Self::S => INTERNAL_STRING,
            Self::N => INTERNAL_NUMBER,
        }
    }

    fn value(self, text: &str) -> AttributeValue {
        match self {
            Self::S => AttributeValue::S(text.to_owned()),
            Self::N => AttributeValue::N(text.to_owned()),
        }
    }
}

/// The text of a string or number key attribute.
fn key_text(value: &AttributeValue) -> Option<String> {
    match value {
        AttributeValue::S(text) | AttributeValue::N(text) => Some(text.clone()),
        _ => None,
    }
}

fn attr(v: &AttrValue) -> AttributeValue {
    match v {
        AttrValue::S(s) => AttributeValue::S(s.clone()),
        AttrValue::N(n) => AttributeValue::N(n.clone()),
    }
}

fn num(n: u64) -> AttributeValue {
    AttributeValue::N(n.to_string())
}

fn number(item: &Item, name: &str) -> Option<u64> {
    item.get(name)?.as_n().ok()?.parse().ok()
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

/// The condition expression of `precondition` on the version attribute `#ver`, with its
/// value, if any.
fn version_condition(seen: Option<Version>) -> (&'static str, Option<AttributeValue>) {
    match seen {
        None => ("attribute_not_exists(#ver)", None),
        Some(version) => ("#ver = :seen", Some(num(version.raw()))),
    }
}

/// Calls `round` with what is still pending until nothing is, giving up after
/// [`BATCH_STALLS`] rounds in a row that made no progress (backing off between those);
/// returns what `round` produced, and what was still pending when it gave up.
async fn batch_rounds<P, T, F, Fut>(
    mut pending: Vec<P>,
    mut round: F,
) -> (Vec<T>, Vec<P>, Option<StoreError>)
where
    F: FnMut(Vec<P>) -> Fut,
    Fut: std::future::Future<Output = Result<(Vec<T>, Vec<P>), StoreError>>,
{
    let mut done = Vec::new();
    let mut stalls = 0;
    while !pending.is_empty() && stalls < BATCH_STALLS {
        let before = pending.len();
        match round(std::mem::take(&mut pending)).await {
            Ok((produced, left)) => {
                done.extend(produced);
                pending = left;
            }
            Err(err) => return (done, Vec::new(), Some(err)),
        }
        if pending.len() < before {
            stalls = 0;
        } else {
            stalls += 1;
            tokio::time::sleep(Duration::from_millis(25 << stalls.min(6))).await;
        }
    }
    (done, pending, None)
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

    /// The DynamoDB client.
    pub fn client(&self) -> &Client {
        &self.client
    }

    /// The table name.
    pub fn table_name(&self) -> &str {
        &self.table
    }

    /// The layout.
    pub fn layout(&self) -> &DynamoLayout {
        &self.layout
    }

    /// The error of a failed call of `operation` (`PutItem`) on this store's table.
    pub(crate) fn request_error<E, R>(&self, operation: &str, err: SdkError<E, R>) -> StoreError
    where
        E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
        R: std::fmt::Debug + Send + Sync + 'static,
    {
        DYNAMODB.request_error(operation, &format!("table {}", self.table), err)
    }

    /// The key attributes of the item at `key`.
    fn key(&self, key: &str) -> Item {
        let mut item = Item::with_capacity(2);
        let partition = match &self.layout.sort_key {
            None => key,
            Some(SortKey::Constant { attribute, value }) => {
                item.insert(attribute.clone(), attr(value));
                key
            }
            Some(SortKey::FromKey { attribute, kind }) => {
                let (partition, sort) = match key.split_once(SEPARATOR) {
                    Some(parts) => parts,
                    None => (key, kind.internal()),
                };
                item.insert(attribute.clone(), kind.value(sort));
                partition
            }
        };
        item.insert(
            self.layout.key_attribute.clone(),
            AttributeValue::S(partition.to_owned()),
        );
        item
    }

    /// The key of a cache item read from the table (by a scan or a query); the runtime's
    /// own items are never asked for.
    pub(crate) fn key_of(&self, item: &Item) -> Option<String> {
        let partition = item.get(&self.layout.key_attribute)?.as_s().ok()?;
        match &self.layout.sort_key {
            Some(SortKey::FromKey { attribute, .. }) => {
                let sort = key_text(item.get(attribute)?)?;
                Some(format!("{partition}{SEPARATOR}{sort}"))
            }
            _ => Some(partition.clone()),
        }
    }

    /// The items a batch read found, by the key each was read for among `keys`.
    fn by_key<'k>(
        &self,
        keys: impl IntoIterator<Item = &'k String>,
        found: Vec<Item>,
    ) -> HashMap<String, Item> {
        let identity = |item: &Item| -> Option<(String, Option<String>)> {
            let partition = key_text(item.get(&self.layout.key_attribute)?)?;
            let sort = match &self.layout.sort_key {
                Some(sort_key) => Some(key_text(item.get(sort_key.attribute())?)?),
                None => None,
            };
            Some((partition, sort))
        };
        let mut requested: HashMap<(String, Option<String>), &String> = keys
            .into_iter()
            .filter_map(|key| Some((identity(&self.key(key))?, key)))
            .collect();
        found
            .into_iter()
            .filter_map(|item| Some((requested.remove(&identity(&item)?)?.clone(), item)))
            .collect()
    }

    /// Whether extra attribute `name` can be written as `value`: DynamoDB refuses an empty
    /// string as an index key, and one longer than its role allows. Such an attribute is
    /// left out, so the item stays out of that index (a sparse index) instead of the whole
    /// write failing; empty strings are left out of every extra attribute, since they
    /// exist to key indexes.
    fn indexable(&self, key: &str, name: &str, value: &AttrValue) -> bool {
        let AttrValue::S(text) = value else {
            return true;
        };
        let too_long = self
            .layout
            .index_keys
            .get(name)
            .is_some_and(|max| text.len() > *max);
        if too_long {
            tracing::warn!(
                key,
                attribute = name,
                bytes = text.len(),
                "index key value too long for DynamoDB: the item is left out of its index"
            );
        }
        !text.is_empty() && !too_long
    }

    /// Whether `item` has an expiry, still ahead of the clock.
    fn is_live(&self, item: &Item) -> bool {
        number(item, &self.layout.expires_at_attribute)
            .is_some_and(|expires| expires.saturating_mul(1000) > self.clock.now_ms())
    }

    /// The value of a live cache item, or where it is; `None` if expired or malformed.
    fn live_value(&self, item: &mut Item) -> Option<Body> {
        if !self.is_live(item) {
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

    /// An item as a read sees it.
    async fn slot(&self, mut item: Item) -> Result<Slot, StoreError> {
        let version = number(&item, &self.layout.version_attribute).and_then(Version::from_raw);
        let now = self.clock.now_ms();
        let lease = match (item.get(LEASE_HOLDER), number(&item, LEASE_EXPIRES_AT)) {
            (Some(AttributeValue::S(holder)), Some(expires_at_ms)) if expires_at_ms > now => {
                Some(LeaseHolder {
                    holder: holder.clone(),
                    expires_at_ms,
                })
            }
            _ => None,
        };
        let value = match self.live_value(&mut item) {
            Some(body) => self.resolve(body).await?,
            None => None,
        };
        // An item written before versions existed reads as absent, so a fill replaces it.
        Ok(Slot {
            version,
            value: version.and(value),
            lease,
        })
    }

    /// The S3 object an old item pointed at, if it is not `kept` (the one just written).
    fn old_object(&self, old: Option<&Item>, kept: Option<&BodyRef>) -> Option<String> {
        let old = BodyRef::from_attribute(old?.get(&self.layout.value_ref_attribute)?)?;
        (kept.map(|r| &r.key) != Some(&old.key)).then_some(old.key)
    }

    fn ttl_value(&self, expires_at_s: u64) -> u64 {
        expires_at_s + self.layout.ttl_grace.as_secs()
    }

    /// Sends `request` under `precondition`: its output, or `None` when the condition did
    /// not hold.
    async fn put_if(
        &self,
        mut request: PutItemFluentBuilder,
        precondition: Precondition,
    ) -> Result<Option<PutItemOutput>, StoreError> {
        if let Precondition::Version(seen) = precondition {
            let (condition, value) = version_condition(seen);
            request = request
                .condition_expression(condition)
                .expression_attribute_names("#ver", &self.layout.version_attribute)
                .set_expression_attribute_values(
                    value.map(|v| HashMap::from([(":seen".to_owned(), v)])),
                );
        }
        match request.send().await {
            Ok(out) => Ok(Some(out)),
            Err(e)
                if e.as_service_error()
                    .is_some_and(|e| e.is_conditional_check_failed_exception()) =>
            {
                Ok(None)
            }
            Err(e) => Err(self.request_error("PutItem", e)),
        }
    }

    /// A tombstone for `key`: the key, a new version, and (with a TTL attribute) when the
    /// table may reclaim it.
    fn tombstone(&self, key: &str) -> Item {
        let mut item = self.key(key);
        item.insert(
            self.layout.version_attribute.clone(),
            num(Version::fresh().raw()),
        );
        if let Some(ttl) = &self.layout.ttl_attribute {
            let reclaim = self.clock.now_ms() / 1000 + TOMBSTONE_LIFETIME.as_secs();
            item.insert(ttl.clone(), num(reclaim));
        }
        item
    }

    /// The item a refused conditional request returned, or (where the server does not
    /// return it) the item as a new read finds it.
    async fn refused(&self, key: &str, item: Option<Item>) -> Result<Slot, StoreError> {
        match item {
            Some(item) => self.slot(item).await,
            None => self.read(key).await,
        }
    }

    /// For each live item among `keys`, the scalar attributes among `names` it has.
    async fn live_attributes(
        &self,
        keys: &[String],
        names: &[&str],
    ) -> Result<HashMap<String, Attributes>, StoreError> {
        let l = &self.layout;
        let mut projected: Vec<&str> = vec![&l.key_attribute, &l.expires_at_attribute];
        projected.extend(l.sort_key.as_ref().map(SortKey::attribute));
        projected.extend(names);
        let found = self.batch_get(keys, &projected, Unread::Miss).await?;
        let mut live = HashMap::new();
        for (key, item) in self.by_key(keys, found) {
            if !self.is_live(&item) {
                continue;
            }
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
        Ok(live)
    }

    /// Strongly consistent batch reads of `keys` (100 per request, 4 requests at once),
    /// reading only `attributes` (all when empty). Keys still unprocessed after
    /// [`BATCH_STALLS`] rounds without progress are logged and left out, or fail the read,
    /// as `unread` says.
    async fn batch_get(
        &self,
        keys: &[String],
        attributes: &[&str],
        unread: Unread,
    ) -> Result<Vec<Item>, StoreError> {
        let mut unique = keys.to_vec();
        unique.sort_unstable();
        unique.dedup();
        let chunks: Vec<Vec<String>> = unique
            .chunks(BATCH_GET_MAX)
            .map(<[String]>::to_vec)
            .collect();
        let items: Vec<Vec<Item>> = futures::stream::iter(chunks)
            .map(|chunk| self.batch_get_chunk(chunk, attributes, unread))
            .buffer_unordered(BATCH_CONCURRENCY)
            .try_collect()
            .await?;
        Ok(items.into_iter().flatten().collect())
    }

    /// One consistent `BatchGetItem` of `keys`, projected to `attributes` when there are
    /// any: the items found, and the keys DynamoDB left unprocessed.
    async fn batch_get_once(
        &self,
        keys: Vec<Item>,
        attributes: &[&str],
    ) -> Result<(Vec<Item>, Vec<Item>), StoreError> {
        let placeholders: Vec<String> = (0..attributes.len()).map(|n| format!("#a{n}")).collect();
        let projection = (!attributes.is_empty()).then(|| placeholders.join(", "));
        let names: HashMap<String, String> = placeholders
            .into_iter()
            .zip(attributes.iter().map(|name| (*name).to_owned()))
            .collect();
        let request = KeysAndAttributes::builder()
            .set_keys(Some(keys))
            .consistent_read(true)
            .set_projection_expression(projection)
            .set_expression_attribute_names((!names.is_empty()).then_some(names))
            .build()
            .map_err(built)?;
        let out = self
            .client
            .batch_get_item()
            .request_items(&self.table, request)
            .send()
            .await
            .map_err(|e| self.request_error("BatchGetItem", e))?;
        let found = out
            .responses
            .and_then(|mut r| r.remove(&self.table))
            .unwrap_or_default();
        let left = out
            .unprocessed_keys
            .and_then(|mut u| u.remove(&self.table))
            .map(|ka| ka.keys)
            .unwrap_or_default();
        Ok((found, left))
    }

    async fn batch_get_chunk(
        &self,
        keys: Vec<String>,
        attributes: &[&str],
        unread: Unread,
    ) -> Result<Vec<Item>, StoreError> {
        let pending: Vec<Item> = keys.iter().map(|k| self.key(k)).collect();
        let (found, left, error) =
            batch_rounds(pending, |keys| self.batch_get_once(keys, attributes)).await;
        if let Some(error) = error {
            if found.is_empty() || unread == Unread::Fail {
                return Err(error);
            }
            tracing::warn!(table = %self.table, error = %error, read = found.len(), "batch read failed part way: the rest are misses");
        } else if !left.is_empty() {
            if unread == Unread::Fail {
                return Err(StoreError::Backend {
                    store: NAME,
                    source: format!("BatchGetItem left {} keys unprocessed", left.len()).into(),
                });
            }
            tracing::warn!(table = %self.table, unread = left.len(), read = found.len(), "BatchGetItem left keys unprocessed: they are misses");
        }
        Ok(found)
    }

    /// Replaces the items with `keys` by tombstones (25 per `BatchWriteItem`, 4 at once),
    /// then removes the S3 objects of `objects`. Fails if any stays unwritten.
    async fn batch_tombstone(
        &self,
        keys: Vec<String>,
        objects: Vec<String>,
    ) -> Result<u64, StoreError> {
        let n = keys.len() as u64;
        let chunks: Vec<Vec<String>> = keys
            .chunks(BATCH_WRITE_MAX)
            .map(<[String]>::to_vec)
            .collect();
        futures::stream::iter(chunks)
            .map(|chunk| self.batch_tombstone_chunk(chunk))
            .buffer_unordered(BATCH_CONCURRENCY)
            .try_collect::<Vec<()>>()
            .await?;
        if let Some(overflow) = &self.overflow {
            overflow.delete_best_effort(objects).await;
        }
        Ok(n)
    }

    async fn batch_tombstone_chunk(&self, keys: Vec<String>) -> Result<(), StoreError> {
        let pending = keys
            .iter()
            .map(|key| {
                let put = PutRequest::builder()
                    .set_item(Some(self.tombstone(key)))
                    .build()
                    .map_err(built)?;
                Ok(WriteRequest::builder().put_request(put).build())
            })
            .collect::<Result<Vec<_>, StoreError>>()?;
        let (_, left, error) = batch_rounds(pending, |requests| async move {
            let out = self
                .client
                .batch_write_item()
                .request_items(&self.table, requests)
                .send()
                .await
                .map_err(|e| self.request_error("BatchWriteItem", e))?;
            let left = out
                .unprocessed_items
                .and_then(|mut u| u.remove(&self.table))
                .unwrap_or_default();
            Ok((Vec::<()>::new(), left))
        })
        .await;
        match (error, left.len()) {
            (Some(error), _) => Err(error),
            (None, 0) => Ok(()),
            (None, left) => Err(StoreError::backend(
                NAME,
                format!("{left} tombstones still unprocessed by BatchWriteItem"),
            )),
        }
    }

    fn stamp_item(&self, item: Option<Item>) -> Stamp {
        item.into_iter()
            .flatten()
            .filter_map(|(name, value)| {
                let counter = name.strip_prefix(STAMP_COUNTER_PREFIX)?;
                Some((counter.to_owned(), value.as_n().ok()?.parse().ok()?))
            })
            .collect()
    }

    /// `SET` of the stamp item's reclaim time, for stamp updates.
    fn stamp_ttl(&self) -> Option<(String, AttributeValue)> {
        let ttl = self.layout.ttl_attribute.as_ref()?;
        let reclaim = self.clock.now_ms() / 1000 + STAMP_LIFETIME.as_secs();
        Some((ttl.clone(), num(reclaim)))
    }

    async fn bump_one(&self, key: &str, counter: &str) -> Result<u64, StoreError> {
        let mut request = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(self.key(key)))
            .expression_attribute_names("#c", format!("{STAMP_COUNTER_PREFIX}{counter}"))
            .expression_attribute_values(":one", num(1))
            .return_values(ReturnValue::UpdatedNew);
        let mut expression = "ADD #c :one".to_owned();
        if let Some((ttl, reclaim)) = self.stamp_ttl() {
            expression.push_str(" SET #t = :t");
            request = request
                .expression_attribute_names("#t", ttl)
                .expression_attribute_values(":t", reclaim);
        }
        let out = request
            .update_expression(expression)
            .send()
            .await
            .map_err(|e| self.request_error("UpdateItem", e))?;
        out.attributes
            .as_ref()
            .and_then(|item| number(item, &format!("{STAMP_COUNTER_PREFIX}{counter}")))
            .ok_or_else(|| StoreError::backend(NAME, "UpdateItem returned no stamp counter"))
    }

    /// Sets `counter` of every shard to one value above all of theirs, in one transaction
    /// conditional on what was read, retried while concurrent bumps refuse it.
    async fn bump_shards(&self, shards: &[String], counter: &str) -> Result<u64, StoreError> {
        if shards.len() > TRANSACT_MAX {
            return Err(StoreError::backend(
                NAME,
                format!("{} stamp shards: at most {TRANSACT_MAX}", shards.len()),
            ));
        }
        let name = format!("{STAMP_COUNTER_PREFIX}{counter}");
        for _ in 0..BUMP_ATTEMPTS {
            let current: Vec<u64> = self
                .read_stamps(shards)
                .await?
                .iter()
                .map(|stamp| stamp.get(counter).copied().unwrap_or(0))
                .collect();
            let next = current.iter().max().copied().unwrap_or(0) + 1;
            let items = shards
                .iter()
                .zip(&current)
                .map(|(shard, old)| {
                    let (condition, old_value) = if *old == 0 {
                        ("attribute_not_exists(#c)", None)
                    } else {
                        ("#c = :old", Some(num(*old)))
                    };
                    let mut update = Update::builder()
                        .table_name(&self.table)
                        .set_key(Some(self.key(shard)))
                        .condition_expression(condition)
                        .expression_attribute_names("#c", &name)
                        .expression_attribute_values(":next", num(next));
                    let mut expression = "SET #c = :next".to_owned();
                    if let Some(old) = old_value {
                        update = update.expression_attribute_values(":old", old);
                    }
                    if let Some((ttl, reclaim)) = self.stamp_ttl() {
                        expression.push_str(", #t = :t");
                        update = update
                            .expression_attribute_names("#t", ttl)
                            .expression_attribute_values(":t", reclaim);
                    }
                    let update = update
                        .update_expression(expression)
                        .build()
                        .map_err(built)?;
                    Ok(TransactWriteItem::builder().update(update).build())
                })
                .collect::<Result<Vec<_>, StoreError>>()?;
            match self
                .client
                .transact_write_items()
                .set_transact_items(Some(items))
                .send()
                .await
            {
                Ok(_) => return Ok(next),
                Err(e)
                    if e.as_service_error()
                        .is_some_and(|e| e.is_transaction_canceled_exception()) =>
                {
                    tracing::debug!(counter, "stamp bump raced another; retrying");
                }
                Err(e) => return Err(self.request_error("TransactWriteItems", e)),
            }
        }
        Err(StoreError::backend(
            NAME,
            format!("stamp bump of `{counter}` refused {BUMP_ATTEMPTS} times by concurrent bumps"),
        ))
    }
}

#[async_trait]
impl CacheStore for DynamoStore {
    fn name(&self) -> &'static str {
        NAME
    }

    fn capabilities(&self) -> Capabilities {
        Capabilities {
            pattern_delete: false,
            indexes: true,
            reads_with_stamps: true,
        }
    }

    fn table(&self) -> Option<TableRef<'_>> {
        Some(TableRef {
            client: &self.client,
            table: &self.table,
        })
    }

    async fn read(&self, key: &str) -> Result<Slot, StoreError> {
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .set_key(Some(self.key(key)))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| self.request_error("GetItem", e))?;
        match out.item {
            Some(item) => self.slot(item).await,
            None => Ok(Slot::default()),
        }
    }

    async fn read_with_stamps(
        &self,
        key: &str,
        stamps: &[String],
    ) -> Result<(Slot, Vec<Stamp>), StoreError> {
        let mut keys: Vec<&String> = stamps.iter().collect();
        keys.sort_unstable();
        keys.dedup();
        let batch = std::iter::once(self.key(key))
            .chain(keys.into_iter().filter(|k| *k != key).map(|k| self.key(k)))
            .collect();
        let (found, unprocessed) = self.batch_get_once(batch, &[]).await?;
        if !unprocessed.is_empty() {
            // Read in part (throttled): an unread stamp must not read as zeros, so both
            // are read again, each whole.
            let slot = self.read(key).await?;
            return Ok((slot, self.read_stamps(stamps).await?));
        }
        let requested = std::iter::once(key.to_owned()).chain(stamps.iter().cloned());
        let mut found = self.by_key(&requested.collect::<Vec<_>>(), found);
        let stamps = stamps
            .iter()
            .map(|k| self.stamp_item(found.get(k).cloned()))
            .collect();
        let slot = match found.remove(key) {
            Some(item) => self.slot(item).await?,
            None => Slot::default(),
        };
        Ok((slot, stamps))
    }

    async fn read_many(&self, keys: &[String]) -> Result<HashMap<String, Vec<u8>>, StoreError> {
        let found = self.batch_get(keys, &[], Unread::Miss).await?;
        let bodies: Vec<(String, Body)> = self
            .by_key(keys, found)
            .into_iter()
            .filter(|(_, item)| item.contains_key(&self.layout.version_attribute))
            .filter_map(|(key, mut item)| Some((key, self.live_value(&mut item)?)))
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

    async fn write(
        &self,
        key: &str,
        entry: StoreEntry<'_>,
        precondition: Precondition,
    ) -> Result<Option<Version>, StoreError> {
        let l = &self.layout;
        let version = Version::fresh();
        let expires_at_s = entry.expires_at_ms.div_ceil(1000);
        let mut item: Item = entry
            .attributes
            .iter()
            .filter(|(name, value)| self.indexable(key, name, value))
            .map(|(k, v)| (k.clone(), attr(v)))
            .collect();
        item.extend(self.key(key));
        item.insert(l.version_attribute.clone(), num(version.raw()));
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
        let request = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item))
            // An item may replace one whose body is elsewhere in S3.
            .set_return_values(self.overflow.as_ref().map(|_| ReturnValue::AllOld));
        let Some(old) = self.put_if(request, precondition).await? else {
            return Ok(None);
        };
        if let (Some(overflow), Some(stale)) = (
            &self.overflow,
            self.old_object(old.attributes.as_ref(), reference.as_ref()),
        ) {
            overflow.delete_best_effort(vec![stale]).await;
        }
        Ok(Some(version))
    }

    async fn delete(&self, key: &str, precondition: Precondition) -> Result<bool, StoreError> {
        let request = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(self.tombstone(key)))
            // With overflow, the replaced item says whether it had a body in S3.
            .set_return_values(self.overflow.as_ref().map(|_| ReturnValue::AllOld));
        let Some(old) = self.put_if(request, precondition).await? else {
            return Ok(false);
        };
        if let (Some(overflow), Some(object)) = (
            &self.overflow,
            self.old_object(old.attributes.as_ref(), None),
        ) {
            overflow.delete_best_effort(vec![object]).await;
        }
        Ok(true)
    }

    async fn acquire_lease(
        &self,
        key: &str,
        seen: Option<Version>,
        holder: &str,
        ttl: Duration,
    ) -> Result<LeaseOutcome, StoreError> {
        let now = self.clock.now_ms();
        let expires = now + ttl.as_millis() as u64;
        let version = Version::fresh();
        let (condition, seen_value) = version_condition(seen);
        let mut request = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(self.key(key)))
            .condition_expression(condition)
            .expression_attribute_names("#ver", &self.layout.version_attribute)
            .expression_attribute_names("#h", LEASE_HOLDER)
            .expression_attribute_names("#e", LEASE_EXPIRES_AT)
            .expression_attribute_values(":v", num(version.raw()))
            .expression_attribute_values(":h", AttributeValue::S(holder.to_owned()))
            .expression_attribute_values(":e", num(expires))
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld);
        let mut expression = "SET #ver = :v, #h = :h, #e = :e".to_owned();
        if let Some(seen) = seen_value {
            request = request.expression_attribute_values(":seen", seen);
        }
        if let Some(ttl_attribute) = &self.layout.ttl_attribute {
            // A lease on an absent key is reclaimed once it lapses; a value keeps its own.
            expression.push_str(", #t = if_not_exists(#t, :t)");
            request = request
                .expression_attribute_names("#t", ttl_attribute)
                .expression_attribute_values(":t", num(self.ttl_value(expires.div_ceil(1000))));
        }
        match request.update_expression(expression).send().await {
            Ok(_) => Ok(LeaseOutcome::Acquired(version)),
            Err(e) => match e.as_service_error() {
                Some(failed) if failed.is_conditional_check_failed_exception() => {
                    let item = match failed {
                        aws_sdk_dynamodb::operation::update_item::UpdateItemError::ConditionalCheckFailedException(c) => c.item.clone(),
                        _ => None,
                    };
                    Ok(LeaseOutcome::Refused(self.refused(key, item).await?))
                }
                _ => Err(self.request_error("UpdateItem", e)),
            },
        }
    }

    async fn release_lease(&self, key: &str, holder: &str) -> Result<(), StoreError> {
        let released = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(self.key(key)))
            .update_expression("SET #ver = :v REMOVE #h, #e")
            .condition_expression("#h = :h")
            .expression_attribute_names("#ver", &self.layout.version_attribute)
            .expression_attribute_names("#h", LEASE_HOLDER)
            .expression_attribute_names("#e", LEASE_EXPIRES_AT)
            .expression_attribute_values(":v", num(Version::fresh().raw()))
            .expression_attribute_values(":h", AttributeValue::S(holder.to_owned()))
            .send()
            .await;
        match released {
            Ok(_) => Ok(()),
            Err(e)
                if e.as_service_error()
                    .is_some_and(|e| e.is_conditional_check_failed_exception()) =>
            {
                Ok(())
            }
            Err(e) => Err(self.request_error("UpdateItem", e)),
        }
    }

    async fn read_stamps(&self, keys: &[String]) -> Result<Vec<Stamp>, StoreError> {
        if let [key] = keys {
            let out = self
                .client
                .get_item()
                .table_name(&self.table)
                .set_key(Some(self.key(key)))
                .consistent_read(true)
                .send()
                .await
                .map_err(|e| self.request_error("GetItem", e))?;
            return Ok(vec![self.stamp_item(out.item)]);
        }
        // A stamp left unread must not read as zeros: that would pass values its
        // invalidations removed.
        let found = self.batch_get(keys, &[], Unread::Fail).await?;
        let mut found = self.by_key(keys, found);
        Ok(keys
            .iter()
            .map(|key| self.stamp_item(found.remove(key)))
            .collect())
    }

    async fn bump_stamp(&self, shards: &[String], counter: &str) -> Result<u64, StoreError> {
        match shards {
            [shard] => self.bump_one(shard, counter).await,
            _ => self.bump_shards(shards, counter).await,
        }
    }

    async fn clear(&self, prefix: &str) -> Result<u64, StoreError> {
        let l = &self.layout;
        let mut names = HashMap::from([
            ("#k".to_owned(), l.key_attribute.clone()),
            ("#val".to_owned(), l.value_attribute.clone()),
            ("#ref".to_owned(), l.value_ref_attribute.clone()),
        ]);
        let mut projection = "#k, #ref".to_owned();
        if let Some(sort_key) = &l.sort_key {
            names.insert("#s".into(), sort_key.attribute().to_owned());
            projection.push_str(", #s");
        }
        let mut request = self
            .client
            .scan()
            .table_name(&self.table)
            .projection_expression(projection)
            .filter_expression(
                "(attribute_exists(#val) OR attribute_exists(#ref)) AND NOT begins_with(#k, :internal) AND begins_with(#k, :p)",
            )
            .expression_attribute_values(":p", AttributeValue::S(prefix.to_owned()))
            .expression_attribute_values(
                ":internal",
                AttributeValue::S(format!("{prefix}{INTERNAL_KEY_MARKER}")),
            )
            .set_expression_attribute_names(Some(names));
        if prefix.is_empty() {
            // DynamoDB refuses an empty string as an expression value.
            request = request
                .filter_expression(
                    "(attribute_exists(#val) OR attribute_exists(#ref)) AND NOT begins_with(#k, :internal)",
                )
                .set_expression_attribute_values(Some(HashMap::from([(
                    ":internal".to_owned(),
                    AttributeValue::S(INTERNAL_KEY_MARKER.to_string()),
                )])));
        }
        let (mut keys, mut objects) = (Vec::new(), Vec::new());
        let mut pages = request.into_paginator().items().send();
        while let Some(item) = pages.next().await {
            let item = item.map_err(|e| self.request_error("Scan", e))?;
            // Under a constant sort key, the table's other items are not the cache's.
            let same_sort = match &l.sort_key {
                Some(SortKey::Constant { attribute, value }) => {
                    item.get(attribute) == Some(&attr(value))
                }
                _ => true,
            };
            if let (true, Some(key)) = (same_sort, self.key_of(&item)) {
                objects.extend(self.old_object(Some(&item), None));
                keys.push(key);
            }
        }
        self.batch_tombstone(keys, objects).await
    }

    async fn query_index(
        &self,
        query: &IndexQuery,
        key_prefix: &str,
    ) -> Result<(Vec<String>, Option<PageToken>), StoreError> {
        query::query_keys(self, query, key_prefix).await
    }

    async fn read_attributes(
        &self,
        keys: &[String],
        names: &[&str],
    ) -> Result<HashMap<String, Attributes>, StoreError> {
        self.live_attributes(keys, names).await
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

    #[tokio::test(start_paused = true)]
    async fn batch_rounds_keep_going_while_they_make_progress() {
        // One item a round: far more rounds than the stall budget, all productive.
        let (done, left, error) =
            batch_rounds((0..20).collect::<Vec<u32>>(), |mut pending| async move {
                let first = pending.remove(0);
                Ok((vec![first], pending))
            })
            .await;
        assert_eq!((done.len(), left.len(), error.is_none()), (20, 0, true));
        // No progress at all: gives up after the stall budget, keeping what is left.
        let mut rounds = 0;
        let (done, left, _) = batch_rounds(vec![1, 2, 3], |pending| {
            rounds += 1;
            async move { Ok((Vec::<u32>::new(), pending)) }
        })
        .await;
        assert_eq!((done.len(), left.len(), rounds), (0, 3, BATCH_STALLS));
    }
}
