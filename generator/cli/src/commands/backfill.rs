//! `cachegen backfill`: a document type's cache, filled from the objects in its bucket.

use std::process::ExitCode;

use anyhow::Result;

use cachegen::operate::backfill::{Backfill, BackfillOptions};
use cachegen_compiler::ir::{DataType, Document};

use super::SPEC_PROBLEMS;
use super::operation::Operation;
use super::runtime;
use crate::BackfillArgs;

/// Backfills the data type `args` name, showing progress and then a summary; exits 1 when
/// any object failed.
pub(crate) fn run(args: &BackfillArgs) -> Result<ExitCode> {
    runtime()?.block_on(async {
        let Some(operation) = Operation::open(&args.deployed).await? else {
            return Ok(ExitCode::from(SPEC_PROBLEMS));
        };
        let data_type = operation.data_type();
        let Some(document) = &data_type.document else {
            anyhow::bail!(
                "data type `{}` keeps no documents in S3: only document types can be backfilled",
                data_type.name
            );
        };
        let bucket = operation
            .deployment
            .bucket(operation.project.model.bucket(&document.bucket))?;
        let backfill = Backfill::new(
            data_type,
            operation.cache()?,
            cachegen_runtime::config::s3_client(&operation.config),
            bucket,
        )?;
        let options = BackfillOptions {
            since: args.since,
            until: args.until,
            filters: filters(args, data_type, document)?,
            dry_run: args.dry_run,
            concurrency: args.concurrency,
            rps: args.rps,
        };
        let bar =
            indicatif::ProgressBar::new(0).with_style(indicatif::ProgressStyle::with_template(
                "{spinner} [{elapsed_precise}] {bar:40} {pos}/{len} objects ({per_sec}) {msg}",
            )?);
        let summary = backfill
            .run(&options, &|tally| {
                bar.set_length(tally.scanned);
                bar.set_position(tally.written + tally.skipped + tally.failed);
                bar.set_message(format!("{} failed", tally.failed));
            })
            .await?;
        bar.finish_and_clear();
        println!(
            "backfill of {} from s3://{bucket}: {summary}{}",
            data_type.name,
            if args.dry_run {
                " (dry run: nothing written)"
            } else {
                ""
            }
        );
        Ok(if summary.failed == 0 {
            ExitCode::SUCCESS
        } else {
            ExitCode::FAILURE
        })
    })
}

/// The item filters of `args`: each `--where`, and `--customer` as a filter on the
/// attribute the document type names for it.
fn filters(
    args: &BackfillArgs,
    data_type: &DataType,
    document: &Document,
) -> Result<Vec<(String, String)>> {
    let mut filters = args.filters.clone();
    if let Some(customer) = &args.customer {
        let Some(attribute) = &document.customer_attribute else {
            anyhow::bail!(
                "--customer needs `document.customer_attribute` on data type `{}`; or filter with --where ATTRIBUTE=VALUE",
                data_type.name
            );
        };
        filters.push((attribute.clone(), customer.clone()));
    }
    Ok(filters)
}
