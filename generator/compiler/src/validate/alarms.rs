//! Alarms, resolved to the exact metrics (names, dimensions, statistics) they watch.

use heck::ToPascalCase;

use super::{Checker, names};
use crate::diagnostics::codes;
use crate::diagnostics::source::NodePath;
use crate::ir::{
    Alarm, AlarmQuery, Bucket, Comparison, Consumer, DimensionValue, MetricStat, Ref, Table,
    TableRef, metric, table_operations,
};
use crate::spec::{self, AlarmMetric, SpecDuration, Threshold};

impl Checker<'_> {
    pub(super) fn alarms(
        &mut self,
        tables: &[Table],
        buckets: &[Bucket],
        consumers: &[Consumer],
        namespace: &str,
    ) -> Vec<Alarm> {
        let spec = self.spec;
        self.unique_logical_ids("alarms", spec.alarms.keys());
        spec.alarms
            .iter()
            .filter_map(|(name, alarm)| {
                self.alarm(name, alarm, tables, buckets, consumers, namespace)
            })
            .collect()
    }

    fn alarm(
        &mut self,
        name: &str,
        alarm: &spec::Alarm,
        tables: &[Table],
        buckets: &[Bucket],
        consumers: &[Consumer],
        namespace: &str,
    ) -> Option<Alarm> {
        let path = NodePath::parse("alarms").key(name);
        self.check(
            codes::IDENTIFIER,
            &path,
            names::identifier_problem("alarm", name),
            "alarm names become logical IDs",
        );
        let (period, evaluation_periods) = self.alarm_window(&path, alarm);
        let period_secs = period.as_secs();
        self.alarm_scope(&path, alarm);
        let (query, threshold, what) = match alarm.metric {
            AlarmMetric::SyncErrors => self.sync_errors(&path, alarm, buckets, period_secs)?,
            AlarmMetric::Throttles => self.throttles(&path, alarm, tables, consumers)?,
            AlarmMetric::HitRate => self.hit_rate(&path, alarm, namespace),
            AlarmMetric::Latency => self.latency(&path, alarm, namespace),
            AlarmMetric::StoreErrors => self.store_errors(&path, alarm, namespace),
        };
        let comparison = match alarm.metric {
            AlarmMetric::HitRate => Comparison::LessThanThreshold,
            AlarmMetric::SyncErrors
            | AlarmMetric::Throttles
            | AlarmMetric::Latency
            | AlarmMetric::StoreErrors => Comparison::GreaterThanThreshold,
        };
        if alarm.data_type.is_some() && alarm.metric == AlarmMetric::Throttles {
            self.error(
                codes::ALARM_SCOPE,
                &path.key("data_type"),
                "a throttling alarm watches a whole table, not a data type",
                "remove `data_type`, or set `table`",
            );
        }
        let scope = alarm.data_type.as_ref().map_or_else(
            || self.spec.service.clone(),
            |data_type| format!("{} {data_type}", self.spec.service),
        );
        let direction = match comparison {
            Comparison::LessThanThreshold => "below",
            Comparison::GreaterThanThreshold => "above",
        };
        let description = alarm.description.clone().unwrap_or_else(|| {
            format!(
                "{scope}: {what} {direction} {threshold} for {evaluation_periods} period(s) of {period}"
            )
        });
        let actions = alarm
            .actions
            .iter()
            .enumerate()
            .map(|(position, action)| {
                self.name_template(&path.key("actions").index(position), action)
            })
            .collect();
        Some(Alarm {
            name: name.to_owned(),
            logical_id: format!("{}Alarm", name.to_pascal_case()),
            description,
            metric: alarm.metric,
            query,
            threshold,
            comparison,
            period_secs,
            evaluation_periods,
            actions,
        })
    }

    /// An alarm's period (5 minutes unless set) and how many of them it evaluates.
    fn alarm_window(&mut self, path: &NodePath, alarm: &spec::Alarm) -> (SpecDuration, u32) {
        let period = alarm
            .period
            .unwrap_or(SpecDuration(std::time::Duration::from_secs(300)));
        let period_secs = period.as_secs();
        if !(matches!(period_secs, 10 | 30)
            || (period_secs >= 60 && period_secs.is_multiple_of(60)))
        {
            self.error(
                codes::ALARM_PERIOD,
                &path.key("period"),
                format!("alarm period {period} is not one CloudWatch accepts"),
                "use 10s, 30s, or a whole number of minutes",
            );
        }
        let evaluation_periods = alarm.evaluation_periods.unwrap_or(1);
        if evaluation_periods == 0 || u64::from(evaluation_periods) * period_secs > 86_400 {
            self.error(
                codes::EVALUATION_PERIODS,
                &path.key("evaluation_periods"),
                "evaluation periods must be at least 1 and span at most one day",
                "for example `evaluation_periods: 2`",
            );
        }
        (period, evaluation_periods)
    }

    /// The data type an alarm narrows to is declared, and only a sync-errors alarm names a bucket.
    fn alarm_scope(&mut self, path: &NodePath, alarm: &spec::Alarm) {
        if let Some(data_type) = &alarm.data_type
            && !self.spec.data_types.contains_key(data_type)
        {
            let hint = Self::suggest(data_type, self.spec.data_types.keys().map(String::as_str));
            self.error(
                codes::UNKNOWN_DATA_TYPE,
                &path.key("data_type"),
                format!("data type `{data_type}` is not declared"),
                hint,
            );
        }
        if alarm.bucket.is_some() && alarm.metric != AlarmMetric::SyncErrors {
            self.key_error(
                codes::ALARM_SCOPE,
                &path.key("bucket"),
                "only a `sync_errors` alarm watches a bucket",
                "remove `bucket`, or use `metric: sync_errors`",
            );
        }
    }

    /// A throttling alarm: DynamoDB throttled requests on the table it names.
    fn throttles(
        &mut self,
        path: &NodePath,
        alarm: &spec::Alarm,
        tables: &[Table],
        consumers: &[Consumer],
    ) -> Option<(AlarmQuery, f64, String)> {
        let table = self.resolve_table(
            path,
            alarm.table.as_ref(),
            tables,
            (
                codes::ALARM_SCOPE,
                "a throttling alarm must name its table",
                "add `table: <name>`",
            ),
        )?;
        let threshold = self.count_threshold(path, &alarm.threshold);
        Some((
            throttle_query(Ref::to(tables, table), consumers),
            threshold,
            format!("DynamoDB throttled requests on table {}", table.name),
        ))
    }

    /// A hit-rate alarm: the share of reads the cache answered, below a ratio.
    fn hit_rate(
        &mut self,
        path: &NodePath,
        alarm: &spec::Alarm,
        namespace: &str,
    ) -> (AlarmQuery, f64, String) {
        let threshold = match alarm.threshold {
            Threshold::Number(ratio) if ratio > 0.0 && ratio < 1.0 => ratio,
            _ => {
                self.error(
                    codes::ALARM_THRESHOLD,
                    &path.key("threshold"),
                    "a hit-rate threshold is a ratio between 0 and 1",
                    "for example `threshold: 0.7` for 70%",
                );
                0.0
            }
        };
        (
            self.hit_rate_query(namespace, alarm.data_type.as_deref()),
            threshold,
            "cache hit rate".to_owned(),
        )
    }

    /// A latency alarm: a percentile of store latency, above a duration.
    fn latency(
        &mut self,
        path: &NodePath,
        alarm: &spec::Alarm,
        namespace: &str,
    ) -> (AlarmQuery, f64, String) {
        let threshold = match &alarm.threshold {
            Threshold::Duration(duration) => duration.as_millis() as f64,
            Threshold::Number(_) => {
                self.error(
                    codes::ALARM_THRESHOLD,
                    &path.key("threshold"),
                    "a latency threshold is a duration",
                    "for example `threshold: 500ms`",
                );
                0.0
            }
        };
        let statistic = alarm.statistic.clone().unwrap_or_else(|| "p99".into());
        if !is_percentile(&statistic) {
            self.error(
                codes::ALARM_STATISTIC,
                &path.key("statistic"),
                format!("`{statistic}` is not a percentile statistic"),
                "use a percentile such as `p50`, `p99` or `p99.9`",
            );
        }
        (
            AlarmQuery::Metric(self.runtime_metric(
                namespace,
                metric::STORE_LATENCY,
                alarm.data_type.as_deref(),
                &statistic,
            )),
            threshold,
            format!("{statistic} store latency (ms)"),
        )
    }

    /// A store-errors alarm: the count of failed store calls, above a count.
    fn store_errors(
        &mut self,
        path: &NodePath,
        alarm: &spec::Alarm,
        namespace: &str,
    ) -> (AlarmQuery, f64, String) {
        let threshold = self.count_threshold(path, &alarm.threshold);
        (
            AlarmQuery::Metric(self.runtime_metric(
                namespace,
                metric::STORE_ERRORS,
                alarm.data_type.as_deref(),
                "Sum",
            )),
            threshold,
            "cache store errors".to_owned(),
        )
    }

    fn count_threshold(&mut self, path: &NodePath, threshold: &Threshold) -> f64 {
        match threshold {
            Threshold::Number(count) if *count >= 0.0 => *count,
            _ => {
                self.error(
                    codes::ALARM_THRESHOLD,
                    &path.key("threshold"),
                    "this threshold is a count of zero or more",
                    "for example `threshold: 0` to alarm on the first one",
                );
                0.0
            }
        }
    }

    fn runtime_metric(
        &self,
        namespace: &str,
        name: &str,
        data_type: Option<&str>,
        statistic: &str,
    ) -> MetricStat {
        let mut dimensions = vec![(
            metric::SERVICE_DIMENSION.to_owned(),
            DimensionValue::Literal(self.spec.service.clone()),
        )];
        if let Some(data_type) = data_type {
            dimensions.push((
                metric::DATA_TYPE_DIMENSION.to_owned(),
                DimensionValue::Literal(data_type.to_owned()),
            ));
        }
        MetricStat {
            namespace: namespace.to_owned(),
            metric_name: name.to_owned(),
            dimensions,
            statistic: statistic.to_owned(),
        }
    }

    fn hit_rate_query(&self, namespace: &str, data_type: Option<&str>) -> AlarmQuery {
        let input = |id: &str, name: &str| {
            (
                id.to_owned(),
                self.runtime_metric(namespace, name, data_type, "Sum"),
            )
        };
        AlarmQuery::Math {
            expression: "(FILL(memory_hits,0)+FILL(store_hits,0))/(FILL(memory_hits,0)+FILL(store_hits,0)+FILL(misses,0))"
                .to_owned(),
            label: "HitRate".to_owned(),
            metrics: vec![
                input("memory_hits", metric::MEMORY_HITS),
                input("store_hits", metric::STORE_HITS),
                input("misses", metric::MISSES),
            ],
        }
    }
}

/// `ThrottledRequests` summed over each operation the table's consumers use: the metric
/// only exists per `TableName` *and* `Operation`, so an alarm without both never fires.
fn throttle_query(table: TableRef, consumers: &[Consumer]) -> AlarmQuery {
    let operations = table_operations(&table, consumers);
    AlarmQuery::Math {
        expression: "SUM(METRICS())".to_owned(),
        label: "ThrottledRequests".to_owned(),
        metrics: operations
            .into_iter()
            .map(|operation| {
                (
                    heck::AsSnakeCase(&operation).to_string(),
                    MetricStat {
                        namespace: metric::DYNAMODB_NAMESPACE.to_owned(),
                        metric_name: metric::DYNAMODB_THROTTLED_REQUESTS.to_owned(),
                        dimensions: vec![
                            (
                                "TableName".to_owned(),
                                DimensionValue::TableName(table.clone()),
                            ),
                            ("Operation".to_owned(), DimensionValue::Literal(operation)),
                        ],
                        statistic: "Sum".to_owned(),
                    },
                )
            })
            .collect(),
    }
}

fn is_percentile(statistic: &str) -> bool {
    statistic
        .strip_prefix('p')
        .and_then(|number| number.parse::<f64>().ok())
        .is_some_and(|number| number > 0.0 && number < 100.0)
}
