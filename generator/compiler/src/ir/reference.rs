//! Typed references between the model's parts, resolved once by validation: a data type
//! holds a [`TableRef`], not a table name that every reader looks up again.

use std::borrow::Cow;
use std::fmt;
use std::hash::{Hash, Hasher};
use std::marker::PhantomData;

use schemars::{JsonSchema, Schema, SchemaGenerator, json_schema};
use serde::{Serialize, Serializer};

use super::{Bucket, CacheModel, Consumer, DataType, Index, Table};

/// A part of the model that others refer to by its name in the spec.
pub trait Named {
    /// Its name in the spec.
    fn name(&self) -> &str;
}

macro_rules! named {
    ($($part:ty),*) => {
        $(impl Named for $part {
            fn name(&self) -> &str {
                &self.name
            }
        })*
    };
}

named!(Table, Bucket, DataType, Consumer, Index);

/// A reference to one `T` of the model: its position in the model's list (for an
/// [`Index`], in its table's), and its name, which the JSON view shows.
pub struct Ref<T> {
    position: usize,
    name: String,
    kind: PhantomData<fn() -> T>,
}

/// A table of [`CacheModel::tables`].
pub type TableRef = Ref<Table>;
/// A bucket of [`CacheModel::buckets`].
pub type BucketRef = Ref<Bucket>;
/// A data type of [`CacheModel::data_types`].
pub type DataTypeRef = Ref<DataType>;
/// A consumer of [`CacheModel::consumers`].
pub type ConsumerRef = Ref<Consumer>;
/// An index of a table's [`Table::indexes`].
pub type IndexRef = Ref<Index>;

impl<T: Named> Ref<T> {
    /// The reference of the part of `parts` called `name`, if there is one.
    pub fn find(parts: &[T], name: &str) -> Option<Self> {
        let position = parts.iter().position(|part| part.name() == name)?;
        Some(Self::at(position, &parts[position]))
    }

    /// The reference of `part`, which is one of `parts`.
    pub(crate) fn to(parts: &[T], part: &T) -> Self {
        let position = parts
            .iter()
            .position(|candidate| std::ptr::eq(candidate, part))
            .expect("the part is one of the parts");
        Self::at(position, part)
    }

    /// Each of `parts` with its reference.
    pub fn each(parts: &[T]) -> impl Iterator<Item = (Self, &T)> {
        parts
            .iter()
            .enumerate()
            .map(|(position, part)| (Self::at(position, part), part))
    }

    fn at(position: usize, part: &T) -> Self {
        Self {
            position,
            name: part.name().to_owned(),
            kind: PhantomData,
        }
    }
}

impl<T> Ref<T> {
    /// The name in the spec of the part referred to.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The position of the part referred to, in the list holding it.
    pub fn position(&self) -> usize {
        self.position
    }
}

impl CacheModel {
    /// The table `table` refers to.
    pub fn table(&self, table: &TableRef) -> &Table {
        &self.tables[table.position]
    }

    /// The bucket `bucket` refers to.
    pub fn bucket(&self, bucket: &BucketRef) -> &Bucket {
        &self.buckets[bucket.position]
    }

    /// The data type `data_type` refers to.
    pub fn data_type(&self, data_type: &DataTypeRef) -> &DataType {
        &self.data_types[data_type.position]
    }

    /// The consumer `consumer` refers to.
    pub fn consumer(&self, consumer: &ConsumerRef) -> &Consumer {
        &self.consumers[consumer.position]
    }

    /// The table the spec calls `name`, if it declares one (for names users type).
    pub fn table_named(&self, name: &str) -> Option<&Table> {
        Ref::find(&self.tables, name).map(|table| self.table(&table))
    }

    /// The bucket the spec calls `name`, if it declares one (for names users type).
    pub fn bucket_named(&self, name: &str) -> Option<&Bucket> {
        Ref::find(&self.buckets, name).map(|bucket| self.bucket(&bucket))
    }

    /// The data type the spec calls `name`, if it declares one (for names users type).
    pub fn data_type_named(&self, name: &str) -> Option<&DataType> {
        Ref::find(&self.data_types, name).map(|data_type| self.data_type(&data_type))
    }

    /// The table data type `data_type` is kept in (`None` with a Redis store).
    pub fn table_of(&self, data_type: &DataType) -> Option<&Table> {
        data_type.table.as_ref().map(|table| self.table(table))
    }

    /// The data types kept in `table`, in spec order.
    pub fn data_types_in<'a>(&'a self, table: &'a TableRef) -> impl Iterator<Item = &'a DataType> {
        self.data_types
            .iter()
            .filter(move |data_type| data_type.table.as_ref() == Some(table))
    }
}

impl Table {
    /// The index `index` refers to.
    pub fn global_index(&self, index: &IndexRef) -> &Index {
        &self.indexes[index.position]
    }
}

impl<T> Clone for Ref<T> {
    fn clone(&self) -> Self {
        Self {
            position: self.position,
            name: self.name.clone(),
            kind: PhantomData,
        }
    }
}

impl<T> fmt::Debug for Ref<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}#{}", self.name, self.position)
    }
}

impl<T> fmt::Display for Ref<T> {
    /// The name in the spec.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.name)
    }
}

impl<T> PartialEq for Ref<T> {
    fn eq(&self, other: &Self) -> bool {
        self.position == other.position
    }
}

impl<T> Eq for Ref<T> {}

impl<T> Hash for Ref<T> {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.position.hash(state);
    }
}

impl<T> Serialize for Ref<T> {
    /// As the name in the spec.
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.name)
    }
}

impl<T> JsonSchema for Ref<T> {
    fn inline_schema() -> bool {
        true
    }

    fn schema_name() -> Cow<'static, str> {
        "Ref".into()
    }

    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({ "type": "string" })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn references_resolve_to_their_part_and_serialize_as_its_name() {
        let model = crate::compile_text("cache.yaml", crate::STARTER_SPEC).unwrap();
        let data_type = &model.data_types[0];
        let table = data_type.table.as_ref().unwrap();
        assert_eq!(model.table_of(data_type).unwrap().name, table.name());
        assert_eq!(
            serde_json::to_value(&data_type.table).unwrap(),
            serde_json::json!(model.tables[0].name)
        );
        let found = Ref::find(&model.tables, &model.tables[0].name).unwrap();
        assert_eq!(&found, table);
        assert!(Ref::<Table>::find(&model.tables, "no-such-table").is_none());
    }
}
