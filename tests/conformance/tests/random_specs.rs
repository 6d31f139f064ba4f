//! Random valid specs work end to end: each case of this build (the default seeds, those of
//! `CACHEGEN_CONFORMANCE_SEEDS`, the files of `CACHEGEN_CONFORMANCE_REPLAY`) compiled,
//! deployed on moto or given a Redis, and driven through every data type's generated API.
//! A spec the compiler refused, a deployment that failed, and every failed step are
//! findings; each failing data type is printed shrunk, to reproduce it.

use cachegen_conformance::{CASES, Case, Finding, deploy};
use cachegen_testkit::{shared_moto_endpoint, shared_redis_url};

/// Where shrunk specs are written to be replayed.
fn shrunk_dir() -> std::path::PathBuf {
    std::env::temp_dir().join("cachegen-conformance")
}

/// Runs `case`, returning its findings.
async fn run(
    case: &Case,
    sdk: &aws_config::SdkConfig,
    moto: &str,
    redis_url: &str,
) -> Vec<Finding> {
    let refused = |detail: String| {
        vec![Finding {
            subject: "*".into(),
            step: "build".into(),
            detail,
        }]
    };
    if let Some(problems) = case.refused {
        return refused(format!("the compiler refuses the spec:\n{problems}"));
    }
    let project = match cachegen_compiler::Project::load(case.spec) {
        Ok(project) => project,
        Err(err) => return refused(err.to_string()),
    };
    let deployed = if project.model.store.redis().is_some() {
        Ok(deploy::redis(&project, redis_url))
    } else if case.terraform {
        match deploy::terraform(&project, sdk, moto).await {
            Ok(Some(env)) => Ok(env),
            Ok(None) => deploy::cloudformation(&project, sdk).await,
            Err(err) => Err(err),
        }
    } else {
        deploy::cloudformation(&project, sdk).await
    };
    let env = match deployed {
        Ok(env) => env,
        Err(err) => {
            return vec![Finding {
                subject: "*".into(),
                step: "deploy".into(),
                detail: err,
            }];
        }
    };
    let driver = case.run.expect("a compiled case has a driver");
    let report = driver(&env).await;
    for note in &report.notes {
        eprintln!(
            "{}: `{}`: {} not run: {}",
            case.label, note.subject, note.step, note.detail
        );
    }
    let mut findings = report.findings;
    findings.extend(cachegen_conformance::typescript::differences(
        &project,
        &report.key_cases,
    ));
    findings
}

#[tokio::test(flavor = "multi_thread")]
async fn random_valid_specs_work_end_to_end() {
    let moto = shared_moto_endpoint().expect("moto_server runs");
    let redis = shared_redis_url().expect("redis-server runs");
    let sdk = cachegen_tests::moto_sdk(moto.url()).await;
    // The cases run at once (each has names of its own), so a Terraform apply overlaps
    // the others' steps.
    let runs = CASES
        .iter()
        .map(|case| run(case, &sdk, moto.url(), redis.url()));
    let mut failures = Vec::new();
    for (case, findings) in CASES.iter().zip(futures::future::join_all(runs).await) {
        eprintln!("{}: {} findings", case.label, findings.len());
        if !findings.is_empty() {
            failures.push(cachegen_conformance::findings::describe(
                case,
                &findings,
                &shrunk_dir(),
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} specs failed:\n\n{}",
        failures.len(),
        CASES.len(),
        failures.join("\n")
    );
}
