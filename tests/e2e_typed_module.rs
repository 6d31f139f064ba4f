//! End to end against moto: `cachegen deploy` creates the example's stack through a change
//! set; the example Lambda caches its origin through the generated module; invalidation
//! reaches DynamoDB; `verify_deployment` finds exactly what differs from the spec; typed
//! GSI queries page through real indexes.
//!
//! Moto's CloudFormation ignores `TimeToLiveSpecification`, so a freshly deployed table
//! reports "TTL disabled" until TTL is enabled out of band, as real CloudFormation does.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use aws_sdk_dynamodb::types::{
    AttributeDefinition, CreateGlobalSecondaryIndexAction, DeleteGlobalSecondaryIndexAction,
    GlobalSecondaryIndexUpdate, KeySchemaElement, KeyType, Projection, ProjectionType,
    ScalarAttributeType, Tag, TimeToLiveSpecification,
};
use cachegen::deploy::{DeployError, DeployOutcome};
use cachegen_runtime::BoxError;
use cachegen_testkit::TestServer;
use cachegen_tests::{
    create_roles, deploy, deploy_template, moto_sdk, sync_functions, table_name, workspace_root,
};

/// The DRS API of the tests: counts its quota calls and the recovery jobs it starts.
#[derive(Clone, Default)]
struct CountingOrigin(Arc<AtomicUsize>, Arc<AtomicUsize>);

impl CountingOrigin {
    fn calls(&self) -> usize {
        self.0.load(Ordering::SeqCst)
    }

    fn recoveries(&self) -> usize {
        self.1.load(Ordering::SeqCst)
    }
}

impl drs_query_lambda::DrsApi for CountingOrigin {
    async fn fetch(
        &self,
        region: &str,
        account_id: &str,
    ) -> Result<drs_orchestration_cache::DrsQuotas, BoxError> {
        let call = self.0.fetch_add(1, Ordering::SeqCst) + 1;
        Ok(drs_orchestration_cache::DrsQuotas {
            account_id: account_id.to_owned(),
            region: region.to_owned(),
            replicating_servers: u32::try_from(call).unwrap(),
            max_replicating_servers: 300,
            utilization_percent: call as f64 / 3.0,
        })
    }

    async fn start_recovery(
        &self,
        request: &drs_orchestration_cache::StartRecoveryRequest,
    ) -> Result<drs_orchestration_cache::StartRecoveryResponse, BoxError> {
        if request.source_server_ids.is_empty() {
            return Err("StartRecovery needs at least one source server".into());
        }
        let job = self.1.fetch_add(1, Ordering::SeqCst);
        Ok(drs_orchestration_cache::StartRecoveryResponse {
            job_id: format!("drsjob-{job}"),
            source_server_ids: request.source_server_ids.clone(),
        })
    }
}

/// A recovery step of one execution, on `servers`.
fn recovery_request(step: &str, servers: &[&str]) -> drs_query_lambda::Request {
    drs_query_lambda::Request::StartRecovery(drs_orchestration_cache::StartRecoveryRequest {
        execution_id: "exec-1".into(),
        step: step.into(),
        region: "us-east-1".into(),
        account_id: "438465159935".into(),
        source_server_ids: servers.iter().map(|id| (*id).to_owned()).collect(),
        is_drill: true,
    })
}

/// The Lambda context's deadline of an invocation that has a minute left.
fn deadline() -> u64 {
    let now = std::time::UNIX_EPOCH.elapsed().unwrap();
    u64::try_from(now.as_millis()).unwrap() + 60_000
}

fn project(example: &str) -> cachegen_compiler::Project {
    cachegen_compiler::Project::load(
        workspace_root()
            .join("examples")
            .join(example)
            .join("cache.yaml"),
    )
    .unwrap()
}

fn quota_request() -> drs_query_lambda::Request {
    drs_query_lambda::Request::Quota {
        region: "us-east-1".into(),
        account_id: "438465159935".into(),
    }
}

/// Store timeout for caches on moto: a loaded 2-core machine can keep it past the 200 ms a
/// Lambda allows, and a write that times out degrades silently, leaving the test's data out.
const MOTO_STORE_TIMEOUT_MS: &str = "5000";

/// A cache as a fresh Lambda container builds it: from the env vars the template sets.
async fn drs_cache(sdk: &aws_config::SdkConfig, table: &str) -> drs_orchestration_cache::Cache {
    let env_var = drs_orchestration_cache::query_cache::ENV_VAR;
    drs_orchestration_cache::Cache::from_lookup(Some(sdk), |name| match name {
        _ if name == env_var => Some(table.to_owned()),
        cachegen_runtime::config::STORE_TIMEOUT_ENV => Some(MOTO_STORE_TIMEOUT_MS.into()),
        _ => None,
    })
    .await
    .unwrap()
}

async fn differences(cache: &drs_orchestration_cache::Cache) -> Vec<String> {
    let report = cache.verify_deployment().await.unwrap();
    report
        .differences()
        .into_iter()
        .map(str::to_owned)
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn drs_example_deploys_caches_invalidates_and_verifies() {
    let moto = TestServer::moto().unwrap();
    let sdk = moto_sdk(&moto.endpoint()).await;
    let cloudformation = aws_sdk_cloudformation::Client::new(&sdk);
    let dynamodb = aws_sdk_dynamodb::Client::new(&sdk);
    create_roles(
        &cloudformation,
        "roles",
        &["query-handler-role", "data-management-role"],
    )
    .await;

    // Deploy through a change set.
    let project = project("drs-query-cache");
    let parameters = [
        ("env", "dev"),
        ("UnifiedOrchestrationRoleName", "query-handler-role"),
        (
            "DataManagementRoleArn",
            "arn:aws:iam::123456789012:role/data-management-role",
        ),
    ];
    let (outcome, progress) = deploy(
        &cloudformation,
        &project,
        "drs-cache-dev",
        &parameters,
        true,
    )
    .await
    .unwrap();
    assert!(matches!(outcome, DeployOutcome::Deployed(_)), "{outcome:?}");
    assert!(
        progress
            .iter()
            .any(|line| line.contains("Add QueryCacheTable (AWS::DynamoDB::Table)")),
        "{progress:?}"
    );
    let table = table_name(&cloudformation, &project, "drs-cache-dev", "query-cache").await;
    assert_eq!(table, "drs-orchestration-query-cache-dev");
    let described = dynamodb
        .describe_table()
        .table_name(&table)
        .send()
        .await
        .unwrap();
    let indexes: Vec<&str> = described
        .table()
        .unwrap()
        .global_secondary_indexes()
        .iter()
        .filter_map(|index| index.index_name())
        .collect();
    assert_eq!(
        indexes,
        [drs_orchestration_cache::query_cache::DATA_TYPE_CREATED_AT_INDEX]
    );

    // The Lambda: miss, hit, cold container served by DynamoDB, invalidation, miss.
    let origin = CountingOrigin::default();
    let handler =
        drs_query_lambda::QueryHandler::new(drs_cache(&sdk, &table).await, origin.clone());
    let first = handler.handle(quota_request(), deadline()).await.unwrap();
    assert_eq!(origin.calls(), 1);
    let second = handler.handle(quota_request(), deadline()).await.unwrap();
    assert_eq!(
        (origin.calls(), &second),
        (1, &first),
        "served from the cache"
    );
    let cold = drs_query_lambda::QueryHandler::new(drs_cache(&sdk, &table).await, origin.clone());
    assert_eq!(
        cold.handle(quota_request(), deadline()).await.unwrap(),
        first,
        "a cold container reads DynamoDB"
    );
    assert_eq!(origin.calls(), 1);
    let stored = dynamodb
        .get_item()
        .table_name(&table)
        .key(
            "cacheKey",
            aws_sdk_dynamodb::types::AttributeValue::S("drs-quotas#us-east-1#438465159935".into()),
        )
        .send()
        .await
        .unwrap();
    let item = stored.item().expect("the item is in DynamoDB");
    for attribute in [
        "dataType",
        "region",
        "accountId",
        "createdAt",
        "expiresAt",
        "ttl",
        "value",
    ] {
        assert!(
            item.contains_key(attribute),
            "item lacks {attribute}: {item:?}"
        );
    }
    let invalidated = handler
        .handle(drs_query_lambda::Request::Invalidate, deadline())
        .await
        .unwrap();
    assert_eq!(invalidated, drs_query_lambda::Response::Invalidated);
    // One stamp write: the item stays in DynamoDB (its TTL reclaims it), and every
    // container reads it as a miss (this one at once, others within their bound).
    let third = handler.handle(quota_request(), deadline()).await.unwrap();
    assert_eq!(
        origin.calls(),
        2,
        "after invalidation the origin answers again"
    );
    assert_ne!(third, first);
    let fresh = drs_query_lambda::QueryHandler::new(drs_cache(&sdk, &table).await, origin.clone());
    assert_eq!(
        fresh.handle(quota_request(), deadline()).await.unwrap(),
        third,
        "the new value is in DynamoDB"
    );
    assert_eq!(origin.calls(), 2);

    // Recovery jobs, through the generated idempotent handler on the deployed table: a
    // retried step, from this container or another, gets the first job back.
    let job = handler
        .handle(recovery_request("failover", &["s-1", "s-2"]), deadline())
        .await
        .unwrap();
    let retried = handler
        .handle(recovery_request("failover", &["s-1", "s-2"]), deadline())
        .await
        .unwrap();
    let elsewhere = cold
        .handle(recovery_request("failover", &["s-1", "s-2"]), deadline())
        .await
        .unwrap();
    assert_eq!((&retried, &elsewhere), (&job, &job));
    assert_eq!(origin.recoveries(), 1, "one job for the step");
    // The same step with other servers is refused rather than answered with the old job.
    let changed = cold
        .handle(recovery_request("failover", &["s-3"]), deadline())
        .await
        .unwrap_err();
    assert!(changed.to_string().contains("payload differs"), "{changed}");
    // A failed start is not stored: the retry starts the job.
    let failed = handler
        .handle(recovery_request("failback", &[]), deadline())
        .await
        .unwrap_err();
    assert!(failed.to_string().contains("at least one"), "{failed}");
    assert_eq!(origin.recoveries(), 1);
    // The records live in the table's internal key space, out of every data key's reach.
    let scanned = dynamodb.scan().table_name(&table).send().await.unwrap();
    let records: Vec<&str> = scanned
        .items()
        .iter()
        .filter_map(|item| item.get("cacheKey")?.as_s().ok())
        .filter(|key| key.starts_with("!i#start-recovery#"))
        .map(String::as_str)
        .collect();
    assert_eq!(
        records.len(),
        2,
        "the failover and failback records: {records:?}"
    );
    handler
        .handle(recovery_request("failback", &["s-1"]), deadline())
        .await
        .unwrap();
    assert_eq!(origin.recoveries(), 2);

    // verify_deployment: moto's CloudFormation ignored TTL, and says so.
    let cache = drs_cache(&sdk, &table).await;
    assert_eq!(differences(&cache).await, ["TTL disabled"]);
    dynamodb
        .update_time_to_live()
        .table_name(&table)
        .time_to_live_specification(
            TimeToLiveSpecification::builder()
                .attribute_name(drs_orchestration_cache::query_cache::TTL_ATTRIBUTE)
                .enabled(true)
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(
        differences(&cache).await,
        Vec::<String>::new(),
        "matches once TTL is on"
    );

    // A fingerprint tag changed out of band.
    let arn = described.table().unwrap().table_arn().unwrap().to_owned();
    // (Untag first: moto appends a second tag with the same key where DynamoDB replaces it.)
    let retag = |value: &'static str| {
        let dynamodb = dynamodb.clone();
        let arn = arn.clone();
        async move {
            dynamodb
                .untag_resource()
                .resource_arn(&arn)
                .tag_keys("cachegen:fingerprint")
                .send()
                .await
                .unwrap();
            dynamodb
                .tag_resource()
                .resource_arn(&arn)
                .tags(
                    Tag::builder()
                        .key("cachegen:fingerprint")
                        .value(value)
                        .build()
                        .unwrap(),
                )
                .send()
                .await
                .unwrap();
        }
    };
    retag("0000000000000000").await;
    let found = differences(&cache).await;
    assert_eq!(found.len(), 1, "{found:?}");
    assert!(
        found[0].starts_with("tag `cachegen:fingerprint` is `0000000000000000`, expected"),
        "{found:?}"
    );
    retag(drs_orchestration_cache::FINGERPRINT).await;

    // A GSI renamed out of band: dropped and created under another name.
    let index = drs_orchestration_cache::query_cache::DATA_TYPE_CREATED_AT_INDEX;
    dynamodb
        .update_table()
        .table_name(&table)
        .global_secondary_index_updates(
            GlobalSecondaryIndexUpdate::builder()
                .delete(
                    DeleteGlobalSecondaryIndexAction::builder()
                        .index_name(index)
                        .build()
                        .unwrap(),
                )
                .build(),
        )
        .send()
        .await
        .unwrap();
    dynamodb
        .update_table()
        .table_name(&table)
        .attribute_definitions(
            AttributeDefinition::builder()
                .attribute_name("dataType")
                .attribute_type(ScalarAttributeType::S)
                .build()
                .unwrap(),
        )
        .global_secondary_index_updates(
            GlobalSecondaryIndexUpdate::builder()
                .create(
                    CreateGlobalSecondaryIndexAction::builder()
                        .index_name("by-type")
                        .key_schema(
                            KeySchemaElement::builder()
                                .attribute_name("dataType")
                                .key_type(KeyType::Hash)
                                .build()
                                .unwrap(),
                        )
                        .projection(
                            Projection::builder()
                                .projection_type(ProjectionType::All)
                                .build(),
                        )
                        .build()
                        .unwrap(),
                )
                .build(),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(
        differences(&cache).await,
        [
            format!("index `{index}` is missing"),
            "index `by-type` is deployed but the spec does not declare it".to_owned(),
        ]
    );

    // `cachegen verify --stack` says the same, finding the table through the stack outputs.
    let report = cachegen::verify::verify_stack(
        &cloudformation,
        &dynamodb,
        &cachegen_runtime::config::s3_client(&sdk),
        &project.model,
        "drs-cache-dev",
    )
    .await
    .unwrap();
    assert_eq!(
        report.to_string(),
        format!(
            "table query-cache: index `{index}` is missing\ntable query-cache: index `by-type` is deployed but the spec does not declare it\n"
        )
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn index_changes_are_planned_in_steps_and_a_key_change_refused() {
    let moto = TestServer::moto().unwrap();
    let sdk = moto_sdk(&moto.endpoint()).await;
    let cloudformation = aws_sdk_cloudformation::Client::new(&sdk);
    let project = project("change-metadata");
    let functions = sync_functions(&sdk, &project.model, "changes-dev")
        .await
        .parameters;
    let mut parameters = vec![("env", "dev")];
    parameters.extend(functions.iter().map(|(k, v)| (k.as_str(), v.as_str())));
    deploy(&cloudformation, &project, "changes-dev", &parameters, true)
        .await
        .unwrap();

    let template = project
        .files(Some(&[cachegen_compiler::ir::Target::Cloudformation]))
        .remove(0)
        .contents;
    // Two indexes renamed at once: four index operations, planned as four updates.
    let renamed = template
        .replace("IndexName: CustomerTimeIndex", "IndexName: ByCustomer")
        .replace("IndexName: StatusTimeIndex", "IndexName: ByStatus");
    let (outcome, progress) = deploy_template(
        &cloudformation,
        &renamed,
        "f",
        "changes-dev",
        &parameters,
        false,
    )
    .await
    .unwrap();
    let plan = progress.join("\n");
    assert!(
        plan.contains(
            "this update is applied in 4 steps\n  step 1: MetadataTable: delete index CustomerTimeIndex\n  step 2: MetadataTable: delete index StatusTimeIndex\n  step 3: MetadataTable: create index ByCustomer\n  step 4: MetadataTable: create index ByStatus"
        ),
        "{plan}"
    );
    assert!(plan.contains("step 1 of 4 left for review"), "{plan}");
    let DeployOutcome::Planned { changes, .. } = outcome else {
        panic!("expected the first step's change set, got {outcome:?}");
    };
    assert!(
        changes
            .iter()
            .any(|change| change.starts_with("Modify MetadataTable")),
        "{changes:?}"
    );

    // A new key on the named table.
    let rekeyed = template.replace(
        "AttributeName: pk\n        KeyType: HASH",
        "AttributeName: id\n        KeyType: HASH",
    );
    let refused = deploy_template(
        &cloudformation,
        &rekeyed,
        "f",
        "changes-dev",
        &parameters,
        true,
    )
    .await;
    assert!(
        matches!(&refused, Err(DeployError::Refused(reasons)) if reasons[0].contains("cannot replace a table with a fixed name")),
        "{refused:?}"
    );

    // One index added: CloudFormation can apply it, so the change set is created.
    let one_more = template.replace(
        "      - IndexName: StatusTimeIndex",
        "      - IndexName: TitleIndex\n        KeySchema:\n        - AttributeName: title\n          KeyType: HASH\n        Projection:\n          ProjectionType: KEYS_ONLY\n      - IndexName: StatusTimeIndex",
    )
    .replace(
        "      - AttributeName: pk\n        AttributeType: S\n",
        "      - AttributeName: pk\n        AttributeType: S\n      - AttributeName: title\n        AttributeType: S\n",
    );
    let (outcome, progress) = deploy_template(
        &cloudformation,
        &one_more,
        "f",
        "changes-dev",
        &parameters,
        false,
    )
    .await
    .unwrap();
    assert!(
        progress.contains(&"MetadataTable: index TitleIndex added".to_owned()),
        "{progress:?}"
    );
    let DeployOutcome::Planned { changes, .. } = outcome else {
        panic!("expected a planned change set, got {outcome:?}");
    };
    assert!(
        changes
            .iter()
            .any(|change| change.starts_with("Modify MetadataTable")),
        "{changes:?}"
    );

    // The renames executed, as after an interruption: the stack is left at the first
    // step, then the deploy is run again. It plans the rest from the deployed template,
    // and each step's change set executes. (Moto's CloudFormation completes each update
    // without changing the table's indexes: that the indexes follow rests on AWS's
    // documented behaviour; what is proved here is the sequence and its resumption.)
    let steps = cachegen::deploy::steps::steps(&template, &renamed).unwrap();
    assert_eq!(steps.len(), 4);
    let (first, _) = deploy_template(
        &cloudformation,
        &steps[0].template,
        "s",
        "changes-dev",
        &parameters,
        true,
    )
    .await
    .unwrap();
    assert!(matches!(first, DeployOutcome::Deployed(_)), "{first:?}");
    let (outcome, progress) = deploy_template(
        &cloudformation,
        &renamed,
        "r",
        "changes-dev",
        &parameters,
        true,
    )
    .await
    .unwrap();
    let log = progress.join("\n");
    assert!(
        log.contains("this update is applied in 3 steps\n  step 1: MetadataTable: delete index StatusTimeIndex"),
        "{log}"
    );
    for step in ["step 1 of 3", "step 2 of 3", "step 3 of 3"] {
        assert!(log.contains(step), "{step}: {log}");
    }
    assert_eq!(
        log.matches("executing change set on stack changes-dev")
            .count(),
        3,
        "{log}"
    );
    assert!(matches!(outcome, DeployOutcome::Deployed(_)), "{outcome:?}");
    let (again, _) = deploy_template(
        &cloudformation,
        &renamed,
        "r",
        "changes-dev",
        &parameters,
        true,
    )
    .await
    .unwrap();
    assert_eq!(
        again,
        DeployOutcome::NoChanges,
        "the stack holds the new template"
    );
}

fn change(
    id: &str,
    customer: &str,
    status: &str,
    scheduled_at: i64,
) -> change_notifier_cache::Change {
    change_notifier_cache::Change {
        change_id: id.to_owned(),
        customer_code: customer.to_owned(),
        status: status.to_owned(),
        title: format!("change {id}"),
        scheduled_at,
        approvers: vec!["ops".into()],
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn change_metadata_typed_queries_page_through_real_indexes() {
    let moto = TestServer::moto().unwrap();
    let sdk = moto_sdk(&moto.endpoint()).await;
    let cloudformation = aws_sdk_cloudformation::Client::new(&sdk);
    let project = project("change-metadata");
    let functions = sync_functions(&sdk, &project.model, "changes-dev")
        .await
        .parameters;
    let mut parameters = vec![("env", "dev")];
    parameters.extend(functions.iter().map(|(k, v)| (k.as_str(), v.as_str())));
    let (outcome, _) = deploy(&cloudformation, &project, "changes-dev", &parameters, true)
        .await
        .unwrap();
    assert!(matches!(outcome, DeployOutcome::Deployed(_)), "{outcome:?}");
    let table = table_name(&cloudformation, &project, "changes-dev", "metadata").await;
    let env_var = change_notifier_cache::metadata::ENV_VAR;
    let cache = change_notifier_cache::Cache::from_lookup(Some(&sdk), |name| match name {
        _ if name == env_var => Some(table.clone()),
        cachegen_runtime::config::STORE_TIMEOUT_ENV => Some(MOTO_STORE_TIMEOUT_MS.into()),
        _ => None,
    })
    .await
    .unwrap();

    // verify_deployment: moto ignored TTL; enabling it out of band makes the table match.
    let verify = || async {
        let report = cache.verify_deployment().await.unwrap();
        report
            .differences()
            .into_iter()
            .map(str::to_owned)
            .collect::<Vec<_>>()
    };
    assert_eq!(verify().await, ["TTL disabled"]);
    aws_sdk_dynamodb::Client::new(&sdk)
        .update_time_to_live()
        .table_name(&table)
        .time_to_live_specification(
            TimeToLiveSpecification::builder()
                .attribute_name(change_notifier_cache::metadata::TTL_ATTRIBUTE)
                .enabled(true)
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(verify().await, Vec::<String>::new());

    // Miss, hit, invalidation, miss through the typed module.
    let origin_calls = AtomicUsize::new(0);
    let load = || async {
        origin_calls.fetch_add(1, Ordering::SeqCst);
        Ok::<_, BoxError>(change("c0", "ACME", "draft", 50))
    };
    let key = change_notifier_cache::ChangeKey {
        change_id: "c0".into(),
    };
    cache.change().wrap(&key, load).await.unwrap();
    cache.change().wrap(&key, load).await.unwrap();
    assert_eq!(origin_calls.load(Ordering::SeqCst), 1);
    cache.change().invalidate_all().await.unwrap();
    cache.change().wrap(&key, load).await.unwrap();
    assert_eq!(origin_calls.load(Ordering::SeqCst), 2);
    cache.change().delete(&key).await.unwrap();

    let changes = cache.change();
    let written = [
        change("c1", "ACME", "approved", 100),
        change("c2", "ACME", "pending", 200),
        change("c3", "ACME", "approved", 300),
        change("c4", "INITECH", "approved", 250),
        change("c#5", "ACME", "approved", 150),
    ];
    for value in &written {
        let key = change_notifier_cache::ChangeKey {
            change_id: value.change_id.clone(),
        };
        changes.set(&key, value).await.unwrap();
    }
    // An announcement on the same indexes must not appear in change queries.
    cache
        .announcement()
        .set(
            &change_notifier_cache::AnnouncementKey {
                announcement_id: "a1".into(),
            },
            &change_notifier_cache::Announcement {
                announcement_id: "a1".into(),
                customer_code: "ACME".into(),
                status: "approved".into(),
                title: "maintenance".into(),
                scheduled_at: 180,
            },
        )
        .await
        .unwrap();

    let ids = |page: &cachegen_runtime::query::Page<change_notifier_cache::Change>| {
        page.items
            .iter()
            .map(|c| c.change_id.clone())
            .collect::<Vec<_>>()
    };
    let acme = changes
        .query_customer_time_index("ACME", 100..=250, None)
        .await
        .unwrap();
    assert_eq!(
        ids(&acme),
        ["c1", "c#5", "c2"],
        "by customer and time, in time order"
    );
    let approved = changes
        .query_status_time_index("approved", 200.., None)
        .await
        .unwrap();
    assert_eq!(ids(&approved), ["c4", "c3"]);
    let all = changes.query_time_range_index(.., None).await.unwrap();
    assert_eq!(ids(&all), ["c1", "c#5", "c2", "c4", "c3"]);
    assert_eq!(
        all.items[1], written[4],
        "a key holding `#` round-trips, escaped"
    );

    // Pagination: two items a page, following `next` until it ends.
    let mut seen = Vec::new();
    let mut token = None;
    loop {
        let query = cachegen_runtime::query::IndexQuery::new(
            change_notifier_cache::metadata::TIME_RANGE_INDEX,
            "recordType",
            cachegen_runtime::store::AttrValue::S("change".into()),
        )
        .limit(2)
        .start(token);
        let page = changes.query(query).await.unwrap();
        seen.extend(ids(&page));
        match page.next {
            Some(next) => token = Some(next),
            None => break,
        }
    }
    assert_eq!(seen, ["c1", "c#5", "c2", "c4", "c3"]);

    // Invalidating the type (one stamp write) drops changes, not announcements: the
    // index still finds the items, and every one reads as a miss.
    changes.invalidate_all().await.unwrap();
    assert!(
        changes
            .query_time_range_index(.., None)
            .await
            .unwrap()
            .items
            .is_empty()
    );
    let announcements = cache
        .announcement()
        .query_customer_time_index("ACME", .., None)
        .await
        .unwrap();
    assert_eq!(announcements.items.len(), 1);
}
