//! The Query Handler run as a Lambda: its binary under cargo-lambda's runtime API emulator,
//! its table deployed on moto from the example's CloudFormation, invoked with
//! `cargo lambda invoke`. Quotas come from the DRS stand-in once, then from L1, then, in
//! a cold process, from DynamoDB; a repeated `startRecovery` gets the first job back; the
//! EMF lines count it all. Run as Lambda Managed Instances run it (8 invocations at once
//! in one process), 8 concurrent misses of one key make one DRS call.

use std::path::Path;

use cachegen_testkit::TestServer;
use cachegen_testkit::lambda::{Emulator, Function};
use cachegen_tests::{create_roles, deploy, moto_sdk, table_name, workspace_root};
use serde_json::{Value, json};

const BINARY: &str = env!("CARGO_BIN_EXE_drs-query-lambda");
/// What the DRS stand-in logs on each call.
const QUOTA_CALL: &str = "DRS API call: DescribeSourceServers";
const RECOVERY_CALL: &str = "DRS API call: StartRecovery";

/// moto with the example's stack deployed, and the table's name.
struct Deployed {
    moto: TestServer,
    table: String,
}

fn deployed() -> Deployed {
    let moto = TestServer::moto().expect("moto_server starts");
    let endpoint = moto.endpoint();
    let table = tokio::runtime::Runtime::new().unwrap().block_on(async {
        let sdk = moto_sdk(&endpoint).await;
        let cloudformation = aws_sdk_cloudformation::Client::new(&sdk);
        create_roles(
            &cloudformation,
            "roles",
            &["query-handler-role", "data-management-role"],
        )
        .await;
        let project = cachegen_compiler::Project::load(
            workspace_root().join("examples/drs-query-cache/cache.yaml"),
        )
        .unwrap();
        let parameters = [
            ("env", "dev"),
            ("UnifiedOrchestrationRoleName", "query-handler-role"),
            (
                "DataManagementRoleArn",
                "arn:aws:iam::123456789012:role/data-management-role",
            ),
        ];
        deploy(&cloudformation, &project, "drs-lambda", &parameters, true)
            .await
            .unwrap();
        table_name(&cloudformation, &project, "drs-lambda", "query-cache").await
    });
    Deployed { moto, table }
}

impl Deployed {
    /// The function's environment as the templates set it, AWS pointed at moto, JSON
    /// logs (a function's log format can be set so), and `extra`.
    fn env(&self, extra: &[(&'static str, &str)]) -> Vec<(&'static str, String)> {
        let mut env = vec![
            ("CACHE_TABLE_NAME", self.table.clone()),
            ("AWS_ENDPOINT_URL", self.moto.endpoint()),
            ("AWS_ACCESS_KEY_ID", "testing".into()),
            ("AWS_SECRET_ACCESS_KEY", "testing".into()),
            ("AWS_REGION", "us-east-1".into()),
            ("AWS_EC2_METADATA_DISABLED", "true".into()),
            ("AWS_LAMBDA_LOG_FORMAT", "JSON".into()),
            // The runtime's debug lines say how it polls for events.
            ("RUST_LOG", "info,lambda_runtime=debug".into()),
            // moto on a loaded machine can take longer than a Lambda's 200 ms.
            ("CACHE_STORE_TIMEOUT_MS", "5000".into()),
        ];
        env.extend(extra.iter().map(|&(key, value)| (key, value.to_owned())));
        env
    }
}

fn quota(account: &str) -> Value {
    json!({ "action": "quota", "region": "us-east-1", "accountId": account })
}

fn recovery(servers: &[&str]) -> Value {
    json!({
        "action": "startRecovery",
        "execution_id": "exec-1",
        "step": "recover-wave-1",
        "region": "us-east-1",
        "account_id": "123456789012",
        "source_server_ids": servers,
        "is_drill": true,
    })
}

/// The sum of EMF metric `name` over the lines of data type `data_type`.
fn metric(function: &Function, data_type: &str, name: &str) -> u64 {
    function
        .emf()
        .iter()
        .filter(|line| line["DataType"] == data_type)
        .filter_map(|line| line[name].as_u64())
        .sum()
}

/// How many calls the DRS stand-in logged with `message`, once `expected` have arrived.
fn calls(function: &Function, message: &str, expected: usize) -> usize {
    function.wait_until(|function| function.count(message) >= expected);
    function.count(message)
}

/// Waits until data type `data_type`'s EMF metric `name` sums to `expected` (the line
/// of an invocation is printed before its answer, and arrives here a moment later).
fn metric_reaches(function: &Function, data_type: &str, name: &str, expected: u64) -> u64 {
    function.wait_until(|function| metric(function, data_type, name) >= expected);
    metric(function, data_type, name)
}

#[test]
fn quotas_cache_across_invocations_and_processes_and_recovery_runs_once() {
    let deployed = deployed();
    let emulator = Emulator::start(&workspace_root()).expect("cargo lambda watch starts");
    let function = emulator.run(Path::new(BINARY), &deployed.env(&[])).unwrap();

    // A miss: the DRS stand-in answers, and the answer is stored.
    let first = emulator.invoke(&quota("111111111111")).unwrap();
    assert_eq!(first["account_id"], "111111111111");
    assert_eq!(first["max_replicating_servers"], 300);
    assert_eq!(calls(&function, QUOTA_CALL, 1), 1);
    assert_eq!(metric_reaches(&function, "drs-quotas", "Misses", 1), 1);
    assert_eq!(
        function.emf()[0]["_aws"]["CloudWatchMetrics"][0]["Namespace"],
        "DROrchestration/QueryCache"
    );

    // The same key again, in the same process: from L1, no DRS call.
    let second = emulator.invoke(&quota("111111111111")).unwrap();
    assert_eq!(second, first);
    assert_eq!(metric_reaches(&function, "drs-quotas", "MemoryHits", 1), 1);
    assert_eq!(calls(&function, QUOTA_CALL, 1), 1);

    // A retried orchestration step gets the first job back; the API is called once.
    let job = emulator.invoke(&recovery(&["s-1", "s-2"])).unwrap();
    let retried = emulator.invoke(&recovery(&["s-1", "s-2"])).unwrap();
    assert!(
        job["job_id"].as_str().unwrap().starts_with("drsjob-"),
        "{job}"
    );
    assert_eq!(retried, job);
    assert_eq!(calls(&function, RECOVERY_CALL, 1), 1);
    // The same step with other servers is refused, not answered with the first job.
    let other = emulator.invoke(&recovery(&["s-3"]));
    assert!(other.is_err(), "{other:?}");
    assert_eq!(calls(&function, RECOVERY_CALL, 1), 1);
    function.stop();

    // A cold process (a new execution environment): from DynamoDB, no DRS call.
    let cold = emulator.run(Path::new(BINARY), &deployed.env(&[])).unwrap();
    let third = emulator.invoke(&quota("111111111111")).unwrap();
    assert_eq!(third, first);
    assert_eq!(metric_reaches(&cold, "drs-quotas", "StoreHits", 1), 1);
    assert_eq!(calls(&cold, QUOTA_CALL, 0), 0);
    eprintln!(
        "init (debug build, first poll for an event): {:?}",
        cold.time_to("Concurrent polling disabled")
    );

    // After an invalidation, the next query calls DRS again.
    assert_eq!(
        emulator.invoke(&json!({ "action": "invalidate" })).unwrap(),
        Value::Null
    );
    emulator.invoke(&quota("111111111111")).unwrap();
    assert_eq!(calls(&cold, QUOTA_CALL, 1), 1);
}

#[test]
fn concurrent_invocations_in_one_environment_share_one_cache_and_one_drs_call() {
    let deployed = deployed();
    let emulator = Emulator::start(&workspace_root()).expect("cargo lambda watch starts");
    // Lambda Managed Instances' default for Rust: 8 concurrent invocations per vCPU.
    let function = emulator
        .run(
            Path::new(BINARY),
            &deployed.env(&[("AWS_LAMBDA_MAX_CONCURRENCY", "8")]),
        )
        .unwrap();

    let answers = emulator.invoke_together(&quota("222222222222"), 8);
    let first = answers[0].clone().unwrap();
    assert_eq!(first["account_id"], "222222222222");
    for answer in &answers {
        assert_eq!(answer.as_ref().unwrap(), &first);
    }
    // The runtime polls with 8 workers in this one process...
    assert!(
        function.lines().iter().any(|line| {
            line.contains("runtime_worker_pool_initializing") && line.contains("\"worker_count\":8")
        }),
        "{:#?}",
        function.lines()
    );
    // ...and its one cache made one DRS call for the 8: the others were served by the
    // call in flight or by L1 (or DynamoDB, once the first had written it).
    assert_eq!(calls(&function, QUOTA_CALL, 1), 1);
    let served = |function: &Function| {
        ["MemoryHits", "StoreHits", "CoalescedCalls"]
            .iter()
            .map(|name| metric(function, "drs-quotas", name))
            .sum::<u64>()
    };
    function.wait_until(|function| served(function) >= 7);
    assert_eq!(metric(&function, "drs-quotas", "Misses"), 1);
    assert_eq!(served(&function), 7);

    // The next invocation, on any worker, finds the key in the shared L1.
    let before = metric(&function, "drs-quotas", "MemoryHits");
    assert_eq!(emulator.invoke(&quota("222222222222")).unwrap(), first);
    assert_eq!(
        metric_reaches(&function, "drs-quotas", "MemoryHits", before + 1),
        before + 1
    );
    assert_eq!(calls(&function, QUOTA_CALL, 1), 1);
}
