//! Every example's Terraform module, checked by real Terraform and the real AWS provider:
//! `fmt`, `validate` and `plan` offline, then `apply` against moto, the table verified
//! against the IR, and `destroy`. Skipped, loudly, when `terraform` is not installed.

use std::path::Path;

use cachegen_compiler::Project;
use cachegen_compiler::emit::terraform as tf;
use cachegen_compiler::ir::{AlarmMetric, Ref};
use cachegen_runtime::aws_sdk_s3;
use cachegen_testkit::{TestServer, shared_moto_endpoint, shared_redis_url};
use cachegen_tests::deployed::{self, Resolver};
use cachegen_tests::terraform_root::{STACK, creates_redis, init, root_module};
use cachegen_tests::{examples, run, sync_function_inputs, sync_functions, terraform, write_files};

/// Runs `terraform <args>` in `dir`, failing on an error, and returns what it printed.
fn step(dir: &Path, args: &[&str]) -> String {
    let mut command = terraform(dir).expect("terraform is installed");
    command.args(args);
    run(command)
}

#[test]
fn every_example_module_is_formatted_as_terraform_fmt_leaves_it() {
    for (name, project) in examples() {
        let dir = tempfile::tempdir().unwrap();
        write_files(
            dir.path(),
            &project.files(Some(&[cachegen_compiler::ir::Target::Terraform])),
        );
        let Some(mut fmt) = terraform(&dir.path().join(tf::DIR)) else {
            return;
        };
        fmt.args(["fmt", "-check", "-diff", "-no-color"]);
        let output = fmt.output().unwrap();
        assert!(
            output.status.success(),
            "{name}: terraform fmt would change the module:\n{}",
            String::from_utf8_lossy(&output.stdout)
        );
    }
}

#[test]
fn every_example_module_validates_and_plans_offline() {
    // Planning reads data sources only; a bucket named after the account, or notifying a
    // Lambda (its permission names the source account), reads the caller identity: from
    // moto on loopback.
    let moto = shared_moto_endpoint().expect("moto_server starts");
    for (name, project) in examples() {
        let dir = tempfile::tempdir().unwrap();
        let functions = sync_function_inputs(&project.model, STACK);
        root_module(
            dir.path(),
            &project,
            moto.url(),
            STACK,
            &functions.parameters,
        );
        if !init(dir.path()) {
            return;
        }
        let mut validate = terraform(dir.path()).unwrap();
        validate.args(["validate", "-no-color"]);
        run(validate);
        let mut plan = terraform(dir.path()).unwrap();
        plan.args(["plan", "-refresh=false", "-input=false", "-no-color"]);
        let text = run(plan);
        assert!(text.contains("Plan:"), "{name}: {text}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn every_example_module_applies_to_moto_verifies_and_destroys() {
    // A private moto: the SAM deploy test creates tables of the same names.
    let moto = TestServer::moto().expect("moto_server starts");
    let endpoint = moto.endpoint();
    let sdk = cachegen_tests::moto_sdk(&endpoint).await;
    let client = aws_sdk_dynamodb::Client::new(&sdk);
    let s3 = cachegen_runtime::config::s3_client(&sdk);
    for (name, project) in examples() {
        if creates_redis(&project) {
            // moto has no ElastiCache Serverless: validate and plan cover this module.
            eprintln!("{name}: not applied, moto cannot create an ElastiCache Serverless cache");
            continue;
        }
        let dir = tempfile::tempdir().unwrap();
        let functions = sync_functions(&sdk, &project.model, STACK).await;
        root_module(
            dir.path(),
            &project,
            &endpoint,
            STACK,
            &functions.parameters,
        );
        if !init(dir.path()) {
            return;
        }
        let mut apply = terraform(dir.path()).unwrap();
        apply.args(["apply", "-auto-approve", "-input=false", "-no-color"]);
        let text = tokio::task::spawn_blocking(move || run(apply))
            .await
            .unwrap();
        assert!(text.contains("Apply complete!"), "{name}: {text}");

        let resolver = Resolver::defaults(&project.model, STACK);
        for table in &project.model.tables {
            deployed::verify_deployed_table(&client, &project.model, table, &resolver).await;
        }
        // Terraform sets each part of a bucket through its own S3 call, so unlike moto's
        // CloudFormation, everything is there to read back.
        for bucket in project.model.buckets.iter().filter(|bucket| bucket.created) {
            let function = functions.arns.get(&bucket.name).map_or("", String::as_str);
            assert_eq!(
                deployed::describe_bucket(&s3, &resolver.resolve(&bucket.bucket_name)).await,
                deployed::expected_bucket(&project.model, bucket, function),
                "{name}: bucket {}",
                bucket.name
            );
        }
        let alarms = verify_sync_error_alarms(dir.path(), &project, &functions.arns);
        if name == "change-metadata" {
            assert_eq!(
                alarms, 1,
                "the example alarms on its sync function's errors"
            );
        }
        verify_buckets_then_change_them_out_of_band(&s3, &project, &resolver, &functions.arns)
            .await;
        if name == "change-metadata" {
            verify_the_generated_module(&sdk, &project, &resolver).await;
        }

        let destroy = || {
            let mut destroy = terraform(dir.path()).unwrap();
            destroy.args(["destroy", "-auto-approve", "-input=false", "-no-color"]);
            destroy
        };
        let protected: Vec<_> = project
            .model
            .tables
            .iter()
            .filter(|table| table.deletion_protection)
            .collect();
        if !protected.is_empty() {
            // Deletion protection holds against `terraform destroy` until someone lifts it.
            let output = destroy().output().unwrap();
            let text = String::from_utf8_lossy(&output.stderr);
            assert!(
                !output.status.success() && text.contains("DeletionProtectionEnabled"),
                "{name}: destroy of a protected table: {text}"
            );
            for table in protected {
                client
                    .update_table()
                    .table_name(resolver.resolve(&table.table_name))
                    .deletion_protection_enabled(false)
                    .send()
                    .await
                    .unwrap();
            }
        }
        let destroy = destroy();
        tokio::task::spawn_blocking(move || run(destroy))
            .await
            .unwrap();
        let left = client.list_tables().send().await.unwrap();
        assert!(
            left.table_names().is_empty(),
            "{name}: destroy left {:?}",
            left.table_names()
        );
    }
}

/// Each `sync_errors` alarm moto created reads `Errors` and `Invocations` of the sync
/// function (the examples have one; `arns` by bucket name). Returns how many it read.
fn verify_sync_error_alarms(
    dir: &Path,
    project: &Project,
    arns: &std::collections::BTreeMap<String, String>,
) -> usize {
    let alarms: Vec<_> = project
        .model
        .alarms
        .iter()
        .filter(|alarm| alarm.metric == AlarmMetric::SyncErrors)
        .collect();
    for alarm in &alarms {
        let arn = arns
            .values()
            .next()
            .expect("a sync_errors alarm has a sync function");
        let function = arn.rsplit(':').next().unwrap();
        let mut show = terraform(dir).unwrap();
        show.args(["state", "show", "-no-color"]).arg(format!(
            "module.cache.aws_cloudwatch_metric_alarm.{}",
            cachegen_compiler::model::terraform_name(&alarm.name)
        ));
        let state = run(show);
        for line in [
            format!("\"FunctionName\" = \"{function}\""),
            "metric_name = \"Errors\"".to_owned(),
            "metric_name = \"Invocations\"".to_owned(),
            "expression  = \"errors/invocations\"".to_owned(),
        ] {
            assert!(state.contains(&line), "{line} not in {state}");
        }
        assert_eq!(state.matches("FunctionName").count(), 2, "{state}");
    }
    alarms.len()
}

/// `cachegen verify`'s bucket check finds each applied bucket as the spec says, its
/// notifications naming the sync function of `arns` (by bucket name), then names in plain
/// words what an out-of-band change undid: versioning suspended, the public access block
/// removed, the fingerprint tag overwritten, the notifications replaced by one under
/// another prefix and one sending the right objects to another function.
async fn verify_buckets_then_change_them_out_of_band(
    s3: &aws_sdk_s3::Client,
    project: &Project,
    resolver: &Resolver,
    arns: &std::collections::BTreeMap<String, String>,
) {
    use aws_sdk_s3::types::{
        BucketVersioningStatus, FilterRule, FilterRuleName, LambdaFunctionConfiguration,
        NotificationConfiguration, NotificationConfigurationFilter, S3KeyFilter, Tag, Tagging,
        VersioningConfiguration,
    };
    use cachegen_runtime::verify::verify_bucket;
    let model = &project.model;
    for (reference, bucket) in Ref::each(&model.buckets).filter(|(_, bucket)| bucket.created) {
        let name = resolver.resolve(&bucket.bucket_name);
        let function_arn = arns.get(&bucket.name).map(String::as_str);
        let expected = cachegen::verify::expected_bucket(model, &reference, function_arn);
        let verify = async || verify_bucket(s3, &name, &expected).await.unwrap();
        assert_eq!(
            verify().await,
            Vec::<String>::new(),
            "bucket {}",
            bucket.name
        );

        let mut broken = Vec::new();
        if bucket.versioning {
            s3.put_bucket_versioning()
                .bucket(&name)
                .versioning_configuration(
                    VersioningConfiguration::builder()
                        .status(BucketVersioningStatus::Suspended)
                        .build(),
                )
                .send()
                .await
                .unwrap();
            broken.push("versioning is Suspended, expected Enabled: overwritten and deleted documents cannot be recovered".to_owned());
        }
        s3.delete_public_access_block()
            .bucket(&name)
            .send()
            .await
            .unwrap();
        broken.push("has no public access block, expected all four settings on".to_owned());
        if !expected.notifications.is_empty() {
            // Every notification replaced by one under another prefix. (Moto answers an
            // emptied configuration with a root element the SDK refuses to parse.)
            let deployed = s3
                .get_bucket_notification_configuration()
                .bucket(&name)
                .send()
                .await
                .unwrap();
            let function = deployed.lambda_function_configurations()[0].clone();
            let elsewhere = LambdaFunctionConfiguration::builder()
                .lambda_function_arn(function.lambda_function_arn())
                .set_events(Some(function.events().to_vec()))
                .filter(
                    NotificationConfigurationFilter::builder()
                        .key(
                            S3KeyFilter::builder()
                                .filter_rules(
                                    FilterRule::builder()
                                        .name(FilterRuleName::Prefix)
                                        .value("elsewhere/")
                                        .build(),
                                )
                                .build(),
                        )
                        .build(),
                )
                .build()
                .unwrap();
            // ... and one sending the first document type's objects to another function.
            let first = &expected.notifications[0];
            let rule = |name: FilterRuleName, value: &str| {
                FilterRule::builder().name(name).value(value).build()
            };
            let impostor = cachegen_testkit::stub_function_arn("impostor");
            let elsewhere_function = LambdaFunctionConfiguration::builder()
                .lambda_function_arn(&impostor)
                .set_events(Some(function.events().to_vec()))
                .filter(
                    NotificationConfigurationFilter::builder()
                        .key(
                            S3KeyFilter::builder()
                                .filter_rules(rule(FilterRuleName::Prefix, &first.prefix))
                                .filter_rules(rule(FilterRuleName::Suffix, &first.suffix))
                                .build(),
                        )
                        .build(),
                )
                .build()
                .unwrap();
            s3.put_bucket_notification_configuration()
                .bucket(&name)
                .notification_configuration(
                    NotificationConfiguration::builder()
                        .lambda_function_configurations(elsewhere)
                        .lambda_function_configurations(elsewhere_function)
                        .build(),
                )
                .send()
                .await
                .unwrap();
            let keys = format!(
                "keys with prefix `{}`{}",
                first.prefix,
                if first.suffix.is_empty() {
                    String::new()
                } else {
                    format!(" and suffix `{}`", first.suffix)
                },
            );
            let to = first
                .function_arn
                .as_deref()
                .map_or_else(|| "the sync function".to_owned(), |arn| format!("`{arn}`"));
            broken.push(format!(
                "no notification sends s3:ObjectCreated:*, s3:ObjectRemoved:* on {keys} to {to}"
            ));
            broken.push(format!(
                "a notification the spec does not declare sends s3:ObjectCreated:*, s3:ObjectRemoved:* on keys with prefix `elsewhere/` to `{}`",
                function.lambda_function_arn()
            ));
            broken.push(format!(
                "a notification the spec does not declare sends s3:ObjectCreated:*, s3:ObjectRemoved:* on {keys} to `{impostor}`"
            ));
        }
        s3.put_bucket_tagging()
            .bucket(&name)
            .tagging(
                Tagging::builder()
                    .tag_set(
                        Tag::builder()
                            .key(cachegen_runtime::verify::FINGERPRINT_TAG)
                            .value("0000000000000000")
                            .build()
                            .unwrap(),
                    )
                    .build()
                    .unwrap(),
            )
            .send()
            .await
            .unwrap();
        broken.push(format!(
            "tag `cachegen:fingerprint` is `0000000000000000`, expected `{}`: the bucket was deployed from another version of the spec",
            model.fingerprint
        ));
        let found = verify().await;
        for difference in &broken {
            assert!(
                found.contains(difference),
                "{difference}\nnot in {found:#?}"
            );
        }
        assert_eq!(
            found.len(),
            broken.len() + expected.notifications.len().saturating_sub(1),
            "one line per missing notification, and nothing else: {found:#?}"
        );
    }
}

/// The generated module's `verify_deployment` reads the same: the change-metadata crate,
/// built from the env vars the module's outputs give a Lambda, after the out-of-band
/// changes above.
async fn verify_the_generated_module(
    sdk: &aws_config::SdkConfig,
    project: &Project,
    resolver: &Resolver,
) {
    let model = &project.model;
    let table = resolver.resolve(&model.tables[0].table_name);
    let bucket = resolver.resolve(&model.buckets[0].bucket_name);
    let cache = change_notifier_cache::Cache::from_lookup(Some(sdk), |var| match var {
        _ if var == change_notifier_cache::metadata::ENV_VAR => Some(table.clone()),
        _ if var == change_notifier_cache::buckets::documents::ENV_VAR => Some(bucket.clone()),
        _ => None,
    })
    .await
    .unwrap();
    let report = cache.verify_deployment().await.unwrap();
    let text = report.to_string();
    assert!(
        text.contains("bucket documents: versioning is Suspended, expected Enabled"),
        "{text}"
    );
    assert!(
        text.contains("bucket documents: has no public access block"),
        "{text}"
    );
    assert!(
        !text.contains("table metadata"),
        "the table matches: {text}"
    );
}

/// A spec whose outputs are split to keep within AWS's limits: three tables (a dashboard
/// each), whose twelve long index names make each table's grant a cache policy of its own,
/// for a consumer with a created role and one with an existing role.
const SPLIT_SPEC_TABLES: usize = 3;

fn split_spec() -> String {
    let mut text = String::from("version: 1\nservice: split\ntables:\n");
    for table in 0..SPLIT_SPEC_TABLES {
        text.push_str(&format!(
            "  t{table}:\n    name: split-t{table}\n    indexes:\n"
        ));
        for index in 0..12 {
            text.push_str(&format!(
                "      i{index:02}{}:\n        partition_key: {{ name: dataType }}\n",
                "x".repeat(200)
            ));
        }
    }
    text.push_str("data_types:\n");
    for table in 0..SPLIT_SPEC_TABLES {
        text.push_str(&format!(
            "  d{table}:\n    table: t{table}\n    key: \"d{table}#{{id}}\"\n    params: {{ id: string }}\n    value: {{ fields: {{ v: string }} }}\n    attributes: {{ dataType: \"{{data_type}}\" }}\n"
        ));
    }
    text.push_str(
        "consumers:\n  api:\n    access: { \"*\": [read, query] }\n  ext:\n    role: { existing: split-app }\n    access: { \"*\": [read, query] }\n",
    );
    text
}

#[test]
fn split_dashboards_and_policies_apply_to_moto() {
    let moto = TestServer::moto().expect("moto_server starts");
    let endpoint = moto.endpoint();
    let spec_dir = tempfile::tempdir().unwrap();
    let spec = spec_dir.path().join("cache.yaml");
    std::fs::write(&spec, split_spec()).unwrap();
    let project = Project::load(&spec).unwrap();
    let module = &project.files(Some(&[cachegen_compiler::ir::Target::Terraform]))[0].contents;
    for consumer in ["api", "ext"] {
        for part in ["", "-2", "-3"] {
            assert!(
                module.contains(&format!("resource \"aws_iam_policy\" \"{consumer}{part}\"")),
                "{consumer}{part}: {module}"
            );
        }
    }

    let dir = tempfile::tempdir().unwrap();
    root_module(dir.path(), &project, &endpoint, STACK, &[]);
    if !init(dir.path()) {
        return;
    }
    let mut apply = terraform(dir.path()).unwrap();
    apply.args(["apply", "-auto-approve", "-input=false", "-no-color"]);
    let text = run(apply);
    assert!(text.contains("Apply complete!"), "{text}");

    // Every part of each policy, its attachment, and each table's dashboard were created.
    let mut list = terraform(dir.path()).unwrap();
    list.args(["state", "list"]);
    let state = run(list);
    for consumer in ["api", "ext"] {
        for part in ["", "-2", "-3"] {
            for kind in ["aws_iam_policy", "aws_iam_role_policy_attachment"] {
                let address = format!("module.cache.{kind}.{consumer}{part}\n");
                assert!(state.contains(&address), "{address}: {state}");
            }
        }
    }
    for table in 0..SPLIT_SPEC_TABLES {
        let address = format!("module.cache.aws_cloudwatch_dashboard.cache-t{table}\n");
        assert!(state.contains(&address), "{address}: {state}");
    }

    let mut destroy = terraform(dir.path()).unwrap();
    destroy.args(["destroy", "-auto-approve", "-input=false", "-no-color"]);
    run(destroy);
}

/// Does the AWS provider step several index changes by itself, as `cachegen deploy` does
/// for CloudFormation? Against moto, behind a proxy counting DynamoDB calls: the starter
/// spec applied, then its index renamed and another added (a delete and two creates in
/// one apply), and the UpdateTable calls of the second apply counted.
#[test]
fn the_provider_applies_index_changes_one_update_table_call_each() {
    let moto = TestServer::moto().expect("moto_server starts");
    let proxy = cachegen_testkit::CountingProxy::start(&moto.endpoint()).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let spec = dir.path().join("cachegen.yaml");
    let write = |text: &str| {
        std::fs::write(&spec, text).unwrap();
        root_module(
            dir.path(),
            &Project::load(&spec).unwrap(),
            &proxy.endpoint(),
            STACK,
            &[],
        );
    };
    let apply = || {
        let mut apply = terraform(dir.path()).unwrap();
        apply.args(["apply", "-auto-approve", "-input=false", "-no-color"]);
        run(apply)
    };
    write(cachegen_compiler::STARTER_SPEC);
    if !init(dir.path()) {
        return;
    }
    assert!(apply().contains("Apply complete!"));
    proxy.reset();
    write(
        &cachegen_compiler::STARTER_SPEC
            .replace(
                "      by-type:",
                "      all-of-type:\n        partition_key: { name: dataType, type: S }\n        projection: all\n      by-kind:",
            )
            .replace("invalidate_by: by-type", "invalidate_by: by-kind"),
    );
    let text = apply();
    assert!(text.contains("Apply complete!"), "{text}");
    assert_eq!(
        proxy.count("UpdateTable"),
        3,
        "one UpdateTable per index operation: {text}"
    );
}

/// The fixture whose bucket's events reach a sync function the module creates: `fmt`,
/// `validate` and `plan`, then `apply` against moto with the code zip uploaded first, the
/// function's ARN read back from the module's output, and `destroy`.
#[tokio::test(flavor = "multi_thread")]
async fn a_created_sync_function_plans_applies_to_moto_and_destroys() {
    let project = cachegen_tests::fixture("sync_function");
    let moto = TestServer::moto().expect("moto_server starts");
    let endpoint = moto.endpoint();
    let sdk = cachegen_tests::moto_sdk(&endpoint).await;
    let functions = sync_functions(&sdk, &project.model, STACK).await;
    let dir = tempfile::tempdir().unwrap();
    root_module(
        dir.path(),
        &project,
        &endpoint,
        STACK,
        &functions.parameters,
    );
    std::fs::write(
        dir.path().join("outputs.tf"),
        "output \"function_arn\" {\n  value = module.cache.documents_sync_function_arn\n}\n",
    )
    .unwrap();
    let Some(mut fmt) = terraform(&dir.path().join("module")) else {
        return;
    };
    fmt.args(["fmt", "-check", "-diff", "-no-color"]);
    run(fmt);
    if !init(dir.path()) {
        return;
    }
    let step = |args: &[&str]| step(dir.path(), args);
    step(&["validate", "-no-color"]);
    let plan = step(&["plan", "-refresh=false", "-input=false", "-no-color"]);
    assert!(
        plan.contains("aws_lambda_function.documents_sync will be created"),
        "{plan}"
    );
    let apply = step(&["apply", "-auto-approve", "-input=false", "-no-color"]);
    assert!(apply.contains("Apply complete!"), "{apply}");
    let arn = step(&["output", "-raw", "function_arn"]);
    assert_eq!(arn, functions.arns["documents"]);
    let destroy = step(&["destroy", "-auto-approve", "-input=false", "-no-color"]);
    assert!(destroy.contains("Destroy complete!"), "{destroy}");
}

/// An existing Redis's URL from a sensitive variable, and from the JSON of a secret in
/// moto's Secrets Manager: applied, the module's `environment` output (sensitive) gives the
/// functions the URL, and a Redis-only crate built from those variables caches through
/// that Redis: a second container finds what the first stored.
#[tokio::test(flavor = "multi_thread")]
async fn a_redis_url_from_a_variable_or_a_secret_reaches_the_functions() {
    let redis = shared_redis_url().expect("redis-server starts");
    let url = redis.url().to_owned();
    for fixture in ["redis_url_parameter", "redis_url_secret"] {
        let project = cachegen_tests::fixture(fixture);
        let moto = TestServer::moto().expect("moto_server starts");
        let dir = tempfile::tempdir().unwrap();
        let by_parameter = fixture == "redis_url_parameter";
        let inputs = match by_parameter {
            true => vec![("RedisUrl".to_owned(), url.clone())],
            false => Vec::new(),
        };
        root_module(dir.path(), &project, &moto.endpoint(), STACK, &inputs);
        // The secret exists before the module reads it, as it would in an account.
        let root = format!(
            "output \"environment\" {{\n  value     = module.cache.environment\n  sensitive = true\n}}\n\n\
             resource \"aws_secretsmanager_secret\" \"redis\" {{\n  name = \"bot-redis-dev\"\n  recovery_window_in_days = 0\n}}\n\n\
             resource \"aws_secretsmanager_secret_version\" \"redis\" {{\n  secret_id     = aws_secretsmanager_secret.redis.id\n  secret_string = jsonencode({{ url = \"{url}\" }})\n}}\n"
        );
        std::fs::write(dir.path().join("outputs.tf"), root).unwrap();
        if !init(dir.path()) {
            return;
        }
        let step = |args: &[&str]| step(dir.path(), args);
        step(&["validate", "-no-color"]);
        step(&[
            "apply",
            "-auto-approve",
            "-input=false",
            "-no-color",
            "-target=aws_secretsmanager_secret_version.redis",
        ]);
        let plan = step(&["plan", "-input=false", "-no-color"]);
        assert!(
            !plan.contains(&url),
            "{fixture}: the plan shows the URL: {plan}"
        );
        let apply = step(&["apply", "-auto-approve", "-input=false", "-no-color"]);
        assert!(apply.contains("Apply complete!"), "{apply}");
        let output = step(&["output", "-json", "environment"]);
        let environment: std::collections::BTreeMap<String, String> =
            serde_json::from_str(&output).unwrap();
        assert_eq!(
            environment.get("REDIS_URL"),
            Some(&url),
            "{fixture}: {environment:?}"
        );
        assert_eq!(environment.len(), 1, "{fixture}: {environment:?}");

        let prefix = cachegen_testkit::unique_name(fixture);
        let lookup = |name: &str| match name {
            "CACHE_KEY_PREFIX" => Some(format!("{prefix}:")),
            _ => environment.get(name).cloned(),
        };
        let guild = discord_bot_cache::GuildChannelsKey {
            guild_id: "g1".to_owned(),
        };
        let calls = std::sync::atomic::AtomicU32::new(0);
        for _container in 0..2 {
            let cache = discord_bot_cache::Cache::from_lookup(lookup).await.unwrap();
            cache
                .guild_channels()
                .wrap(&guild, || async {
                    calls.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                    Ok::<_, cachegen_runtime::BoxError>(discord_bot_cache::GuildChannels {
                        channels: Vec::new(),
                    })
                })
                .await
                .unwrap();
        }
        assert_eq!(
            calls.load(std::sync::atomic::Ordering::SeqCst),
            1,
            "{fixture}: the second container read the value from the Redis"
        );
        let destroy = step(&["destroy", "-auto-approve", "-input=false", "-no-color"]);
        assert!(destroy.contains("Destroy complete!"), "{destroy}");
    }
}
