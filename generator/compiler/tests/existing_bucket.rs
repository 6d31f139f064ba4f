//! Documents in a bucket the templates do not create: named by a parameter, it gets no
//! resource of its own, and every grant names it by its ARN text in all three formats.

mod support;

use cachegen_compiler::compile_text;
use cachegen_compiler::ir::Target;
use support::file;

const SPEC: &str = r#"version: 1
service: reports
parameters:
  ReportsBucket: { description: Name of the existing bucket of reports }
buckets:
  reports:
    existing: "${ReportsBucket}"
tables:
  cache:
    name: reports-cache
data_types:
  report:
    key: "report#{id}"
    params: { id: string }
    value: { fields: { id: string, body: string } }
    document: { key: "reports/{id}.json" }
consumers:
  api:
    access: { report: [read, write] }
"#;

fn project() -> cachegen_compiler::Project {
    let model = compile_text("cache.yaml", SPEC).expect("the spec is valid");
    cachegen_compiler::Project {
        spec_path: "cache.yaml".into(),
        model,
    }
}

#[test]
fn cloudformation_grants_the_parameter_bucket_and_creates_none() {
    let project = project();
    let template: serde_json::Value = serde_yaml::from_str(&file(
        &project,
        Target::Cloudformation,
        "cloudformation.yaml",
    ))
    .unwrap();
    let resources = template["Resources"].as_object().unwrap();
    assert!(
        resources
            .values()
            .all(|resource| !resource["Type"].as_str().unwrap().starts_with("AWS::S3::")),
        "{resources:#?}"
    );
    let statements = &resources["ApiCachePolicy"]["Properties"]["PolicyDocument"]["Statement"];
    let documents = statements
        .as_array()
        .unwrap()
        .iter()
        .find(|statement| statement["Sid"] == "ReportsBucketDocuments")
        .expect("an S3 statement");
    assert_eq!(
        documents["Resource"],
        serde_json::json!({ "Fn::Sub": "arn:${AWS::Partition}:s3:::${ReportsBucket}/reports/*" })
    );
    assert_eq!(
        documents["Action"],
        serde_json::json!(["s3:GetObject", "s3:PutObject"])
    );
    assert_eq!(
        template["Outputs"]["ReportsBucketName"]["Value"],
        serde_json::json!({ "Ref": "ReportsBucket" })
    );
}

#[test]
fn terraform_grants_the_variable_bucket_and_creates_none() {
    let project = project();
    let main = file(&project, Target::Terraform, "terraform/main.tf");
    hcl::parse(&main).expect("main.tf is HCL");
    assert!(!main.contains("resource \"aws_s3_bucket"), "{main}");
    assert!(
        main.contains("data \"aws_partition\" \"current\" {}"),
        "{main}"
    );
    assert!(
        main.contains(
            "resources = [\"arn:${data.aws_partition.current.partition}:s3:::${var.reports_bucket}/reports/*\"]"
        ),
        "{main}"
    );
    let outputs = file(&project, Target::Terraform, "terraform/outputs.tf");
    assert!(
        outputs.contains("REPORTS_BUCKET_NAME = var.reports_bucket"),
        "{outputs}"
    );
}
