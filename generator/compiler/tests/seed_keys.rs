//! What the seeds' keys and TTLs need, as their authors built them: a bare partition key
//! (seed 000's `server_name`), key parameter defaults (seed 001's `account_id='global'`)
//! and per-type TTL env vars (seed 002's `CACHE_DISCORD_*`), with their located errors.

mod support;

use cachegen_compiler::compile_text;

/// The one-line summaries (`file:line:col: message`) and codes of a spec's problems.
fn problems(name: &str, text: &str) -> Vec<(String, &'static str)> {
    match compile_text(name, text) {
        Ok(_) => Vec::new(),
        Err(diagnostics) => diagnostics
            .summary()
            .into_iter()
            .zip(diagnostics.items.iter().map(|item| item.code.id))
            .collect(),
    }
}

/// The full rendered report (with hints) of a spec that must be rejected.
fn report(name: &str, text: &str) -> String {
    compile_text(name, text)
        .expect_err("the spec must be rejected")
        .render()
}

fn example(name: &str) -> String {
    std::fs::read_to_string(
        support::workspace_root()
            .join("examples")
            .join(name)
            .join("cache.yaml"),
    )
    .unwrap()
}

#[test]
fn the_server_map_keys_items_by_the_server_name_alone() {
    let spec = example("server-provider-map");
    let model = compile_text("cache.yaml", &spec).unwrap();
    let server = &model.data_types[0];
    assert_eq!(server.key.to_string(), "{server_name}");
    assert_eq!(server.key.literal_prefix(), "");
}

#[test]
fn a_second_type_beside_a_bare_key_is_refused_where_it_is_declared() {
    let spec = example("server-provider-map").replace(
        "\nconsumers:\n",
        "  server-region:\n    key: \"region#{server_name}\"\n    params: { server_name: string }\n    value: { fields: { region: string } }\n\nconsumers:\n",
    );
    let line = 1 + spec
        .lines()
        .position(|l| l.contains("region#{server_name}"))
        .unwrap();
    assert_eq!(
        problems("cache.yaml", &spec),
        [(
            format!(
                "cache.yaml:{line}:10: keys of `server-region` and `server-provider` can collide on table `server-cache`: `server-provider` starts with a parameter, so it can be any key"
            ),
            "CG0311"
        )]
    );
    assert!(report("cache.yaml", &spec).contains(
        "a key may start with a parameter only when its data type is alone on its table"
    ));
}
