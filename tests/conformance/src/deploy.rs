//! A case's resources made real: its CloudFormation template deployed on moto (tables,
//! buckets, roles, alarms), or a key prefix of its own in the test Redis; and the
//! environment a Lambda of the stack would get.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};

use cachegen_compiler::Project;
use cachegen_compiler::ir::Target;
use cachegen_runtime::config::STORE_TIMEOUT_ENV;

use crate::Env;

/// Store timeout: the cases run at once against one moto, on machines where other builds
/// run too, and a call that times out would fail the step (drivers use strict handles).
/// This bounds a hung call; it is not a latency claim.
const STORE_TIMEOUT_MS: &str = "30000";

/// A name no other case of this machine's runs uses: lowercase letters and digits.
fn unique_suffix() -> String {
    static CASES: AtomicU64 = AtomicU64::new(0);
    let nanos = std::time::UNIX_EPOCH
        .elapsed()
        .map_or(0, |elapsed| elapsed.subsec_nanos());
    format!(
        "r{}{}x{}",
        std::process::id() % 10_000,
        nanos % 10_000,
        CASES.fetch_add(1, Ordering::Relaxed)
    )
}

/// The variables every case sets: the store timeout and each data type's TTL override.
fn base_vars(project: &Project) -> BTreeMap<String, String> {
    let mut vars = BTreeMap::from([(STORE_TIMEOUT_ENV.to_owned(), STORE_TIMEOUT_MS.to_owned())]);
    for data_type in &project.model.data_types {
        if let Some(var) = &data_type.ttl_env {
            let secs = cachegen_conformance_draw::driver::ttl_override(data_type);
            vars.insert(var.clone(), format!("{secs}s"));
        }
    }
    vars
}

/// The environment of a Redis-store case: `redis_url`, under a key prefix of its own.
pub fn redis(project: &Project, redis_url: &str) -> Env {
    let mut vars = base_vars(project);
    vars.insert("REDIS_URL".into(), redis_url.to_owned());
    vars.insert("CACHE_KEY_PREFIX".into(), format!("{}:", unique_suffix()));
    Env::new(None, vars)
}

/// Deploys `project`'s CloudFormation template on moto through `cachegen deploy`'s change
/// set, turns on each table's TTL (moto's CloudFormation ignores it, as a fresh real
/// stack reports it only once enabled), and returns the stack's environment.
pub async fn cloudformation(project: &Project, sdk: &aws_config::SdkConfig) -> Result<Env, String> {
    let cloudformation = aws_sdk_cloudformation::Client::new(sdk);
    let dynamodb = aws_sdk_dynamodb::Client::new(sdk);
    let suffix = unique_suffix();
    let stack = format!("conf-{suffix}");
    let model = &project.model;
    let template = project
        .files(Some(&[Target::Cloudformation]))
        .remove(0)
        .contents;
    let parameters = [("env", suffix.as_str())];
    cachegen_tests::deploy_template(
        &cloudformation,
        &template,
        &model.fingerprint,
        &stack,
        &parameters,
        true,
    )
    .await
    .map_err(|err| {
        format!(
            "deploying the stack: {}",
            crate::findings::error_chain(&err)
        )
    })?;
    let resolver = cachegen_tests::deployed::Resolver {
        stack_name: stack.clone(),
        parameters: BTreeMap::from([("env".to_owned(), suffix.clone())]),
    };
    let mut vars = base_vars(project);
    for table in &model.tables {
        let name = cachegen::deploy::stack::table_name(&cloudformation, &stack, table)
            .await
            .map_err(|err| format!("finding table `{}`: {err}", table.name))?;
        dynamodb
            .update_time_to_live()
            .table_name(&name)
            .time_to_live_specification(
                aws_sdk_dynamodb::types::TimeToLiveSpecification::builder()
                    .enabled(true)
                    .attribute_name(&table.ttl_attribute)
                    .build()
                    .expect("name and flag are set"),
            )
            .send()
            .await
            .map_err(|err| {
                format!(
                    "enabling TTL on `{name}`: {}",
                    crate::findings::error_chain(&err)
                )
            })?;
        vars.insert(table.env_var.clone(), name);
    }
    let resources: serde_json::Value = serde_yaml::from_str(&template)
        .map_err(|err| format!("reading the template back: {err}"))?;
    for bucket in &model.buckets {
        let name = resolver.resolve(&bucket.bucket_name);
        if bucket.created {
            let properties = &resources["Resources"][&bucket.logical_id]["Properties"];
            apply_bucket_settings(sdk, &name, properties).await?;
        }
        vars.insert(bucket.env_var.clone(), name);
    }
    Ok(Env::new(Some(sdk.clone()), vars))
}

/// Applies to bucket `name` the settings of its template `properties` that moto's
/// CloudFormation ignores (it keeps encryption and tags only): the public access block and
/// versioning, as real CloudFormation sets them.
async fn apply_bucket_settings(
    sdk: &aws_config::SdkConfig,
    name: &str,
    properties: &serde_json::Value,
) -> Result<(), String> {
    use cachegen_runtime::aws_sdk_s3::types::{
        BucketVersioningStatus, PublicAccessBlockConfiguration, VersioningConfiguration,
    };
    let s3 = cachegen_runtime::config::s3_client(sdk);
    let failed = |what: &str, err: &dyn std::error::Error| {
        format!(
            "{what} of bucket `{name}`: {}",
            crate::findings::error_chain(err)
        )
    };
    let block = &properties["PublicAccessBlockConfiguration"];
    if block.is_object() {
        let setting = |field: &str| block[field].as_bool();
        s3.put_public_access_block()
            .bucket(name)
            .public_access_block_configuration(
                PublicAccessBlockConfiguration::builder()
                    .set_block_public_acls(setting("BlockPublicAcls"))
                    .set_block_public_policy(setting("BlockPublicPolicy"))
                    .set_ignore_public_acls(setting("IgnorePublicAcls"))
                    .set_restrict_public_buckets(setting("RestrictPublicBuckets"))
                    .build(),
            )
            .send()
            .await
            .map_err(|err| failed("the public access block", &err))?;
    }
    if let Some(status) = properties["VersioningConfiguration"]["Status"].as_str() {
        s3.put_bucket_versioning()
            .bucket(name)
            .versioning_configuration(
                VersioningConfiguration::builder()
                    .status(BucketVersioningStatus::from(status))
                    .build(),
            )
            .send()
            .await
            .map_err(|err| failed("versioning", &err))?;
    }
    Ok(())
}

/// Applies `project`'s Terraform module on moto at `endpoint` (as stack `conf-<suffix>`,
/// its `env` parameter the same suffix) and returns its environment; `None` when terraform
/// is not installed (the Terraform tests are skipped then, loudly).
pub async fn terraform(
    project: &Project,
    sdk: &aws_config::SdkConfig,
    endpoint: &str,
) -> Result<Option<Env>, String> {
    use cachegen_tests::terraform_root::{init, root_module};
    let suffix = unique_suffix();
    let stack = format!("conf-{suffix}");
    let dir = tempfile::tempdir().map_err(|err| format!("temporary directory: {err}"))?;
    let inputs = [("env".to_owned(), suffix.clone())];
    root_module(dir.path(), project, endpoint, &stack, &inputs);
    if !init(dir.path()) {
        return Ok(None);
    }
    let mut apply = cachegen_tests::terraform(dir.path()).expect("terraform ran init");
    apply.args(["apply", "-auto-approve", "-input=false", "-no-color"]);
    let applied = tokio::task::spawn_blocking(move || apply.output())
        .await
        .expect("the apply task ends")
        .map_err(|err| format!("terraform apply: {err}"))?;
    if !applied.status.success() {
        return Err(format!(
            "terraform apply failed:\n{}{}",
            String::from_utf8_lossy(&applied.stdout),
            String::from_utf8_lossy(&applied.stderr)
        ));
    }
    let resolver = cachegen_tests::deployed::Resolver {
        stack_name: stack,
        parameters: BTreeMap::from([("env".to_owned(), suffix)]),
    };
    let mut vars = base_vars(project);
    for table in &project.model.tables {
        vars.insert(table.env_var.clone(), resolver.resolve(&table.table_name));
    }
    for bucket in &project.model.buckets {
        let name = resolver.resolve(&bucket.bucket_name);
        if bucket.created {
            lift_tls_only_policy(sdk, &name).await?;
        }
        vars.insert(bucket.env_var.clone(), name);
    }
    Ok(Some(Env::new(Some(sdk.clone()), vars)))
}

/// Checks that the Terraform module gave bucket `name` its policy refusing requests without
/// TLS, then deletes it: moto enforces it, and serves plain HTTP only, so it would refuse
/// every request of the drivers (moto's CloudFormation ignores bucket policies).
async fn lift_tls_only_policy(sdk: &aws_config::SdkConfig, name: &str) -> Result<(), String> {
    let s3 = cachegen_runtime::config::s3_client(sdk);
    let failed = |what: &str, err: &dyn std::error::Error| {
        format!(
            "{what} of bucket `{name}`: {}",
            crate::findings::error_chain(err)
        )
    };
    let policy = s3
        .get_bucket_policy()
        .bucket(name)
        .send()
        .await
        .map_err(|err| failed("reading the policy", &err))?
        .policy
        .unwrap_or_default();
    if !policy.contains("aws:SecureTransport") {
        return Err(format!(
            "bucket `{name}` has no policy refusing requests without TLS: {policy}"
        ));
    }
    s3.delete_bucket_policy()
        .bucket(name)
        .send()
        .await
        .map_err(|err| failed("deleting the policy", &err))?;
    Ok(())
}
