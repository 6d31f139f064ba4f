//! `sync_errors` alarms: the error rate of the sync function a bucket's events reach.

use super::Checker;
use crate::diagnostics::codes;
use crate::diagnostics::source::NodePath;
use crate::ir::{AlarmQuery, Bucket, DimensionValue, MetricStat, Ref, metric};
use crate::spec::{self, Threshold};

/// The shortest period of a `sync_errors` alarm: Lambda publishes its metrics per minute,
/// so a shorter period has no data to read.
const LAMBDA_METRIC_PERIOD_SECS: u64 = 60;

impl Checker<'_> {
    /// The query and threshold of the `sync_errors` alarm at `path`: `Errors` over
    /// `Invocations` of the sync function of the bucket it names, or of the only bucket
    /// with `events`. Periods without invocations have no data, which alarms treat as not
    /// breaching.
    pub(super) fn sync_errors(
        &mut self,
        path: &NodePath,
        alarm: &spec::Alarm,
        buckets: &[Bucket],
        period_secs: u64,
    ) -> Option<(AlarmQuery, f64, String)> {
        let threshold = match alarm.threshold {
            Threshold::Number(ratio) if ratio > 0.0 && ratio <= 1.0 => ratio,
            _ => {
                self.error(
                    codes::ALARM_THRESHOLD,
                    &path.key("threshold"),
                    "a sync error threshold is a ratio of invocations, above 0 and at most 1",
                    "for example `threshold: 0.01` to alarm when more than 1% of invocations fail",
                );
                0.0
            }
        };
        if period_secs < LAMBDA_METRIC_PERIOD_SECS {
            self.error(
                codes::ALARM_PERIOD,
                &path.key("period"),
                "Lambda publishes its metrics once a minute, so this period would have no data",
                "use a whole number of minutes, such as `period: 5m`",
            );
        }
        for (field, given) in [
            ("data_type", alarm.data_type.is_some()),
            ("table", alarm.table.is_some()),
        ] {
            if given {
                self.key_error(
                    codes::ALARM_SCOPE,
                    &path.key(field),
                    format!("a `sync_errors` alarm watches a bucket's sync function, not a {field}"),
                    format!("remove `{field}`; name the bucket with `bucket: <name>` if there are several"),
                );
            }
        }
        let bucket = self.watched_bucket(path, alarm, buckets)?;
        let function = DimensionValue::SyncFunctionName(Ref::to(buckets, bucket));
        let input = |id: &str, name: &str| {
            (
                id.to_owned(),
                MetricStat {
                    namespace: metric::LAMBDA_NAMESPACE.to_owned(),
                    metric_name: name.to_owned(),
                    dimensions: vec![(
                        metric::LAMBDA_FUNCTION_DIMENSION.to_owned(),
                        function.clone(),
                    )],
                    statistic: "Sum".to_owned(),
                },
            )
        };
        let query = AlarmQuery::Math {
            expression: "errors/invocations".to_owned(),
            label: "SyncErrorRate".to_owned(),
            metrics: vec![
                input("errors", metric::LAMBDA_ERRORS),
                input("invocations", metric::LAMBDA_INVOCATIONS),
            ],
        };
        let what = format!(
            "share of failed invocations of the sync function of bucket {}",
            bucket.name
        );
        Some((query, threshold, what))
    }

    /// The bucket whose sync function a `sync_errors` alarm watches: the one it names, or
    /// the only one with `events`.
    fn watched_bucket<'b>(
        &mut self,
        path: &NodePath,
        alarm: &spec::Alarm,
        buckets: &'b [Bucket],
    ) -> Option<&'b Bucket> {
        let with_events = || buckets.iter().filter(|bucket| bucket.events.is_some());
        let found = match &alarm.bucket {
            Some(wanted) => {
                let found = self.declared_bucket(&path.key("bucket"), wanted, buckets)?;
                if found.events.is_none() {
                    self.error(
                        codes::ALARM_SCOPE,
                        &path.key("bucket"),
                        format!("bucket `{wanted}` has no `events`, so no sync function to watch"),
                        "add `events: { function: \"${SyncFunctionArn}\", consumer: <name> }` to the bucket",
                    );
                    return None;
                }
                found
            }
            None => match (with_events().next(), with_events().count()) {
                (Some(only), 1) => only,
                (None, _) => {
                    self.error(
                        codes::ALARM_SCOPE,
                        &path.key("metric"),
                        "a `sync_errors` alarm watches the sync function of a bucket's `events`, and no bucket has any",
                        "add `events: { function: \"${SyncFunctionArn}\", consumer: <name> }` to a bucket, or use another metric",
                    );
                    return None;
                }
                (Some(_), _) => {
                    self.key_error(
                        codes::ALARM_SCOPE,
                        path,
                        "several buckets have `events`: this alarm must say whose sync function it watches",
                        "add `bucket: <name>`",
                    );
                    return None;
                }
            },
        };
        Some(found)
    }
}
