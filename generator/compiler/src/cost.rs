//! A monthly DynamoDB cost estimate from the traffic each data type declares, made the
//! way the seeds make it by hand: on-demand request units, storage, and the free tier.
//!
//! The model, per data type with `traffic`:
//! - every lookup reads the store once (an upper bound: L1 hits skip it), an eventually
//!   consistent read of `ceil(size / 4 KB) / 2` read request units;
//! - every miss writes the value back: `ceil(size / 1 KB)` write request units;
//! - stored items are the misses of one TTL, each `size + 100` bytes (DynamoDB's per-item
//!   overhead); a month is 30 days.
//!
//! Tables on provisioned capacity pay their capacity by the hour instead of per request.

use serde::Serialize;

use crate::ir::{Billing, CacheModel};

/// On-demand price per million read request units, us-east-1, in USD.
///
/// Source: <https://aws.amazon.com/dynamodb/pricing/on-demand/>, after the 50% cut of
/// 1 November 2024; looked up November 2026.
pub const READ_REQUEST_UNITS_PER_MILLION: f64 = 0.125;
/// On-demand price per million write request units, us-east-1, in USD (same source and date).
pub const WRITE_REQUEST_UNITS_PER_MILLION: f64 = 0.625;
/// Standard table class storage per GB-month, us-east-1, in USD (same source and date).
pub const STORAGE_PER_GB_MONTH: f64 = 0.25;
/// Storage the free tier covers each month, GB (same source and date).
pub const FREE_STORAGE_GB: f64 = 25.0;
/// Provisioned price per read capacity unit-hour, us-east-1, in USD.
///
/// Source: <https://aws.amazon.com/dynamodb/pricing/provisioned/>; looked up November 2026.
pub const READ_CAPACITY_UNIT_HOUR: f64 = 0.00013;
/// Provisioned price per write capacity unit-hour, us-east-1, in USD (same source and date).
pub const WRITE_CAPACITY_UNIT_HOUR: f64 = 0.00065;
/// Provisioned capacity the free tier covers, for reads and for writes alike (same source).
pub const FREE_CAPACITY_UNITS: u64 = 25;

/// Days in the estimated month.
pub const DAYS_PER_MONTH: u64 = 30;
/// Hours in a billing month, as AWS counts them.
pub const HOURS_PER_MONTH: f64 = 730.0;
/// Bytes DynamoDB adds to every item's size for storage billing.
pub const ITEM_OVERHEAD_BYTES: u64 = 100;

const GB: f64 = 1024.0 * 1024.0 * 1024.0;

/// The estimate of one data type.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct DataTypeCost {
    /// Data type name.
    pub data_type: String,
    /// Its table.
    pub table: String,
    /// Whether its table bills per request.
    pub on_demand: bool,
    /// Store reads per month.
    pub reads: u64,
    /// Store writes per month.
    pub writes: u64,
    /// Read request units per month.
    pub read_units: f64,
    /// Write request units per month.
    pub write_units: f64,
    /// Stored data, GB.
    pub storage_gb: f64,
    /// Request cost per month, USD (zero on provisioned tables).
    pub request_cost: f64,
}

/// The whole estimate.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Estimate {
    /// Data types with declared traffic.
    pub data_types: Vec<DataTypeCost>,
    /// Data types without `traffic`, left out.
    pub without_traffic: Vec<String>,
    /// Request cost of on-demand tables, USD per month.
    pub request_cost: f64,
    /// Provisioned capacity beyond the free tier, USD per month.
    pub capacity_cost: f64,
    /// All stored data, GB.
    pub storage_gb: f64,
    /// Storage beyond the free tier, USD per month.
    pub storage_cost: f64,
    /// Everything, USD per month.
    pub total: f64,
}

/// Estimates the monthly bill of `model`'s tables.
pub fn estimate(model: &CacheModel) -> Estimate {
    let mut data_types = Vec::new();
    let mut without_traffic = Vec::new();
    for data_type in &model.data_types {
        // DynamoDB's bill only: a Redis store is priced by the hour, not per request.
        let Some(table) = model.table_of(data_type) else {
            continue;
        };
        let Some(traffic) = data_type.traffic else {
            without_traffic.push(data_type.name.clone());
            continue;
        };
        let on_demand = table.billing == Billing::OnDemand;
        let size = traffic.item_size_bytes;
        let reads = traffic.requests_per_day * DAYS_PER_MONTH;
        let misses_per_day = traffic.requests_per_day as f64 * (1.0 - traffic.hit_rate);
        let writes = (misses_per_day * DAYS_PER_MONTH as f64).round() as u64;
        let read_units = reads as f64 * size.div_ceil(4096) as f64 / 2.0;
        let write_units = writes as f64 * size.div_ceil(1024) as f64;
        let live_items = misses_per_day * data_type.ttl_secs as f64 / 86_400.0;
        let storage_gb = live_items * (size + ITEM_OVERHEAD_BYTES) as f64 / GB;
        let request_cost = if on_demand {
            read_units / 1e6 * READ_REQUEST_UNITS_PER_MILLION
                + write_units / 1e6 * WRITE_REQUEST_UNITS_PER_MILLION
        } else {
            0.0
        };
        data_types.push(DataTypeCost {
            data_type: data_type.name.clone(),
            table: table.name.clone(),
            on_demand,
            reads,
            writes,
            read_units,
            write_units,
            storage_gb,
            request_cost,
        });
    }
    let (read_capacity, write_capacity) = model
        .tables
        .iter()
        .filter_map(|table| match table.billing {
            Billing::Provisioned(capacity) => Some(
                std::iter::once(capacity)
                    .chain(table.indexes.iter().filter_map(|index| index.capacity))
                    .fold((0, 0), |(r, w), c| {
                        (r + u64::from(c.read), w + u64::from(c.write))
                    }),
            ),
            Billing::OnDemand => None,
        })
        .fold((0, 0), |(r, w), (tr, tw)| (r + tr, w + tw));
    let capacity_cost = read_capacity.saturating_sub(FREE_CAPACITY_UNITS) as f64
        * READ_CAPACITY_UNIT_HOUR
        * HOURS_PER_MONTH
        + write_capacity.saturating_sub(FREE_CAPACITY_UNITS) as f64
            * WRITE_CAPACITY_UNIT_HOUR
            * HOURS_PER_MONTH;
    let request_cost = data_types.iter().map(|d| d.request_cost).sum();
    let storage_gb: f64 = data_types.iter().map(|d| d.storage_gb).sum();
    let storage_cost = (storage_gb - FREE_STORAGE_GB).max(0.0) * STORAGE_PER_GB_MONTH;
    Estimate {
        data_types,
        without_traffic,
        request_cost,
        capacity_cost,
        storage_gb,
        storage_cost,
        total: request_cost + capacity_cost + storage_cost,
    }
}

/// The estimate as a small text table.
pub fn render(estimate: &Estimate) -> String {
    let mut out = format!(
        "{:<24} {:>12} {:>12} {:>12} {:>12} {:>10} {:>10}\n",
        "data type", "reads/mo", "writes/mo", "RRU/mo", "WRU/mo", "storage", "requests"
    );
    for row in &estimate.data_types {
        let requests = if row.on_demand {
            format!("${:.4}", row.request_cost)
        } else {
            "capacity".to_owned()
        };
        out.push_str(&format!(
            "{:<24} {:>12} {:>12} {:>12.0} {:>12.0} {:>10} {:>10}\n",
            row.data_type,
            row.reads,
            row.writes,
            row.read_units,
            row.write_units,
            format_size(row.storage_gb),
            requests
        ));
    }
    out.push_str(&format!(
        "\nrequests ${:.4} + provisioned capacity ${:.4} + storage ${:.4} ({} stored, {FREE_STORAGE_GB} GB free) = ${:.4}/month\n",
        estimate.request_cost,
        estimate.capacity_cost,
        estimate.storage_cost,
        format_size(estimate.storage_gb),
        estimate.total
    ));
    if !estimate.without_traffic.is_empty() {
        out.push_str(&format!(
            "not estimated (no `traffic`): {}\n",
            estimate.without_traffic.join(", ")
        ));
    }
    out.push_str(
        "us-east-1 prices; every lookup counted as a store read (L1 hits only lower it).\n",
    );
    out
}

fn format_size(gb: f64) -> String {
    if gb >= 1.0 {
        format!("{gb:.2} GB")
    } else {
        format!("{:.1} KB", gb * 1024.0 * 1024.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn model(billing: &str, traffic: &str, ttl: &str) -> CacheModel {
        let spec = format!(
            "version: 1\nservice: demo\ntables:\n  cache:\n    name: demo-cache\n    billing: {billing}\n\
             data_types:\n  answer:\n    key: \"answer#{{id}}\"\n    params: {{ id: string }}\n    value: {{ fields: {{ text: string }} }}\n    ttl: {ttl}\n    traffic: {traffic}\n  other:\n    key: \"other\"\n    value: {{ fields: {{ text: string }} }}\n"
        );
        crate::compile_text("cache.yaml", &spec).unwrap()
    }

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() < 1e-9
    }

    #[test]
    fn seed_001_by_hand() {
        // 1000 lookups/day at 80% hits, 5 KB items: 30,000 reads of 2 x 4 KB, eventually
        // consistent = 30,000 RRU; 6,000 writes of 5 x 1 KB = 30,000 WRU.
        let estimate = estimate(&model(
            "on_demand",
            "{ requests_per_day: 1000, hit_rate: 0.8, item_size: 5KB }",
            "5m",
        ));
        let row = &estimate.data_types[0];
        assert_eq!((row.reads, row.writes), (30_000, 6_000));
        assert!(close(row.read_units, 30_000.0));
        assert!(close(row.write_units, 30_000.0));
        // 0.03 x $0.125 + 0.03 x $0.625 = $0.00375 + $0.01875.
        assert!(close(estimate.request_cost, 0.0225));
        assert_eq!(estimate.storage_cost, 0.0);
        assert!(close(estimate.total, 0.0225));
        assert_eq!(estimate.without_traffic, ["other"]);
    }

    #[test]
    fn storage_beyond_the_free_tier_is_charged() {
        // 10M misses/day of 400 KB items kept 1 day: 10M x (409,600 + 100) B = 3,815.6 GB.
        let estimate = estimate(&model(
            "on_demand",
            "{ requests_per_day: 10000000, hit_rate: 0, item_size: 400KB }",
            "24h",
        ));
        let gb = 10_000_000.0 * 409_700.0 / GB;
        assert!(close(estimate.storage_gb, gb));
        assert!(close(estimate.storage_cost, (gb - 25.0) * 0.25));
    }

    #[test]
    fn provisioned_tables_pay_capacity_beyond_the_free_tier() {
        let free = estimate(&model(
            "{ provisioned: { read: 1, write: 1 } }",
            "{ requests_per_day: 100, hit_rate: 0.5, item_size: 1KB }",
            "24h",
        ));
        assert_eq!((free.request_cost, free.capacity_cost), (0.0, 0.0));
        let paid = estimate(&model(
            "{ provisioned: { read: 35, write: 26 } }",
            "{ requests_per_day: 100, hit_rate: 0.5, item_size: 1KB }",
            "24h",
        ));
        // 10 RCU x $0.00013 x 730 h + 1 WCU x $0.00065 x 730 h = $0.949 + $0.4745.
        assert!(close(paid.capacity_cost, 1.4235));
    }
}
