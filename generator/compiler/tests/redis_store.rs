//! A spec whose store is Redis: what it refuses (each at its place), and what it builds.

mod support;

use cachegen_compiler::compile_text;
use cachegen_compiler::ir::Target;
use support::problems;

const REDIS: &str = r#"version: 1
service: demo
store:
  redis: {}
data_types:
  user:
    key: "user#{id}"
    params: { id: string }
    value: { fields: { name: string } }
    tags: ["user:{id}"]
consumers:
  api:
    access: { user: [read, write, invalidate] }
alarms:
  errors: { metric: store_errors, threshold: 5 }
"#;

#[test]
fn what_needs_dynamodb_is_refused_where_it_is_written() {
    let text = r#"version: 1
service: demo
store:
  redis: {}
tables:
  cache: { name: demo-cache }
data_types:
  user:
    table: cache
    key: "user#{id}"
    params: { id: string }
    value: { fields: { name: string } }
    large_values: true
consumers:
  api:
    access: { user: [read, query] }
alarms:
  throttled: { metric: throttles, threshold: 0 }
"#;
    let found = problems(text);
    let redis: Vec<&str> = found
        .iter()
        .map(|(summary, code)| {
            assert_eq!(*code, "CG1101", "{summary}");
            summary.as_str()
        })
        .collect();
    assert_eq!(
        redis,
        [
            "spec.yaml:5:1: a table needs DynamoDB, but the store is Redis",
            "spec.yaml:9:5: a table of data type `user` needs DynamoDB, but the store is Redis",
            "spec.yaml:13:5: values over an item's size kept in S3 of data type `user` needs DynamoDB, but the store is Redis",
            "spec.yaml:16:15: `query` access of consumer `api` (index queries) needs DynamoDB, but the store is Redis",
            "spec.yaml:18:16: alarm `throttled` on DynamoDB throttles needs DynamoDB, but the store is Redis",
        ],
        "{found:#?}"
    );
}

#[test]
fn item_attributes_and_index_invalidation_are_refused() {
    let text = REDIS.replace(
        "    tags: [\"user:{id}\"]\n",
        "    attributes: { kind: user }\n    invalidate_by: by-kind\n",
    );
    let codes: Vec<(String, &str)> = problems(&text);
    assert_eq!(
        codes,
        [
            (
                "spec.yaml:10:5: item attributes (for indexes) of data type `user` needs DynamoDB, but the store is Redis".to_owned(),
                "CG1101"
            ),
            (
                "spec.yaml:11:5: invalidation through an index of data type `user` needs DynamoDB, but the store is Redis".to_owned(),
                "CG1101"
            ),
        ]
    );
}

#[test]
fn a_created_redis_is_a_cluster_with_a_name_elasticache_accepts() {
    let text = REDIS.replace(
        "  redis: {}\n",
        "  redis:\n    cluster: false\n    create: { name: \"my_cache\" }\n",
    );
    let found = problems(&text);
    assert_eq!(
        found,
        [
            (
                "spec.yaml:5:14: ElastiCache Serverless serves cluster mode only".to_owned(),
                "CG1102"
            ),
            (
                "spec.yaml:6:21: cache name `my_cache` has characters ElastiCache rejects: `_`"
                    .to_owned(),
                "CG1103"
            ),
        ]
    );
}

#[test]
fn a_dynamodb_spec_without_tables_is_pointed_at_redis() {
    let text = REDIS.replace("store:\n  redis: {}\n", "");
    let report = compile_text("spec.yaml", &text).unwrap_err().render();
    assert!(
        report.contains("error[CG0201]: the spec declares no table"),
        "{report}"
    );
    assert!(report.contains("store: { redis: {} }"), "{report}");
}

#[test]
fn keys_of_two_types_may_not_collide_in_the_redis_store() {
    let text = REDIS.replace(
        "consumers:",
        "  user-name:\n    key: \"user#{id}\"\n    params: { id: string }\n    value: { fields: { name: string } }\nconsumers:",
    );
    let found = problems(&text);
    assert_eq!(found.len(), 1, "{found:#?}");
    assert_eq!(found[0].1, "CG0311");
    assert!(
        found[0].0.contains("can collide in the Redis store"),
        "{found:#?}"
    );
}

#[test]
fn an_existing_redis_builds_no_table_and_no_iam() {
    let model = compile_text("spec.yaml", REDIS).unwrap();
    assert!(model.tables.is_empty());
    assert!(
        model
            .data_types
            .iter()
            .all(|data_type| data_type.table.is_none())
    );
    assert!(model.consumers[0].grants.is_empty());
    let template = cachegen_compiler::emit::cloudformation::template(&model);
    let types: Vec<&str> = template["Resources"]
        .as_object()
        .unwrap()
        .values()
        .map(|resource| resource["Type"].as_str().unwrap())
        .collect();
    assert_eq!(
        types,
        [
            "AWS::IAM::Role",
            "AWS::CloudWatch::Alarm",
            "AWS::CloudWatch::Dashboard"
        ]
    );
    let outputs: Vec<&String> = template["Outputs"].as_object().unwrap().keys().collect();
    assert_eq!(outputs, ["ApiRoleArn"], "no table, and no cache policy");
    let text = template.to_string();
    assert!(
        !text.contains("dynamodb") && !text.contains("VPCAccess"),
        "{text}"
    );
}

#[test]
fn a_created_redis_gives_every_function_its_url_and_cluster_mode() {
    let text = REDIS.replace(
        "  redis: {}\n",
        "  redis:\n    create: { engine: redis, kms_key: \"${CacheKey}\" }\nparameters:\n  CacheKey: {}\n",
    );
    let model = compile_text("spec.yaml", &text).unwrap();
    let redis = model.store.redis().unwrap();
    assert!(redis.cluster);
    let template = cachegen_compiler::emit::cloudformation::template(&model);
    let cache = &template["Resources"]["RedisCache"];
    assert_eq!(cache["Type"], "AWS::ElastiCache::ServerlessCache");
    let properties = &cache["Properties"];
    assert_eq!(properties["Engine"], "redis");
    assert_eq!(properties["ServerlessCacheName"], "demo-cache");
    assert_eq!(
        properties["KmsKeyId"],
        serde_json::json!({ "Ref": "CacheKey" })
    );
    assert_eq!(
        template["Parameters"]["RedisSubnetIds"]["Type"],
        "List<AWS::EC2::Subnet::Id>"
    );
    assert_eq!(
        template["Parameters"]["RedisSecurityGroupIds"]["Type"],
        "List<AWS::EC2::SecurityGroup::Id>"
    );
    let role = &template["Resources"]["ApiRole"]["Properties"]["ManagedPolicyArns"];
    assert_eq!(
        role.as_array().unwrap().len(),
        2,
        "logs and VPC access: {role}"
    );
    let sam = cachegen_compiler::emit::sam::template(&model);
    let variables = &sam["Globals"]["Function"]["Environment"]["Variables"];
    assert_eq!(
        variables["REDIS_URL"],
        serde_json::json!({ "Fn::Sub": "rediss://${RedisCache.Endpoint.Address}:${RedisCache.Endpoint.Port}" })
    );
    assert_eq!(variables["REDIS_CLUSTER"], "true");
    assert_eq!(model.targets, [Target::Cloudformation]);
}
