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
//! | 32..   | payload: `serde_json` bytes, maybe zstd       |

use serde::Serialize;
use serde::de::DeserializeOwned;

/// Current envelope format version. Other versions decode as a miss.
pub const FORMAT_VERSION: u8 = 1;
const MAGIC: &[u8; 2] = b"CG";
const HEADER_LEN: usize = 32;
const FLAG_ZSTD: u8 = 1;
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
    /// The payload does not deserialize to the requested type.
    #[error("payload does not decode: {0}")]
    Json(#[from] serde_json::Error),
}

/// Serializes `value` to an envelope, compressing payloads larger than
/// `compress_over` bytes. Returns the envelope and the JSON payload length.
pub fn encode<T: Serialize + ?Sized>(
    value: &T,
    meta: EnvelopeMeta,
    compress_over: usize,
) -> Result<(Vec<u8>, usize), serde_json::Error> {
    let json = serde_json::to_vec(value)?;
    let json_len = json.len();
    let (flags, payload) = if json_len > compress_over {
        let packed = zstd::bulk::compress(&json, ZSTD_LEVEL).map_err(serde_json::Error::io)?;
        (FLAG_ZSTD, packed)
    } else {
        (0, json)
    };
    let mut out = Vec::with_capacity(HEADER_LEN + payload.len());
    out.extend_from_slice(MAGIC);
    out.push(FORMAT_VERSION);
    out.push(flags);
    out.extend_from_slice(&meta.schema_version.to_be_bytes());
    out.extend_from_slice(&meta.created_at_ms.to_be_bytes());
    out.extend_from_slice(&meta.fresh_until_ms.to_be_bytes());
    out.extend_from_slice(&meta.expires_at_ms.to_be_bytes());
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

/// Decodes header and payload.
pub fn decode<T: DeserializeOwned>(
    bytes: &[u8],
    schema_version: u32,
) -> Result<(EnvelopeMeta, T), DecodeError> {
    let meta = decode_meta(bytes, schema_version)?;
    let payload = &bytes[HEADER_LEN..];
    let value = if bytes[3] & FLAG_ZSTD != 0 {
        serde_json::from_slice(&zstd::stream::decode_all(payload)?)?
    } else {
        serde_json::from_slice(payload)?
    };
    Ok((meta, value))
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

    #[test]
    fn round_trip_plain_and_compressed() {
        let value = "x".repeat(1000);
        let (plain, _) = encode(&value, meta(), usize::MAX).unwrap();
        let (packed, json_len) = encode(&value, meta(), 100).unwrap();
        assert_eq!(json_len, 1002);
        assert!(packed.len() < plain.len());
        for bytes in [plain, packed] {
            let (m, v): (_, String) = decode(&bytes, 7).unwrap();
            assert_eq!((m, v.as_str()), (meta(), value.as_str()));
        }
    }

    #[test]
    fn other_versions_and_garbage_are_rejected() {
        let (mut bytes, _) = encode(&1u8, meta(), usize::MAX).unwrap();
        assert!(matches!(
            decode::<u8>(&bytes, 8),
            Err(DecodeError::SchemaVersion { found: 7, .. })
        ));
        bytes[2] = 0;
        assert!(matches!(
            decode::<u8>(&bytes, 7),
            Err(DecodeError::FormatVersion(0))
        ));
        assert!(matches!(
            decode::<u8>(b"{}", 7),
            Err(DecodeError::NotAnEnvelope)
        ));
        let (mut bytes, _) = encode(&"abc", meta(), 0).unwrap();
        bytes.truncate(bytes.len() - 2);
        assert!(matches!(
            decode::<String>(&bytes, 7),
            Err(DecodeError::Decompress(_))
        ));
    }
}
