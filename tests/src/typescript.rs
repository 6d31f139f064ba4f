//! The TypeScript module of `templates/typescript.ts.tera`, compiled by tsc (strict) and
//! run by node over key cases, to compare the keys, tags and key prefixes it builds with
//! the Rust code's.

use std::path::Path;
use std::process::Command;

use serde_json::Value;

use crate::workspace_root;

/// What each case holds and the module builds: compared one by one. `sort_key` is `null`
/// for a type on a table without a sort key.
pub const PARTS: [&str; 4] = ["key", "sort_key", "tags", "prefixes"];

/// What the TypeScript `module` builds for each case (`{ data_type, params: { name: {
/// type, value } } }`, values in their canonical text): `{ key, sort_key, tags, prefixes
/// }`, in the cases' order; or why tsc or node failed.
pub fn build_keys(module: &Path, cases: &[Value]) -> Result<Vec<Value>, String> {
    let dir = tempfile::tempdir().map_err(|err| format!("temporary directory: {err}"))?;
    let tsc = workspace_root().join(".tools/npm/node_modules/.bin/tsc");
    assert!(
        tsc.is_file(),
        "{} is missing: run the suite with scripts/test.sh, which installs typescript",
        tsc.display()
    );
    let compiled = Command::new(&tsc)
        .args(["--strict", "--noUnusedLocals", "--noUnusedParameters"])
        .args(["--target", "es2020", "--module", "commonjs", "--outDir"])
        .arg(dir.path())
        .arg(module)
        .output()
        .map_err(|err| format!("tsc: {err}"))?;
    if !compiled.status.success() {
        return Err(format!(
            "tsc rejects {}:\n{}",
            module.display(),
            String::from_utf8_lossy(&compiled.stdout)
        ));
    }
    // CommonJS, whatever a package.json above the temporary directory says.
    let write = |name: &str, contents: &str| {
        std::fs::write(dir.path().join(name), contents).map_err(|err| format!("{name}: {err}"))
    };
    write("package.json", r#"{ "type": "commonjs" }"#)?;
    write("cases.json", &serde_json::to_string(cases).expect("JSON"))?;
    write("run.js", RUNNER)?;
    let stem = module.file_stem().unwrap_or_default().to_string_lossy();
    let ran = Command::new("node")
        .arg(dir.path().join("run.js"))
        .arg(dir.path().join(format!("{stem}.js")))
        .arg(dir.path().join("cases.json"))
        .output()
        .map_err(|err| format!("node: {err}"))?;
    if !ran.status.success() {
        return Err(format!("node: {}", String::from_utf8_lossy(&ran.stderr)));
    }
    let built: Vec<Value> =
        serde_json::from_slice(&ran.stdout).map_err(|err| format!("node's output: {err}"))?;
    if built.len() != cases.len() {
        return Err(format!(
            "node built {} cases of {}",
            built.len(),
            cases.len()
        ));
    }
    Ok(built)
}

/// Builds each case's key, sort key, tags and prefixes with the module's data type of that name,
/// parameters typed as the module declares them (u64 and i64 as bigints).
const RUNNER: &str = r#"
const cache = require(process.argv[2]);
const cases = JSON.parse(require("fs").readFileSync(process.argv[3], "utf8"));
const typed = { string: (v) => v, bool: (v) => v === "true", u32: Number, u64: BigInt, i64: BigInt };
const built = cases.map((c) => {
  const type = Object.values(cache).find((v) => v && v.name === c.data_type);
  if (!type) throw new Error(`the module has no data type ${c.data_type}`);
  const key = Object.fromEntries(Object.entries(c.params).map(([n, p]) => [n, typed[p.type](p.value)]));
  const sort_key = type.sortKey ? type.sortKey(key) : null;
  return { key: type.key(key), sort_key, tags: type.tags(key), prefixes: type.keyPrefixes(key) };
});
process.stdout.write(JSON.stringify(built));
"#;

/// A generated module's store key split as the TypeScript module builds it: the partition
/// key, and the sort key (`null` without one) after the separator the runtime splits at.
pub fn key_parts(store_key: &str) -> (Value, Value) {
    match store_key.split_once(cachegen_names::sort_key::SEPARATOR) {
        Some((partition, sort)) => (Value::from(partition), Value::from(sort)),
        None => (Value::from(store_key), Value::Null),
    }
}
