//! The versioned binary envelope every store holds.
//!
//! Layout (big-endian), 32-byte header then payload:
//!
//! | bytes  | field                                         |
//! |--------|-----------------------------------------------|
//! | 0..2   | magic `CG`                                    |
//! | 2      | format version ([`FORMAT_VERSION`])           |
//! | 3      | flags: bit 0 = payload is zstd-compressed     |
//! | 4..8   | schema version (u32, chosen by the caller)    |
//! | 8..16  | created-at, epoch ms                          |
//! | 16..24 | fresh-until, epoch ms (start of the stale window) |
//! | 24..32 | expires-at, epoch ms (never served after)     |
//! | 32..34 | number of scopes (u16)                         |
//! | 34..   | scopes, then the payload: `serde_json` bytes, maybe zstd |
//!
//! Each scope is the invalidation scope the value belongs to and the generation of its
//! stamp when the value's origin read began: kind (u8: 0 data type, 1 tag, 2 key prefix),
//! name length (u16), name (UTF-8), generation (u64). A reader that knows a later
//! generation for any of them treats the value as invalidated.

use serde::Serialize;
use serde::de::DeserializeOwned;
use serde::ser::Error as _;

/// Current envelope format version. Other versions decode as a miss.
pub const FORMAT_VERSION: u8 = 2;
const MAGIC: &[u8; 2] = b"CG";
const HEADER_LEN: usize = 34;
const FLAG_ZSTD: u8 = 1;
#[cfg(feature = "compression")]
const ZSTD_LEVEL: i32 = 3;

/// Timestamps and schema carried by an envelope.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EnvelopeMeta {
    /// Caller schema version; a mismatch on read counts as a miss.
    pub schema_version: u32,
    /// Creation time, epoch ms.
    pub created_at_ms: u64,
    /// Fresh until this time, epoch ms; stale (SWR only) from then until `expires_at_ms`.
    pub fresh_until_ms: u64,
    /// Hard expiry, epoch ms.
    pub expires_at_ms: u64,
}

/// What kind of scope a [`ScopeGen`] names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ScopeKind {
    /// Every entry of a data type (`invalidate_all`).
    DataType,
    /// Every entry written with a tag (`invalidate_tag`).
    Tag,
    /// Every entry of a data type whose key starts with a prefix (`invalidate_by_*`).
    KeyPrefix,
}

impl ScopeKind {
    fn code(self) -> u8 {
        match self {
            Self::DataType => 0,
            Self::Tag => 1,
            Self::KeyPrefix => 2,
        }
    }

    fn from_code(code: u8) -> Option<Self> {
        Some(match code {
            0 => Self::DataType,
            1 => Self::Tag,
            2 => Self::KeyPrefix,
            _ => return None,
        })
    }
}

/// An invalidation scope of a value, and its stamp's generation when the value's origin
/// read began.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ScopeGen {
    /// What the name names.
    pub kind: ScopeKind,
    /// The data type, tag, or `<data type>#<key prefix>`.
    pub name: String,
    /// The generation.
    pub generation: u64,
}

/// Why an envelope could not be read. Every variant counts as a miss.
#[derive(Debug, thiserror::Error)]
pub enum DecodeError {
    /// Too short or wrong magic bytes.
    #[error("not a cachegen envelope")]
    NotAnEnvelope,
    /// Written by another envelope format version.
    #[error("envelope format version {0} is not {FORMAT_VERSION}")]
    FormatVersion(u8),
    /// Written under another schema version.
    #[error("schema version {found} is not {expected}")]
    SchemaVersion {
        /// Version in the envelope.
        found: u32,
        /// Version the reader expects.
        expected: u32,
    },
    /// The compressed payload is corrupt.
    #[error("decompression failed: {0}")]
    Decompress(#[from] std::io::Error),
    /// The payload is compressed and this build has no `compression` feature.
    #[error("the payload is zstd-compressed and the runtime was built without `compression`")]
    CompressionUnavailable,
    /// The payload does not deserialize to the requested type.
    #[error("payload does not decode: {0}")]
    Json(#[from] serde_json::Error),
    /// The scope list is cut short or malformed.
    #[error("malformed scope list")]
    Scopes,
}

/// A decoded envelope.
#[derive(Debug, Clone, PartialEq)]
pub struct Decoded<T> {
    /// Timestamps and schema.
    pub meta: EnvelopeMeta,
    /// The value's invalidation scopes.
    pub scopes: Vec<ScopeGen>,
    /// The value.
    pub value: T,
    /// Length of the value's JSON, uncompressed: what it weighs in memory, roughly.
    pub json_len: usize,
}

/// Serializes `value` to an envelope, compressing payloads larger than
/// `compress_over` bytes (with the `compression` feature; without it nothing is).
/// Returns the envelope and the JSON payload length.
pub fn encode<T: Serialize + ?Sized>(
    value: &T,
    meta: EnvelopeMeta,
    scopes: &[ScopeGen],
    compress_over: usize,
) -> Result<(Vec<u8>, usize), serde_json::Error> {
    let json = serde_json::to_vec(value)?;
    let json_len = json.len();
    let (flags, payload) = match compressed(&json, compress_over)? {
        Some(packed) => (FLAG_ZSTD, packed),
        None => (0, json),
    };
    let scope_len: usize = scopes.iter().map(|s| 11 + s.name.len()).sum();
    let mut out = Vec::with_capacity(HEADER_LEN + scope_len + payload.len());
    out.extend_from_slice(MAGIC);
    out.push(FORMAT_VERSION);
    out.push(flags);
    out.extend_from_slice(&meta.schema_version.to_be_bytes());
    out.extend_from_slice(&meta.created_at_ms.to_be_bytes());
    out.extend_from_slice(&meta.fresh_until_ms.to_be_bytes());
    out.extend_from_slice(&meta.expires_at_ms.to_be_bytes());
    let count = u16::try_from(scopes.len()).map_err(serde_json::Error::custom)?;
    out.extend_from_slice(&count.to_be_bytes());
    for scope in scopes {
        let len = u16::try_from(scope.name.len()).map_err(serde_json::Error::custom)?;
        out.push(scope.kind.code());
        out.extend_from_slice(&len.to_be_bytes());
        out.extend_from_slice(scope.name.as_bytes());
        out.extend_from_slice(&scope.generation.to_be_bytes());
    }
    out.extend_from_slice(&payload);
    Ok((out, json_len))
}

/// Reads the header only.
pub fn decode_meta(bytes: &[u8], schema_version: u32) -> Result<EnvelopeMeta, DecodeError> {
    if bytes.len() < HEADER_LEN || &bytes[..2] != MAGIC {
        return Err(DecodeError::NotAnEnvelope);
    }
    if bytes[2] != FORMAT_VERSION {
        return Err(DecodeError::FormatVersion(bytes[2]));
    }
    let u64_at = |i: usize| u64::from_be_bytes(bytes[i..i + 8].try_into().expect("8 bytes"));
    let found = u32::from_be_bytes(bytes[4..8].try_into().expect("4 bytes"));
    if found != schema_version {
        return Err(DecodeError::SchemaVersion {
            found,
            expected: schema_version,
        });
    }
    Ok(EnvelopeMeta {
        schema_version: found,
        created_at_ms: u64_at(8),
        fresh_until_ms: u64_at(16),
        expires_at_ms: u64_at(24),
    })
}

/// Reads the scope list after the header; returns it and where the payload starts.
fn decode_scopes(bytes: &[u8]) -> Result<(Vec<ScopeGen>, usize), DecodeError> {
    let count = u16::from_be_bytes([bytes[32], bytes[33]]);
    let mut at = HEADER_LEN;
    let mut scopes = Vec::with_capacity(usize::from(count));
    for _ in 0..count {
        let kind = bytes
            .get(at)
            .copied()
            .and_then(ScopeKind::from_code)
            .ok_or(DecodeError::Scopes)?;
        let len = bytes.get(at + 1..at + 3).ok_or(DecodeError::Scopes)?;
        let len = usize::from(u16::from_be_bytes([len[0], len[1]]));
        let name = bytes.get(at + 3..at + 3 + len).ok_or(DecodeError::Scopes)?;
        let name = std::str::from_utf8(name).map_err(|_| DecodeError::Scopes)?;
        let generation = bytes
            .get(at + 3 + len..at + 11 + len)
            .ok_or(DecodeError::Scopes)?;
        scopes.push(ScopeGen {
            kind,
            name: name.to_owned(),
            generation: u64::from_be_bytes(generation.try_into().expect("8 bytes")),
        });
        at += 11 + len;
    }
    Ok((scopes, at))
}

/// Decodes the header and the scopes, not the payload.
pub fn decode_header(
    bytes: &[u8],
    schema_version: u32,
) -> Result<(EnvelopeMeta, Vec<ScopeGen>), DecodeError> {
    let meta = decode_meta(bytes, schema_version)?;
    Ok((meta, decode_scopes(bytes)?.0))
}

/// Decodes header, scopes and payload.
pub fn decode<T: DeserializeOwned>(
    bytes: &[u8],
    schema_version: u32,
) -> Result<Decoded<T>, DecodeError> {
    let meta = decode_meta(bytes, schema_version)?;
    let (scopes, at) = decode_scopes(bytes)?;
    let payload = &bytes[at..];
    let (value, json_len) = if bytes[3] & FLAG_ZSTD != 0 {
        let json = decompress(payload)?;
        (serde_json::from_slice(&json)?, json.len())
    } else {
        (serde_json::from_slice(payload)?, payload.len())
    };
    Ok(Decoded {
        meta,
        scopes,
        value,
        json_len,
    })
}

/// `json` compressed, when it is longer than `compress_over` bytes.
#[cfg(feature = "compression")]
fn compressed(json: &[u8], compress_over: usize) -> Result<Option<Vec<u8>>, serde_json::Error> {
    (json.len() > compress_over)
        .then(|| zstd::bulk::compress(json, ZSTD_LEVEL).map_err(serde_json::Error::io))
        .transpose()
}

/// Without the `compression` feature nothing is compressed.
#[cfg(not(feature = "compression"))]
fn compressed(_json: &[u8], _compress_over: usize) -> Result<Option<Vec<u8>>, serde_json::Error> {
    Ok(None)
}

#[cfg(feature = "compression")]
fn decompress(payload: &[u8]) -> Result<Vec<u8>, DecodeError> {
    Ok(zstd::stream::decode_all(payload)?)
}

#[cfg(not(feature = "compression"))]
fn decompress(_payload: &[u8]) -> Result<Vec<u8>, DecodeError> {
    Err(DecodeError::CompressionUnavailable)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn meta() -> EnvelopeMeta {
        EnvelopeMeta {
            schema_version: 7,
            created_at_ms: 1,
            fresh_until_ms: 2,
            expires_at_ms: 3,
        }
    }

    #[cfg(feature = "compression")]
    #[test]
    fn round_trip_plain_and_compressed() {
        let value = "x".repeat(1000);
        let scopes = [
            ScopeGen {
                kind: ScopeKind::DataType,
                name: "user".into(),
                generation: 3,
            },
            ScopeGen {
                kind: ScopeKind::Tag,
                name: "team:é".into(),
                generation: 0,
            },
        ];
        let (plain, _) = encode(&value, meta(), &scopes, usize::MAX).unwrap();
        let (packed, json_len) = encode(&value, meta(), &scopes, 100).unwrap();
        assert_eq!(json_len, 1002);
        assert!(packed.len() < plain.len());
        for bytes in [plain, packed] {
            let decoded: Decoded<String> = decode(&bytes, 7).unwrap();
            assert_eq!(decoded.meta, meta());
            assert_eq!(decoded.scopes, scopes);
            assert_eq!((decoded.value, decoded.json_len), (value.clone(), 1002));
        }
    }

    #[test]
    fn other_versions_and_garbage_are_rejected() {
        let (mut bytes, _) = encode(&1u8, meta(), &[], usize::MAX).unwrap();
        assert!(matches!(
            decode::<u8>(&bytes, 8),
            Err(DecodeError::SchemaVersion { found: 7, .. })
        ));
        bytes[2] = 1;
        assert!(
            matches!(decode::<u8>(&bytes, 7), Err(DecodeError::FormatVersion(1))),
            "an entry of the format before scopes is a miss"
        );
        bytes[2] = FORMAT_VERSION;
        bytes[33] = 1;
        assert!(matches!(decode::<u8>(&bytes, 7), Err(DecodeError::Scopes)));
        assert!(matches!(
            decode::<u8>(b"{}", 7),
            Err(DecodeError::NotAnEnvelope)
        ));
    }

    #[cfg(feature = "compression")]
    #[test]
    fn a_corrupt_compressed_payload_is_rejected() {
        let (mut bytes, _) = encode(&"abc", meta(), &[], 0).unwrap();
        bytes.truncate(bytes.len() - 2);
        assert!(matches!(
            decode::<String>(&bytes, 7),
            Err(DecodeError::Decompress(_))
        ));
    }

    #[cfg(not(feature = "compression"))]
    #[test]
    fn without_compression_values_are_written_plain_and_compressed_ones_are_misses() {
        let value = "x".repeat(1000);
        let (mut bytes, json_len) = encode(&value, meta(), &[], 0).unwrap();
        assert_eq!(bytes.len(), HEADER_LEN + json_len, "written uncompressed");
        assert_eq!(decode::<String>(&bytes, 7).unwrap().value, value);
        bytes[3] |= FLAG_ZSTD;
        assert!(matches!(
            decode::<String>(&bytes, 7),
            Err(DecodeError::CompressionUnavailable)
        ));
    }
}
