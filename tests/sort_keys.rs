//! A held-out spec outside the examples' layouts, round-tripped through its generated crate
//! on moto: seed 004's table as its authors built it (`PK` + `SK`, every change under
//! `sort_key: "METADATA"`, three GSIs), items sharing a change's partition under a
//! parameterised sort key, a table whose sort key is a number, and idempotency records
//! among them. The template creates the tables; every read returns what was written, the
//! items sit under the keys the spec names, and `verify_deployment` passes.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};

use aws_sdk_dynamodb::types::{AttributeValue, TimeToLiveSpecification};
use cachegen_runtime::BoxError;
use cachegen_testkit::{shared_moto_endpoint, unique_name};
use cachegen_tests::{deploy, fixture, moto_sdk, table_name};

#[allow(dead_code)] // the whole generated module; the test reaches most of it
mod generated {
    include!(concat!(env!("OUT_DIR"), "/sort_keys.rs"));
}
use generated::*;

/// A cache as a fresh Lambda container builds it, with no L1 copies of its own.
async fn fresh_cache(sdk: &aws_config::SdkConfig, tables: &HashMap<&str, String>) -> Cache {
    Cache::from_lookup(Some(sdk), |name| {
        if name == cachegen_runtime::config::STORE_TIMEOUT_ENV {
            // A loaded machine can keep moto past a Lambda's 200 ms.
            return Some("5000".into());
        }
        tables.get(name).cloned()
    })
    .await
    .unwrap()
}

fn change(id: &str, scheduled_at: i64) -> Change {
    Change {
        change_id: id.into(),
        customer_code: "ACME".into(),
        status: "scheduled".into(),
        title: format!("change {id} – ünïcode"),
        scheduled_at,
    }
}

fn change_key(id: &str) -> ChangeKey {
    ChangeKey {
        change_id: id.into(),
    }
}

fn approval_key(change: &str, approver: &str) -> ApprovalKey {
    ApprovalKey {
        change_id: change.into(),
        approver: approver.into(),
    }
}

/// The items of one partition, as `(sort key text, has a value)`.
async fn partition(
    dynamodb: &aws_sdk_dynamodb::Client,
    table: &str,
    partition: &str,
    sort_attribute: &str,
) -> Vec<(String, bool)> {
    let items = dynamodb
        .query()
        .table_name(table)
        .key_condition_expression("PK = :pk")
        .expression_attribute_values(":pk", AttributeValue::S(partition.into()))
        .consistent_read(true)
        .send()
        .await
        .unwrap()
        .items
        .unwrap_or_default();
    let mut found: Vec<(String, bool)> = items
        .iter()
        .map(|item| {
            let sort = match &item[sort_attribute] {
                AttributeValue::S(text) | AttributeValue::N(text) => text.clone(),
                other => panic!("sort key {other:?}"),
            };
            (sort, item.contains_key("value"))
        })
        .collect();
    found.sort();
    found
}

#[tokio::test(flavor = "multi_thread")]
async fn sort_key_tables_round_trip_through_the_generated_crate() {
    let moto = shared_moto_endpoint().unwrap();
    let sdk = moto_sdk(moto.url()).await;
    let cloudformation = aws_sdk_cloudformation::Client::new(&sdk);
    let dynamodb = aws_sdk_dynamodb::Client::new(&sdk);
    let project = fixture("sort_keys");
    let stack = unique_name("sort-keys");
    let env = unique_name("e");
    deploy(&cloudformation, &project, &stack, &[("env", &env)], true)
        .await
        .unwrap();
    let metadata_table = table_name(&cloudformation, &project, &stack, "metadata").await;
    let revisions_table = table_name(&cloudformation, &project, &stack, "revisions").await;
    let tables = HashMap::from([
        (metadata::ENV_VAR, metadata_table.clone()),
        (revisions::ENV_VAR, revisions_table.clone()),
    ]);
    let cache = fresh_cache(&sdk, &tables).await;

    // A constant sort key: the item is `PK = CHANGE#c1`, `SK = METADATA`, as seed 004's
    // authors keyed it, and another container reads it back.
    cache
        .change()
        .set(&change_key("c1"), &change("c1", 100))
        .await
        .unwrap();
    let reader = fresh_cache(&sdk, &tables).await;
    assert_eq!(
        reader.change().get(&change_key("c1")).await.unwrap(),
        Some(change("c1", 100))
    );

    // A parameterised sort key shares the change's partition, one item per approver.
    for approver in ["alice", "bob smith"] {
        cache
            .approval()
            .set(
                &approval_key("c1", approver),
                &Approval {
                    approver: approver.into(),
                    approved: true,
                },
            )
            .await
            .unwrap();
    }
    assert_eq!(
        partition(&dynamodb, &metadata_table, "CHANGE#c1", "SK").await,
        [
            ("APPROVAL#alice".to_owned(), true),
            ("APPROVAL#bob%20smith".to_owned(), true),
            ("METADATA".to_owned(), true),
        ]
    );
    let approvals = reader
        .approval()
        .get_many(&[
            approval_key("c1", "alice"),
            approval_key("c1", "carol"),
            approval_key("c1", "bob smith"),
        ])
        .await
        .unwrap();
    assert_eq!(
        approvals
            .iter()
            .map(|found| found.as_ref().map(|a| a.approver.as_str()))
            .collect::<Vec<_>>(),
        [Some("alice"), None, Some("bob smith")]
    );

    // Cache-aside: the origin answers once, whichever container asks next.
    let calls = AtomicUsize::new(0);
    let origin = || async {
        calls.fetch_add(1, Ordering::SeqCst);
        Ok::<_, BoxError>(change("c2", 200))
    };
    cache
        .change()
        .wrap(&change_key("c2"), origin)
        .await
        .unwrap();
    let value = fresh_cache(&sdk, &tables)
        .await
        .change()
        .wrap(&change_key("c2"), origin)
        .await
        .unwrap();
    assert_eq!(
        (value, calls.load(Ordering::SeqCst)),
        (change("c2", 200), 1)
    );

    // Index queries find the items by their GSI attributes and read them by both keys.
    let page = reader
        .change()
        .query_time_range_index(0..=1000, None)
        .await
        .unwrap();
    let mut ids: Vec<String> = page.items.into_iter().map(|c| c.change_id).collect();
    ids.sort();
    assert_eq!(ids, ["c1", "c2"]);

    // `cachegen query` reads the same items through the layout it builds from the IR.
    let deployment = cachegen::operate::Deployment::from_lookup(&project.model, |name| {
        tables.get(name).cloned()
    });
    let change_type = project.model.data_type_named("change").unwrap();
    let cli = cachegen::operate::connect(&sdk, &project.model, &deployment, change_type).unwrap();
    let request = cachegen::operate::query::QueryRequest {
        index: "CustomerTimeIndex".into(),
        partition: "ACME".into(),
        ..Default::default()
    };
    let found = cachegen::operate::query::run(&cli, &project.model, change_type, &request)
        .await
        .unwrap();
    let mut ids: Vec<&str> = found
        .iter()
        .map(|value| value["change_id"].as_str().unwrap())
        .collect();
    ids.sort_unstable();
    assert_eq!(ids, ["c1", "c2"]);

    // A delete leaves a tombstone under both keys; the approvals beside it stay.
    cache.change().delete(&change_key("c1")).await.unwrap();
    let after = fresh_cache(&sdk, &tables).await;
    assert_eq!(after.change().get(&change_key("c1")).await.unwrap(), None);
    assert_eq!(
        partition(&dynamodb, &metadata_table, "CHANGE#c1", "SK").await,
        [
            ("APPROVAL#alice".to_owned(), true),
            ("APPROVAL#bob%20smith".to_owned(), true),
            ("METADATA".to_owned(), false),
        ]
    );

    // Tag and whole-type invalidations go through stamps, internal items the runtime keys
    // under a sort value of its own.
    cache.change().invalidate_tag("customer:c2").await.unwrap();
    let after = fresh_cache(&sdk, &tables).await;
    assert_eq!(after.change().get(&change_key("c2")).await.unwrap(), None);
    assert!(
        after
            .approval()
            .get(&approval_key("c1", "alice"))
            .await
            .unwrap()
            .is_some()
    );
    cache.approval().invalidate_all().await.unwrap();
    let after = fresh_cache(&sdk, &tables).await;
    assert_eq!(
        after
            .approval()
            .get(&approval_key("c1", "alice"))
            .await
            .unwrap(),
        None
    );

    // A numeric sort key: the revision number is the item's `revision` (N); a constant
    // number works too.
    for revision in [3u64, 12] {
        cache
            .revision()
            .set(
                &RevisionKey {
                    change_id: "c1".into(),
                    revision,
                },
                &Revision {
                    revision,
                    summary: format!("r{revision}"),
                },
            )
            .await
            .unwrap();
    }
    let latest = LatestRevisionKey {
        change_id: "c1".into(),
    };
    cache
        .latest_revision()
        .set(&latest, &LatestRevision { revision: 12 })
        .await
        .unwrap();
    assert_eq!(
        partition(&dynamodb, &revisions_table, "CHANGE#c1", "revision").await,
        [("12".to_owned(), true), ("3".to_owned(), true)]
    );
    let reader = fresh_cache(&sdk, &tables).await;
    let third = reader
        .revision()
        .get(&RevisionKey {
            change_id: "c1".into(),
            revision: 3,
        })
        .await
        .unwrap();
    assert_eq!(third.map(|r| r.summary), Some("r3".to_owned()));
    assert_eq!(
        reader.latest_revision().get(&latest).await.unwrap(),
        Some(LatestRevision { revision: 12 })
    );

    // Idempotency records live among the items, under the runtime's own sort value.
    let runs = AtomicUsize::new(0);
    let request = PublishRequest {
        change_id: "c1".into(),
        step: "notify".into(),
    };
    let deadline =
        u64::try_from(std::time::UNIX_EPOCH.elapsed().unwrap().as_millis()).unwrap() + 60_000;
    for _ in 0..2 {
        let response = fresh_cache(&sdk, &tables)
            .await
            .publish()
            .run(deadline, &request, |_| async {
                let run = runs.fetch_add(1, Ordering::SeqCst);
                Ok::<_, BoxError>(PublishResponse {
                    notice_id: format!("notice-{run}"),
                })
            })
            .await
            .unwrap();
        assert_eq!(response.notice_id, "notice-0");
    }
    assert_eq!(runs.load(Ordering::SeqCst), 1);

    // The deployed tables are what the crate expects (moto's CloudFormation ignores the
    // TTL specification, so TTL is turned on as CloudFormation would).
    for (table, attribute) in [
        (&metadata_table, metadata::TTL_ATTRIBUTE),
        (&revisions_table, revisions::TTL_ATTRIBUTE),
    ] {
        dynamodb
            .update_time_to_live()
            .table_name(table)
            .time_to_live_specification(
                TimeToLiveSpecification::builder()
                    .attribute_name(attribute)
                    .enabled(true)
                    .build()
                    .unwrap(),
            )
            .send()
            .await
            .unwrap();
    }
    let report = cache.verify_deployment().await.unwrap();
    assert!(report.differences().is_empty(), "{report:?}");
}
