//! CloudWatch dashboard bodies: hit rate, latency and errors for the service and for
//! each data type, and DynamoDB throttles per table, three widgets to a row.
//!
//! A dashboard holds at most [`DASHBOARD_WIDGETS`] widgets and [`DASHBOARD_METRICS`]
//! metrics, so the data types are spread over several: one per table when the spec has
//! several tables, and as many pages per table as its data types need
//! ([`data_types_per_dashboard`]). Every target embeds the same bodies; only how it names
//! a table and the region differs.

use serde_json::{Value, json};

use crate::ir::{CacheModel, DataType, Ref, Table, metric, table_operations};
use crate::limits::{DASHBOARD_METRICS, DASHBOARD_WIDGETS};

/// Width of one metric widget in CloudWatch's 24-column grid.
const WIDTH: u32 = 8;
/// Height of one metric widget.
const HEIGHT: u32 = 6;
/// Period of every graph, seconds.
const PERIOD: u32 = 300;

/// Widgets in a runtime row ([`runtime_row`]): hit rate, latency, errors.
const ROW_WIDGETS: usize = 3;
/// Metrics a runtime row reads: three for the hit rate, two for latency, two for errors.
const ROW_METRICS: usize = 7;

/// How a target refers to deploy-time values inside the body.
pub struct References<'a> {
    /// The interpolation of a table's physical name (`${QueryCacheTable}`).
    pub table_name: &'a dyn Fn(&Table) -> String,
    /// The interpolation of the deployment's region (`${AWS::Region}`).
    pub region: &'a str,
}

/// The dashboard's name suffix, after the stack (or `stack_name`) prefix.
pub const NAME_SUFFIX: &str = "cache";

/// What one dashboard shows: the throttles of `tables`, and a row per data type.
#[derive(Clone, Debug)]
pub struct Contents<'m> {
    /// The tables whose throttles it graphs.
    pub tables: Vec<&'m Table>,
    /// The data types it graphs, in spec order.
    pub data_types: Vec<&'m DataType>,
    /// Which page of its table's data types it is (1-based), and of how many.
    pub page: (usize, usize),
}

/// How many data types one dashboard can graph next to the header, the service row and
/// the throttles of `tables` (each read per operation, `operations` of them in all).
pub fn data_types_per_dashboard(tables: usize, operations: usize) -> usize {
    let widgets = DASHBOARD_WIDGETS - 1 - ROW_WIDGETS - tables;
    let metrics = DASHBOARD_METRICS - ROW_METRICS - operations;
    (widgets / ROW_WIDGETS).min(metrics / ROW_METRICS)
}

/// The dashboard body as JSON.
pub fn body(model: &CacheModel, contents: &Contents<'_>, refs: &References<'_>) -> Value {
    let mut grid = Grid::default();
    let scope = match (contents.tables.as_slice(), model.tables.len()) {
        ([table], several) if several > 1 => format!(", table {}", table.name),
        _ => String::new(),
    };
    let page = match contents.page {
        (_, 1) => String::new(),
        (page, pages) => format!(" (page {page} of {pages})"),
    };
    let mut widgets = vec![json!({
        "type": "text",
        "x": 0, "y": 0, "width": 24, "height": 2,
        "properties": { "markdown": format!(
            "# {} cache{scope}{page}\nHit rate, latency and errors from the cachegen runtime (namespace `{}`){}.",
            model.service, model.metrics_namespace,
            if model.tables.is_empty() { "" } else { ", and DynamoDB throttles per table" }
        ) },
    })];
    grid.y = 2;
    widgets.extend(runtime_row(model, refs, None, &mut grid));
    for table in &contents.tables {
        widgets.push(grid.place(throttles(model, refs, table)));
    }
    grid.new_row();
    for data_type in &contents.data_types {
        widgets.extend(runtime_row(model, refs, Some(&data_type.name), &mut grid));
    }
    json!({ "widgets": widgets })
}

/// Metrics `body` reads, counting each line of a graph and each metric only read by math.
pub fn metric_count(body: &Value) -> usize {
    widgets(body)
        .iter()
        .filter_map(|widget| widget["properties"]["metrics"].as_array())
        .flatten()
        .filter(|line| {
            line.as_array()
                .and_then(|line| line.first())
                .is_some_and(Value::is_string)
        })
        .count()
}

/// The widgets of `body`.
pub fn widgets(body: &Value) -> &[Value] {
    body["widgets"].as_array().map_or(&[], Vec::as_slice)
}

/// Widget positions, filled left to right.
#[derive(Default)]
struct Grid {
    x: u32,
    y: u32,
}

impl Grid {
    fn place(&mut self, mut widget: Value) -> Value {
        if self.x + WIDTH > 24 {
            self.new_row();
        }
        widget["x"] = self.x.into();
        widget["y"] = self.y.into();
        widget["width"] = WIDTH.into();
        widget["height"] = HEIGHT.into();
        self.x += WIDTH;
        widget
    }

    fn new_row(&mut self) {
        if self.x > 0 {
            self.x = 0;
            self.y += HEIGHT;
        }
    }
}

/// Hit rate, store latency and store errors, for the service or one data type.
fn runtime_row(
    model: &CacheModel,
    refs: &References<'_>,
    data_type: Option<&str>,
    grid: &mut Grid,
) -> Vec<Value> {
    grid.new_row();
    let scope = data_type.unwrap_or("all data types");
    let runtime = |name: &str, options: Value| {
        let mut line = vec![
            json!(model.metrics_namespace),
            json!(name),
            json!(metric::SERVICE_DIMENSION),
            json!(model.service),
        ];
        if let Some(data_type) = data_type {
            line.extend([json!(metric::DATA_TYPE_DIMENSION), json!(data_type)]);
        }
        line.push(options);
        Value::Array(line)
    };
    let hit_rate = graph(
        refs,
        format!("Hit rate: {scope}"),
        "Sum",
        vec![
            json!([{ "expression": "(FILL(m,0)+FILL(s,0))/(FILL(m,0)+FILL(s,0)+FILL(o,0))", "label": "Hit rate", "id": "rate" }]),
            runtime(metric::MEMORY_HITS, json!({ "id": "m", "visible": false })),
            runtime(metric::STORE_HITS, json!({ "id": "s", "visible": false })),
            runtime(metric::MISSES, json!({ "id": "o", "visible": false })),
        ],
    );
    let latency = graph(
        refs,
        format!("Store latency (ms): {scope}"),
        "p99",
        vec![
            runtime(
                metric::STORE_LATENCY,
                json!({ "stat": "p50", "label": "p50" }),
            ),
            runtime(
                metric::STORE_LATENCY,
                json!({ "stat": "p99", "label": "p99" }),
            ),
        ],
    );
    let errors = graph(
        refs,
        format!("Store errors and misses: {scope}"),
        "Sum",
        vec![
            runtime(metric::STORE_ERRORS, json!({ "label": "Store errors" })),
            runtime(metric::MISSES, json!({ "label": "Misses" })),
        ],
    );
    vec![
        grid.place(hit_rate),
        grid.place(latency),
        grid.place(errors),
    ]
}

/// DynamoDB `ThrottledRequests` on one table, per operation its consumers use.
fn throttles(model: &CacheModel, refs: &References<'_>, table: &Table) -> Value {
    let lines = table_operations(&Ref::to(&model.tables, table), &model.consumers)
        .into_iter()
        .map(|operation| {
            json!([
                metric::DYNAMODB_NAMESPACE,
                metric::DYNAMODB_THROTTLED_REQUESTS,
                "TableName",
                (refs.table_name)(table),
                "Operation",
                operation,
            ])
        })
        .collect();
    graph(
        refs,
        format!("Throttled requests: table {}", table.name),
        "Sum",
        lines,
    )
}

fn graph(refs: &References<'_>, title: String, stat: &str, metrics: Vec<Value>) -> Value {
    json!({
        "type": "metric",
        "properties": {
            "title": title,
            "region": refs.region,
            "view": "timeSeries",
            "stat": stat,
            "period": PERIOD,
            "metrics": metrics,
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn starter_body() -> (CacheModel, Value) {
        let model = crate::compile_text("cache.yaml", crate::STARTER_SPEC).unwrap();
        let table_name = |table: &Table| format!("${{{}}}", table.logical_id);
        let contents = Contents {
            tables: model.tables.iter().collect(),
            data_types: model.data_types.iter().collect(),
            page: (1, 1),
        };
        let body = body(
            &model,
            &contents,
            &References {
                table_name: &table_name,
                region: "${AWS::Region}",
            },
        );
        (model, body)
    }

    #[test]
    fn widgets_tile_the_grid_without_overlapping() {
        let (model, body) = starter_body();
        let widgets = widgets(&body);
        // Header, the service row, one throttle graph per table, three per data type.
        assert_eq!(
            widgets.len(),
            1 + ROW_WIDGETS + model.tables.len() + ROW_WIDGETS * model.data_types.len()
        );
        let cells = |w: &Value| {
            let n = |key: &str| w[key].as_u64().unwrap();
            (n("x"), n("y"), n("width"), n("height"))
        };
        for (i, a) in widgets.iter().enumerate() {
            let (ax, ay, aw, ah) = cells(a);
            assert!(ax + aw <= 24);
            for b in &widgets[i + 1..] {
                let (bx, by, bw, bh) = cells(b);
                let apart = ax + aw <= bx || bx + bw <= ax || ay + ah <= by || by + bh <= ay;
                assert!(apart, "{a} overlaps {b}");
            }
        }
    }

    #[test]
    fn a_row_reads_the_metrics_the_page_size_counts_on() {
        let (model, body) = starter_body();
        let operations: usize = Ref::each(&model.tables)
            .map(|(table, _)| table_operations(&table, &model.consumers).len())
            .sum();
        assert_eq!(
            metric_count(&body),
            ROW_METRICS * (1 + model.data_types.len()) + operations
        );
    }
}
