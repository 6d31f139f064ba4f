//! A sync function the templates create (`events: { function: { create: ... } }`): its
//! validation errors, and what CloudFormation, SAM and Terraform declare for it: the
//! function running as its consumer's created role (SAM: with its policies), its env vars,
//! the bucket's notifications and invoke permission naming it, its ARN as an output, and
//! the `sync_errors` alarm reading its name.

mod support;

use cachegen_compiler::emit::{cloudformation, sam, terraform};
use cachegen_compiler::ir::SyncFunction;
use serde_json::{Value, json};
use support::{compile, problems};

/// The fixture spec (also linted, scanned and planned by the tests in `tests/`).
fn fixture() -> String {
    std::fs::read_to_string(
        cachegen_testkit::workspace_root().join("tests/fixtures/sync_function.cache.yaml"),
    )
    .unwrap()
}

/// The 1-based line of the first line of `text` containing `needle`.
fn line_of(text: &str, needle: &str) -> usize {
    text.lines().position(|line| line.contains(needle)).unwrap() + 1
}

#[test]
fn the_spec_describes_the_function_with_defaults_filled_in() {
    let model = compile(&fixture());
    let events = model.buckets[0].events.as_ref().unwrap();
    let SyncFunction::Created(function) = &events.function else {
        panic!("a created function: {:?}", events.function);
    };
    assert_eq!(function.logical_id, "DocumentsSyncFunction");
    assert_eq!((function.memory_mb, function.timeout_secs), (256, 30));
    assert_eq!(function.architecture, "arm64");
    assert_eq!(function.skip_checks.len(), 6);

    let text = fixture()
        .replace("          architecture: arm64\n", "")
        .replace("          memory: 256\n", "")
        .replace("          timeout: 30s\n", "");
    let model = compile(&text);
    let SyncFunction::Created(defaults) = &model.buckets[0].events.as_ref().unwrap().function
    else {
        unreachable!()
    };
    assert_eq!(
        (
            defaults.architecture.as_str(),
            defaults.memory_mb,
            defaults.timeout_secs
        ),
        ("arm64", 256, 30)
    );
}

#[test]
fn the_consumer_must_have_a_created_role_for_the_function_to_run_as() {
    let text = fixture().replace("role: create", "role: { existing: sync-role }");
    let line = line_of(&text, "consumer: s3-sync");
    assert_eq!(
        problems(&text),
        [(
            format!(
                "spec.yaml:{line}:17: the templates create the sync function of bucket `documents`, but consumer `s3-sync` does not have a created role for it to run as"
            ),
            "CG0514"
        )]
    );
}

/// Terraform names the function `<stack_name>-<bucket>-sync` within Lambda's 64
/// characters, cutting the stack name and keeping the bucket's part whole: the bucket's
/// key may be 57 characters, leaving one for the stack name, and no more.
#[test]
fn the_bucket_key_leaves_room_for_the_stack_in_the_function_name() {
    let with_key = |length: usize| {
        fixture().replace("  documents:\n", &format!("  {}:\n", "d".repeat(length)))
    };
    let longest = compile(&with_key(57));
    let main = &terraform::files(&longest, "spec.yaml")[0].contents;
    let name = format!(
        "function_name = \"${{substr(var.stack_name, 0, 1)}}-{}-sync\"",
        "d".repeat(57)
    );
    assert!(main.contains(&name), "{main}");
    let text = with_key(58);
    let line = line_of(&text, "  ddd");
    assert_eq!(
        problems(&text),
        [(
            format!(
                "spec.yaml:{line}:3: the sync function of bucket `{0}` is named `<stack>-{0}-sync`, which leaves no room for the stack name in Lambda's 64 characters",
                "d".repeat(58)
            ),
            "CG0513"
        )]
    );
}

#[test]
fn memory_and_timeout_stay_within_lambdas_limits() {
    for (from, to, message) in [
        (
            "memory: 256",
            "memory: 64",
            "Lambda gives a function 128 to 10240 MB, not 64",
        ),
        (
            "memory: 256",
            "memory: 20000",
            "Lambda gives a function 128 to 10240 MB, not 20000",
        ),
        (
            "timeout: 30s",
            "timeout: 20m",
            "a Lambda function runs at most 15 minutes, not 20m",
        ),
    ] {
        let text = fixture().replace(from, to);
        let line = line_of(&text, to);
        let column = text.lines().nth(line - 1).unwrap().find(':').unwrap() + 3;
        assert_eq!(
            problems(&text),
            [(format!("spec.yaml:{line}:{column}: {message}"), "CG0513")],
            "{to}"
        );
    }
}

#[test]
fn cloudformation_creates_the_function_with_the_consumers_role() {
    let model = compile(&fixture());
    let template = cloudformation::template(&model);
    let resources = &template["Resources"];
    let function = &resources["DocumentsSyncFunction"];
    assert_eq!(function["Type"], "AWS::Lambda::Function");
    let properties = &function["Properties"];
    assert_eq!(properties["Handler"], "bootstrap");
    assert_eq!(properties["Runtime"], "provided.al2023");
    assert_eq!(properties["Architectures"], json!(["arm64"]));
    assert_eq!(
        (&properties["MemorySize"], &properties["Timeout"]),
        (&json!(256), &json!(30))
    );
    assert_eq!(
        properties["Code"],
        json!({ "S3Bucket": { "Ref": "CodeBucketName" }, "S3Key": { "Ref": "CodeKey" } })
    );
    assert_eq!(
        properties["Role"],
        json!({ "Fn::GetAtt": ["S3SyncRole", "Arn"] })
    );
    // The bucket by its name text: a reference would make a cycle with its notifications.
    assert_eq!(
        properties["Environment"]["Variables"],
        json!({
            "CACHE_TABLE_NAME": { "Ref": "CacheTable" },
            "DOCUMENTS_BUCKET_NAME": { "Fn::Sub": "sync-demo-documents-${AWS::AccountId}" },
        })
    );
    let skips: Vec<&str> = function["Metadata"]["checkov"]["skip"]
        .as_array()
        .unwrap()
        .iter()
        .map(|skip| skip["id"].as_str().unwrap())
        .collect();
    assert_eq!(
        skips,
        [
            "CKV_AWS_115",
            "CKV_AWS_116",
            "CKV_AWS_117",
            "CKV_AWS_173",
            "CKV_AWS_272",
            "CKV_AWS_50"
        ]
    );
    assert_the_bucket_alarm_and_output_name_the_function(&template);
    // The role keeps exactly the sync grants, plus logs.
    let role = &resources["S3SyncRole"]["Properties"];
    assert_eq!(
        role["ManagedPolicyArns"],
        json!([{ "Fn::Sub": "arn:${AWS::Partition}:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole" }])
    );
    assert_eq!(
        resources["S3SyncCachePolicy"]["Properties"]["Roles"],
        json!([{ "Ref": "S3SyncRole" }])
    );
}

/// What CloudFormation and SAM share: the notifications and permission name the function
/// by its ARN, the alarm by its name, and its ARN is an output.
fn assert_the_bucket_alarm_and_output_name_the_function(template: &Value) {
    let resources = &template["Resources"];
    let arn = json!({ "Fn::GetAtt": ["DocumentsSyncFunction", "Arn"] });
    let bucket = &resources["DocumentsBucket"]["Properties"];
    for configuration in bucket["NotificationConfiguration"]["LambdaConfigurations"]
        .as_array()
        .unwrap()
    {
        assert_eq!(configuration["Function"], arn);
    }
    assert_eq!(
        resources["DocumentsBucketEventsPermission"]["Properties"]["FunctionName"],
        arn
    );
    let metrics = resources["SyncErrorsAlarm"]["Properties"]["Metrics"]
        .as_array()
        .unwrap();
    for metric in &metrics[1..] {
        assert_eq!(
            metric["MetricStat"]["Metric"]["Dimensions"],
            json!([{ "Name": "FunctionName", "Value": { "Ref": "DocumentsSyncFunction" } }])
        );
    }
    assert_eq!(
        template["Outputs"]["DocumentsSyncFunctionArn"]["Value"],
        arn
    );
    // Nothing the bucket's notifications lead to refers back to the bucket resource.
    let function = resources["DocumentsSyncFunction"].to_string();
    let policy = resources["S3SyncCachePolicy"].to_string();
    for reference in ["\"DocumentsBucket\"", "${DocumentsBucket"] {
        assert!(!function.contains(reference), "{function}");
        assert!(!policy.contains(reference), "{policy}");
    }
}

#[test]
fn sam_creates_a_serverless_function_with_the_consumers_policies_and_no_sam_events() {
    let model = compile(&fixture());
    let template = sam::template(&model);
    let function = &template["Resources"]["DocumentsSyncFunction"];
    assert_eq!(function["Type"], "AWS::Serverless::Function");
    let properties = &function["Properties"];
    assert_eq!(
        properties["Policies"],
        json!([{ "Ref": "S3SyncCachePolicy" }])
    );
    assert_eq!(
        properties["CodeUri"],
        json!({ "Bucket": { "Ref": "CodeBucketName" }, "Key": { "Ref": "CodeKey" } })
    );
    assert!(properties.get("Events").is_none(), "{properties:#}");
    assert!(template["Resources"].get("S3SyncRole").is_none());
    // Every function, this one too, gets the env vars through Globals: the bucket by text.
    assert_eq!(
        template["Globals"]["Function"]["Environment"]["Variables"]["DOCUMENTS_BUCKET_NAME"],
        json!({ "Fn::Sub": "sync-demo-documents-${AWS::AccountId}" })
    );
    assert_the_bucket_alarm_and_output_name_the_function(&template);
}

#[test]
fn terraform_creates_the_function_with_the_consumers_role() {
    let model = compile(&fixture());
    let files = terraform::files(&model, "spec.yaml");
    let main = &files[0].contents;
    let start = main
        .find("resource \"aws_lambda_function\" \"documents_sync\"")
        .expect("the function is in main.tf");
    let block = &main[start..main[start..].find("\n}\n").unwrap() + start];
    for line in [
        "#checkov:skip=CKV_AWS_115:S3 events arrive",
        "#checkov:skip=CKV_AWS_50:X-Ray tracing",
        "function_name = \"${substr(var.stack_name, 0, 49)}-documents-sync\"",
        "role          = aws_iam_role.s3_sync.arn",
        "handler       = \"bootstrap\"",
        "runtime       = \"provided.al2023\"",
        "architectures = [\"arm64\"]",
        "memory_size   = 256",
        "timeout       = 30",
        "s3_bucket     = var.code_bucket_name",
        "s3_key        = var.code_key",
        "CACHE_TABLE_NAME      = aws_dynamodb_table.cache.name",
        "DOCUMENTS_BUCKET_NAME = \"sync-demo-documents-${data.aws_caller_identity.current.account_id}\"",
    ] {
        assert!(block.contains(line), "{line} not in {block}");
    }
    assert_eq!(
        main.matches("lambda_function_arn = aws_lambda_function.documents_sync.arn")
            .count(),
        1,
        "{main}"
    );
    assert!(
        main.contains("function_name  = aws_lambda_function.documents_sync.arn"),
        "{main}"
    );
    assert_eq!(
        main.matches("FunctionName = aws_lambda_function.documents_sync.function_name")
            .count(),
        2,
        "{main}"
    );
    let outputs = &files
        .iter()
        .find(|file| file.path.ends_with("outputs.tf"))
        .unwrap()
        .contents;
    assert!(
        outputs.contains(
            "output \"documents_sync_function_arn\" {\n  description = \"ARN of the sync function of bucket documents\"\n  value       = aws_lambda_function.documents_sync.arn\n}"
        ),
        "{outputs}"
    );
}

#[test]
fn the_docs_page_names_the_created_function() {
    let model = compile(&fixture());
    let page = cachegen_compiler::emit::docs::render(&model, "spec.yaml");
    assert!(
        page.contains("Object events go to the sync function the templates create, `DocumentsSyncFunction` (provided.al2023, 256 MB, 30 s), running as consumer s3-sync"),
        "{page}"
    );
}

#[test]
fn a_mistake_inside_create_is_reported_where_it_is() {
    let text = fixture().replace("memory: 256", "memroy: 256");
    let line = line_of(&text, "memroy");
    let problems = problems(&text);
    assert_eq!(problems.len(), 1, "{problems:?}");
    assert!(
        problems[0].0.starts_with(&format!("spec.yaml:{line}:"))
            && problems[0].0.contains("unknown field `memroy`"),
        "{problems:?}"
    );
}
