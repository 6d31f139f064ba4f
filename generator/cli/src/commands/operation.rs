//! What `backfill` and `query` work on: the spec, one of its data types, and where the
//! deployment put its table and bucket (a stack, else the consumers' env vars).

use anyhow::{Context, Result};

use cachegen::operate::Deployment;
use cachegen_compiler::Project;
use cachegen_compiler::ir::{DataType, DataTypeRef, Ref};
use cachegen_runtime::TieredCache;

use super::load;
use crate::DeployedArgs;

/// The spec, the data type and the deployment `args` name, with an AWS configuration.
pub(crate) struct Operation {
    pub(crate) project: Project,
    data_type: DataTypeRef,
    pub(crate) config: aws_config::SdkConfig,
    pub(crate) deployment: Deployment,
}

impl Operation {
    /// Loads the spec `args` names and locates its deployment; `None` when the spec has
    /// problems (they are printed).
    pub(crate) async fn open(args: &DeployedArgs) -> Result<Option<Self>> {
        let Some(project) = load(args.spec.path())? else {
            return Ok(None);
        };
        let Some(data_type) = Ref::find(&project.model.data_types, &args.data_type) else {
            let known = project.model.data_types.iter().map(|dt| dt.name.as_str());
            let hint = match cachegen_compiler::validate::closest(&args.data_type, known.clone()) {
                Some(candidate) => format!("did you mean `{candidate}`?"),
                None => format!("it declares: {}", known.collect::<Vec<_>>().join(", ")),
            };
            anyhow::bail!(
                "{} declares no data type `{}`; {hint}",
                args.spec.path().display(),
                args.data_type,
            );
        };
        let config = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
        let deployment = match &args.stack {
            Some(stack) => Deployment::from_stack(
                &aws_sdk_cloudformation::Client::new(&config),
                stack,
                &project.model,
            )
            .await
            .with_context(|| format!("reading stack {stack}"))?,
            None => Deployment::from_lookup(&project.model, |var| std::env::var(var).ok()),
        };
        Ok(Some(Self {
            data_type,
            project,
            config,
            deployment,
        }))
    }

    /// The data type operated on.
    pub(crate) fn data_type(&self) -> &DataType {
        self.project.model.data_type(&self.data_type)
    }

    /// A strict cache on the deployed table of the data type.
    pub(crate) fn cache(&self) -> Result<TieredCache> {
        Ok(cachegen::operate::connect(
            &self.config,
            &self.project.model,
            &self.deployment,
            self.data_type(),
        )?)
    }
}
