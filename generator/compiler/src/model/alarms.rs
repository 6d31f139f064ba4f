//! Alarms on the cache's metrics and the dashboards laid out per table.

use super::Infrastructure;
use super::dashboard;
use super::values::{Id, TableRef, Value, grant_stem, terraform_name};
use crate::ir::{
    self, Alarm, AlarmQuery, CacheModel, Comparison, DataType, DimensionValue, MetricStat,
    table_operations,
};

/// How every alarm treats periods without data: an idle cache is not failing.
pub const TREAT_MISSING_DATA: &str = "notBreaching";

/// A CloudWatch alarm, named after the stack so stacks never collide.
#[derive(Clone, Debug)]
pub struct AlarmResource<'m> {
    /// Its names.
    pub id: Id,
    /// The alarm, as validated.
    pub alarm: &'m Alarm,
    /// Its name.
    pub name: Value<'m>,
    /// What it evaluates.
    pub query: Query<'m>,
    /// How the value compares to the threshold.
    pub comparison: Comparison,
    /// Actions on alarm.
    pub actions: Vec<Value<'m>>,
}

/// What an alarm evaluates.
#[derive(Clone, Debug)]
pub enum Query<'m> {
    /// One metric with one statistic.
    Metric(Metric<'m>),
    /// A metric math expression over metrics, each referenced by its id.
    Math {
        /// Expression over the ids.
        expression: &'m str,
        /// Label of the result.
        label: &'m str,
        /// The inputs, with their ids.
        metrics: Vec<(&'m str, Metric<'m>)>,
    },
}

/// One metric, its dimensions and a statistic.
#[derive(Clone, Debug)]
pub struct Metric<'m> {
    /// Namespace.
    pub namespace: &'m str,
    /// Metric name.
    pub name: &'m str,
    /// Dimensions, in order.
    pub dimensions: Vec<(&'m str, Value<'m>)>,
    /// The statistic.
    pub statistic: Statistic<'m>,
}

/// A CloudWatch statistic.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Statistic<'m> {
    /// `Sum`, `Average`...
    Standard(&'m str),
    /// A percentile such as `p99`.
    Extended(&'m str),
}

impl<'m> Statistic<'m> {
    /// The statistic as CloudWatch names it.
    pub fn name(self) -> &'m str {
        match self {
            Self::Standard(name) | Self::Extended(name) => name,
        }
    }
}

/// A CloudWatch dashboard, named after the stack: the cache's, or with several tables one
/// per table, with more pages for a table whose data types do not fit on one.
#[derive(Clone, Debug)]
pub struct Dashboard<'m> {
    /// Its names.
    pub id: Id,
    /// Its name.
    pub name: Value<'m>,
    /// What it graphs.
    pub contents: dashboard::Contents<'m>,
}

/// The dashboards of `model`. With one table, the first is `<stack>-cache`
/// (`CacheDashboard`), then `<stack>-cache-2`...; with several, each table's is
/// `<stack>-cache-<table>` (`<Table>Dashboard`), then `-2`... The table's part is its
/// snake_case name, which has no `-`, so no table's page can be named like another table.
pub(super) fn dashboards(model: &CacheModel) -> Vec<Dashboard<'_>> {
    let several = model.tables.len() > 1;
    let mut dashboards = Vec::new();
    for (table_ref, table) in ir::TableRef::each(&model.tables) {
        let data_types: Vec<&DataType> = model
            .data_types
            .iter()
            .filter(|data_type| data_type.table.as_ref() == Some(&table_ref))
            .collect();
        let operations = table_operations(&table_ref, &model.consumers).len();
        let per_page = dashboard::data_types_per_dashboard(1, operations);
        let pages: Vec<&[&DataType]> = if data_types.is_empty() {
            vec![&[]]
        } else {
            data_types.chunks(per_page).collect()
        };
        let count = pages.len();
        for (index, page) in pages.into_iter().enumerate() {
            let number = index + 1;
            let numbered = |stem: &str, separator: &str| match number {
                1 => stem.to_owned(),
                _ => format!("{stem}{separator}{number}"),
            };
            let (logical_stem, suffix) = if several {
                (
                    format!("{}Dashboard", grant_stem(&table.logical_id)),
                    format!("{}-{}", dashboard::NAME_SUFFIX, terraform_name(&table.name)),
                )
            } else {
                (
                    "CacheDashboard".to_owned(),
                    dashboard::NAME_SUFFIX.to_owned(),
                )
            };
            let suffix = numbered(&suffix, "-");
            dashboards.push(Dashboard {
                id: Id {
                    logical_id: numbered(&logical_stem, ""),
                    terraform: suffix.clone(),
                },
                name: Value::stack_prefixed(&suffix),
                contents: dashboard::Contents {
                    tables: vec![table],
                    data_types: page.to_vec(),
                    page: (number, count),
                },
            });
        }
    }
    dashboards
}

impl<'m> Infrastructure<'m> {
    pub(super) fn build_alarm(&self, alarm: &'m Alarm) -> AlarmResource<'m> {
        AlarmResource {
            id: Id {
                logical_id: alarm.logical_id.clone(),
                terraform: terraform_name(&alarm.name),
            },
            alarm,
            name: Value::stack_prefixed(&alarm.name),
            query: match &alarm.query {
                AlarmQuery::Metric(stat) => Query::Metric(self.metric(stat)),
                AlarmQuery::Math {
                    expression,
                    label,
                    metrics,
                } => Query::Math {
                    expression,
                    label,
                    metrics: metrics
                        .iter()
                        .map(|(id, stat)| (id.as_str(), self.metric(stat)))
                        .collect(),
                },
            },
            comparison: alarm.comparison,
            actions: alarm.actions.iter().map(Value::name).collect(),
        }
    }

    pub(super) fn metric(&self, stat: &'m MetricStat) -> Metric<'m> {
        Metric {
            namespace: &stat.namespace,
            name: &stat.metric_name,
            dimensions: stat
                .dimensions
                .iter()
                .map(|(name, value)| {
                    let value = match value {
                        DimensionValue::Literal(text) => Value::literal(text.as_str()),
                        DimensionValue::TableName(table) => Value::TableName(TableRef::of(table)),
                        DimensionValue::SyncFunctionName(bucket) => self.sync_function_name(bucket),
                    };
                    (name.as_str(), value)
                })
                .collect(),
            statistic: if stat.statistic.starts_with('p') {
                Statistic::Extended(&stat.statistic)
            } else {
                Statistic::Standard(&stat.statistic)
            },
        }
    }
}
