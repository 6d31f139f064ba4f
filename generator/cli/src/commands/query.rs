//! `cachegen query`: one of a data type's index queries, run on the deployed table.

use std::process::ExitCode;

use anyhow::Result;

use cachegen::operate::query::{self, QueryRequest};

use super::SPEC_PROBLEMS;
use super::operation::Operation;
use super::runtime;
use crate::{QueryArgs, QueryFormat};

/// Prints the values the query of `args` finds, as JSON lines or a table.
pub(crate) fn run(args: &QueryArgs) -> Result<ExitCode> {
    runtime()?.block_on(async {
        let Some(operation) = Operation::open(&args.deployed).await? else {
            return Ok(ExitCode::from(SPEC_PROBLEMS));
        };
        let request = QueryRequest {
            index: args.index.clone(),
            partition: args.key.clone(),
            from: args.from.clone(),
            to: args.to.clone(),
            limit: args.limit,
            descending: args.descending,
        };
        let values = query::run(
            &operation.cache()?,
            &operation.project.model,
            operation.data_type(),
            &request,
        )
        .await?;
        match args.format {
            QueryFormat::Json => {
                for value in &values {
                    println!("{value}");
                }
            }
            QueryFormat::Table => println!("{}", query::table(&values)),
        }
        Ok(ExitCode::SUCCESS)
    })
}
