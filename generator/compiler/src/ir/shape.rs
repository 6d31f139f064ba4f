//! The shape of cached values, and the envelope schema version that follows it.
//!
//! The runtime writes a schema version into every entry's envelope and reads an entry of
//! another version as a miss. The generated module sets it per table from the value shapes
//! of the table's data types, so a deploy that changes a value type turns old entries into
//! misses instead of decode errors or values of the wrong shape.

use sha2::{Digest, Sha256};

use super::{CacheModel, DataType, TableRef, ValueType};

impl ValueType {
    /// The shape as text, independent of field order: `{count: u32, name: string}`, or the
    /// Rust path of a user type (whose definition cachegen cannot see).
    pub fn shape(&self) -> String {
        match self {
            Self::Rust(path) => path.clone(),
            Self::Fields(fields) => {
                let mut fields: Vec<String> = fields
                    .iter()
                    .map(|field| format!("{}: {}", field.name, field.ty))
                    .collect();
                fields.sort();
                format!("{{{}}}", fields.join(", "))
            }
        }
    }
}

impl CacheModel {
    /// The envelope schema version of `table`'s entries: a hash of the name and value
    /// shape of each data type kept there. It changes when any of those value types
    /// changes, or a data type is added to or removed from the table.
    pub fn schema_version(&self, table: &TableRef) -> u32 {
        shapes_version(self.data_types_in(table))
    }

    /// The envelope schema version of a Redis store's entries: as
    /// [`schema_version`](Self::schema_version), over every data type (they share the store).
    pub fn redis_schema_version(&self) -> u32 {
        shapes_version(self.data_types.iter())
    }
}

/// A hash of the name and value shape of each of `data_types`, in any order.
fn shapes_version<'a>(data_types: impl Iterator<Item = &'a DataType>) -> u32 {
    let mut shapes: Vec<String> = data_types
        .map(|data_type| format!("{}={}\n", data_type.name, data_type.value.shape()))
        .collect();
    shapes.sort();
    let digest = Sha256::digest(shapes.concat().as_bytes());
    u32::from_be_bytes([digest[0], digest[1], digest[2], digest[3]])
}

#[cfg(test)]
mod tests {
    use crate::ir::Ref;

    fn version(spec: &str) -> u32 {
        let model = crate::compile_text("cache.yaml", spec).unwrap();
        let (table, _) = Ref::each(&model.tables).next().unwrap();
        model.schema_version(&table)
    }

    const BASE: &str = "version: 1\nservice: demo\ntables: { cache: { name: demo-cache } }\n";

    #[test]
    fn follows_the_value_shape_not_its_field_order() {
        let one = version(&format!(
            "{BASE}data_types: {{ user: {{ key: \"u#{{id}}\", params: {{ id: string }}, value: {{ fields: {{ a: string, b: u32 }} }} }} }}"
        ));
        let reordered = version(&format!(
            "{BASE}data_types: {{ user: {{ key: \"u#{{id}}\", params: {{ id: string }}, value: {{ fields: {{ b: u32, a: string }} }} }} }}"
        ));
        let retyped = version(&format!(
            "{BASE}data_types: {{ user: {{ key: \"u#{{id}}\", params: {{ id: string }}, value: {{ fields: {{ a: string, b: u64 }} }} }} }}"
        ));
        let rekeyed = version(&format!(
            "{BASE}data_types: {{ user: {{ key: \"user#{{id}}\", params: {{ id: string }}, value: {{ fields: {{ a: string, b: u32 }} }} }} }}"
        ));
        assert_eq!(one, reordered);
        assert_ne!(one, retyped);
        assert_eq!(one, rekeyed, "a key change is not a value change");
    }
}
