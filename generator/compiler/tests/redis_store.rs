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

/// [`REDIS`] with `url` in its `store.redis`, and `parameters` after it.
fn with_url(url: &str, parameters: &str) -> String {
    REDIS.replace(
        "  redis: {}\n",
        &format!("  redis:\n    url: {url}\n{parameters}"),
    )
}

/// The Terraform module file `name` of `model`.
fn terraform_file(model: &cachegen_compiler::ir::CacheModel, name: &str) -> String {
    let files = cachegen_compiler::emit::terraform::files(model, "spec.yaml");
    let file = files
        .into_iter()
        .find(|file| file.path.ends_with(name))
        .unwrap_or_else(|| panic!("no {name}"));
    file.contents
}

#[test]
fn a_url_parameter_is_hidden_and_given_to_every_function() {
    let model = compile_text("spec.yaml", &with_url("{ parameter: RedisUrl }", "")).unwrap();
    let sam = cachegen_compiler::emit::sam::template(&model);
    assert_eq!(
        sam["Parameters"]["RedisUrl"],
        serde_json::json!({
            "Type": "String",
            "NoEcho": true,
            "Description": "URL of the Redis the cache keeps its shared entries in (rediss://...), given to every function as REDIS_URL",
        })
    );
    assert_eq!(
        sam["Globals"]["Function"]["Environment"]["Variables"]["REDIS_URL"],
        serde_json::json!({ "Ref": "RedisUrl" })
    );
    // Plain CloudFormation declares no function, so nothing there would read it.
    let cloudformation = cachegen_compiler::emit::cloudformation::template(&model);
    assert!(
        !cloudformation.to_string().contains("RedisUrl"),
        "{cloudformation}"
    );
    let variables = terraform_file(&model, "variables.tf");
    assert!(
        variables.contains("variable \"redis_url\" {\n  type        = string\n")
            && variables.contains("  sensitive   = true\n"),
        "{variables}"
    );
    let outputs = terraform_file(&model, "outputs.tf");
    assert!(
        outputs.contains("    REDIS_URL = var.redis_url\n  }\n  sensitive = true\n}"),
        "{outputs}"
    );
}

#[test]
fn a_url_secret_is_resolved_when_the_stack_deploys() {
    let cases = [
        (
            "{ secret: \"bot-redis-${Stage}\", key: url }",
            serde_json::json!({ "Fn::Sub": "{{resolve:secretsmanager:bot-redis-${Stage}:SecretString:url}}" }),
            "jsondecode(data.aws_secretsmanager_secret_version.redis_url.secret_string)[\"url\"]",
            "\"bot-redis-${var.stage}\"",
        ),
        (
            "{ secret: \"arn:aws:secretsmanager:us-east-1:123456789012:secret:bot-redis\" }",
            serde_json::json!(
                "{{resolve:secretsmanager:arn:aws:secretsmanager:us-east-1:123456789012:secret:bot-redis:SecretString}}"
            ),
            "data.aws_secretsmanager_secret_version.redis_url.secret_string",
            "\"arn:aws:secretsmanager:us-east-1:123456789012:secret:bot-redis\"",
        ),
    ];
    for (url, reference, terraform_value, secret_id) in cases {
        let text = with_url(url, "parameters:\n  Stage: { default: dev }\n");
        let model = compile_text("spec.yaml", &text).unwrap();
        let sam = cachegen_compiler::emit::sam::template(&model);
        assert_eq!(
            sam["Globals"]["Function"]["Environment"]["Variables"]["REDIS_URL"], reference,
            "{url}"
        );
        assert!(sam["Parameters"].get("RedisUrl").is_none());
        // The output names the secret, never its value, and gives plain CloudFormation,
        // which declares no function, a use of the parameters in its name.
        let cloudformation = cachegen_compiler::emit::cloudformation::template(&model);
        let output = &cloudformation["Outputs"]["RedisUrlSecret"];
        assert!(!output["Value"].to_string().contains("resolve"), "{output}");
        let main = terraform_file(&model, "main.tf");
        assert!(
            main.contains(&format!(
                "data \"aws_secretsmanager_secret_version\" \"redis_url\" {{\n  secret_id = {secret_id}\n}}"
            )),
            "{main}"
        );
        let outputs = terraform_file(&model, "outputs.tf");
        assert!(
            outputs.contains(&format!(
                "    REDIS_URL = {terraform_value}\n  }}\n  sensitive = true\n}}"
            )),
            "{outputs}"
        );
    }
}

#[test]
fn a_url_source_is_refused_where_it_is_wrong() {
    let cases: [(String, &[(&str, &str)]); 9] = [
        (
            with_url("{ paramter: RedisUrl }", ""),
            &[
                (
                    "spec.yaml:5:5: `url` names neither a parameter nor a secret",
                    "CG1104",
                ),
                (
                    "spec.yaml:5:12: unknown field `paramter` in `store.redis.url`",
                    "CG0007",
                ),
            ],
        ),
        (
            with_url("{ parameter: RedisUrl, secret: bot-redis }", ""),
            &[(
                "spec.yaml:5:5: `url` names both a parameter and a secret",
                "CG1104",
            )],
        ),
        (
            with_url("{ key: url }", ""),
            &[
                (
                    "spec.yaml:5:5: `url` names neither a parameter nor a secret",
                    "CG1104",
                ),
                (
                    "spec.yaml:5:12: `key` picks the URL out of a JSON secret, but `url` names no secret",
                    "CG1104",
                ),
            ],
        ),
        (
            REDIS.replace(
                "  redis: {}\n",
                "  redis:\n    create: {}\n    url: { parameter: RedisUrl }\n",
            ),
            &[(
                "spec.yaml:6:5: a created Redis has the URL of its endpoint",
                "CG1104",
            )],
        ),
        (
            with_url("{ parameter: redis-url }", ""),
            &[(
                "spec.yaml:5:23: parameter name `redis-url` must be 1 to 255 letters and digits (CloudFormation's rule)",
                "CG0103",
            )],
        ),
        (
            with_url(
                "{ parameter: Stage }",
                "parameters:\n  Stage: { default: dev }\n",
            ),
            &[(
                "spec.yaml:5:23: Redis URL parameter `Stage` has the name of another parameter",
                "CG1105",
            )],
        ),
        (
            with_url("{ secret: \"bot redis\" }", ""),
            &[(
                "spec.yaml:5:20: secret `bot redis` has characters a secret name or ARN cannot: ` `",
                "CG1106",
            )],
        ),
        (
            with_url("{ secret: bot-redis, key: \"redis:url\" }", ""),
            &[(
                "spec.yaml:5:36: JSON key `redis:url` has characters cachegen does not pass on: `:`",
                "CG1106",
            )],
        ),
        (
            with_url("{ secret: \"bot-redis-${Stag}\" }", ""),
            &[("spec.yaml:5:20: `${Stag}` names no parameter", "CG0105")],
        ),
    ];
    for (text, expected) in cases {
        let found = problems(&text);
        let found: Vec<(&str, &str)> = found
            .iter()
            .map(|(summary, code)| (summary.as_str(), *code))
            .collect();
        assert_eq!(found, expected, "{text}");
    }
}
