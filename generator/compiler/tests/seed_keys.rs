//! What the seeds' keys and TTLs need, as their authors built them: a bare partition key
//! (seed 000's `server_name`), key parameter defaults (seed 001's `account_id='global'`)
//! and per-type TTL env vars (seed 002's `CACHE_DISCORD_*`), with their located errors.

mod support;

use cachegen_compiler::compile_text;
use support::problems_in;

/// The one-line summaries (`file:line:col: message`) and codes of a spec's problems.
/// The full rendered report (with hints) of a spec that must be rejected.
fn report(name: &str, text: &str) -> String {
    compile_text(name, text)
        .expect_err("the spec must be rejected")
        .render()
}

fn example(name: &str) -> String {
    std::fs::read_to_string(
        cachegen_testkit::workspace_root()
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
        problems_in("cache.yaml", &spec),
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

/// A spec with one data type whose key parameters are `params`.
fn with_params(params: &str) -> String {
    format!(
        "version: 1\nservice: demo\ntables:\n  cache: {{ name: demo-cache }}\ndata_types:\n  quotas:\n    key: \"quotas#{{region}}#{{account_id}}\"\n    params: {params}\n    value: {{ type: String }}\n"
    )
}

#[test]
fn the_query_cache_defaults_the_account_of_region_wide_types() {
    let model = compile_text("cache.yaml", &example("drs-query-cache")).unwrap();
    let defaulted: Vec<(&str, &str, &str)> = model
        .data_types
        .iter()
        .flat_map(|data_type| {
            data_type.param_defaults.iter().map(|default| {
                (
                    data_type.name.as_str(),
                    default.name.as_str(),
                    default.value.as_str(),
                )
            })
        })
        .collect();
    assert_eq!(
        defaulted,
        [
            ("ec2-subnets", "account_id", "global"),
            ("ec2-security-groups", "account_id", "global"),
            ("ec2-instance-profiles", "account_id", "global"),
            ("ec2-instance-types", "account_id", "global"),
        ]
    );
}

#[test]
fn a_default_sits_beside_the_shorthand() {
    let text = with_params("{ region: string, account_id: { type: string, default: global } }");
    let model = compile_text("spec.yaml", &text).unwrap();
    let quotas = &model.data_types[0];
    assert_eq!(quotas.params.len(), 2);
    assert_eq!(quotas.param_defaults.len(), 1);
    assert_eq!(
        (
            quotas.param_defaults[0].name.as_str(),
            quotas.param_defaults[0].value.as_str()
        ),
        ("account_id", "global")
    );
    // Numbers and bools too, each checked against its type.
    let text = with_params(
        "{ region: { type: i64, default: -3 }, account_id: { type: bool, default: false } }",
    );
    let values: Vec<String> = compile_text("spec.yaml", &text).unwrap().data_types[0]
        .param_defaults
        .iter()
        .map(|default| default.value.clone())
        .collect();
    assert_eq!(values, ["-3", "false"]);
}

#[test]
fn a_default_must_be_a_value_of_its_type() {
    let cases = [
        (
            "{ type: string, default: 5 }",
            "default `5` of key parameter `account_id` is not a `string`",
            "quote it",
        ),
        (
            "{ type: u32, default: global }",
            "default `global` of key parameter `account_id` is not a `u32`",
            "a whole number a `u32` holds",
        ),
        (
            "{ type: u32, default: 4294967296 }",
            "default `4294967296` of key parameter `account_id` is not a `u32`",
            "a whole number",
        ),
        (
            "{ type: u64, default: -1 }",
            "default `-1` of key parameter `account_id` is not a `u64`",
            "a whole number",
        ),
        (
            "{ type: bool, default: yes please }",
            "default `yes please` of key parameter `account_id` is not a `bool`",
            "`true` or `false`",
        ),
    ];
    for (param, message, hint) in cases {
        let text = with_params(&format!("{{ region: string, account_id: {param} }}"));
        let column = 43 + param.find("default: ").unwrap() + "default: ".len();
        assert_eq!(
            problems_in("spec.yaml", &text),
            [(format!("spec.yaml:8:{column}: {message}"), "CG0313")],
            "{param}"
        );
        assert!(report("spec.yaml", &text).contains(hint), "{param}");
    }
}

#[test]
fn a_string_default_is_written_into_keys_as_is() {
    for (default, message) in [
        (
            "\"a#b c\"",
            "default `a#b c` of key parameter `account_id` has characters escaping would change in keys: `#`, ` `",
        ),
        ("\"\"", "default `` of key parameter `account_id` is empty"),
        (
            "\"!global\"",
            "default `!global` of key parameter `account_id` has characters escaping would change in keys: `!`",
        ),
    ] {
        let text = with_params(&format!(
            "{{ region: string, account_id: {{ type: string, default: {default} }} }}"
        ));
        let problems = problems_in("spec.yaml", &text);
        assert_eq!(problems.len(), 1, "{default}");
        assert_eq!(problems[0].1, "CG0313");
        assert!(problems[0].0.ends_with(message), "{problems:?}");
        assert!(report("spec.yaml", &text).contains("letters, digits and `-._~` only"));
    }
}

#[test]
fn the_mapping_form_locates_a_bad_type_and_an_unknown_field() {
    let text = with_params("{ region: string, account_id: { type: strin, default: global } }");
    // The placeholder of a parameter that did not resolve is reported too, as with the shorthand.
    assert_eq!(
        problems_in("spec.yaml", &text)[1],
        (
            "spec.yaml:8:51: `strin` is not a key parameter type".to_owned(),
            "CG0305"
        )
    );
    let text = with_params("{ region: string, account_id: { type: string, defualt: global } }");
    assert_eq!(
        problems_in("spec.yaml", &text),
        [(
            "spec.yaml:8:59: unknown field `defualt` in `data_types.quotas.params.account_id`"
                .to_owned(),
            "CG0007"
        )]
    );
    assert!(report("spec.yaml", &text).contains("did you mean `default`?"));
}

/// A spec with two data types, `users` and `groups`, whose extra lines are given.
fn with_ttl_envs(table_extra: &str, users: &str, groups: &str) -> String {
    format!(
        "version: 1\nservice: demo\ntables:\n  cache:\n    name: demo-cache\n{table_extra}data_types:\n  users:\n    key: \"user#{{id}}\"\n    params: {{ id: string }}\n    value: {{ type: String }}\n    ttl: 60s\n{users}  groups:\n    key: \"group#{{id}}\"\n    params: {{ id: string }}\n    value: {{ type: String }}\n{groups}"
    )
}

#[test]
fn the_discord_cache_names_a_ttl_env_var_per_type() {
    let model = compile_text("cache.yaml", &example("discord-cache")).unwrap();
    let vars: Vec<(&str, Option<&str>)> = model
        .data_types
        .iter()
        .map(|data_type| (data_type.name.as_str(), data_type.ttl_env.as_deref()))
        .collect();
    assert_eq!(
        vars,
        [
            ("user-guilds", Some("CACHE_DISCORD_USER_GUILDS_TTL")),
            ("bot-guilds", Some("CACHE_DISCORD_BOT_GUILDS_TTL")),
            ("guild-channels", Some("CACHE_DISCORD_GUILD_CHANNELS_TTL")),
            ("guild-roles", Some("CACHE_DISCORD_GUILD_ROLES_TTL")),
            ("guild-member", Some("CACHE_DISCORD_GUILD_MEMBER_TTL")),
        ]
    );
}

#[test]
fn a_ttl_env_var_must_be_a_name_lambda_accepts() {
    for (var, message) in [
        (
            "1TTL",
            "environment variable `1TTL` must be letters, digits and `_`, not starting with a digit",
        ),
        (
            "AWS_USERS_TTL",
            "environment variable `AWS_USERS_TTL` uses the `AWS_` prefix Lambda reserves",
        ),
    ] {
        let text = with_ttl_envs("", &format!("    ttl_env: {var}\n"), "");
        assert_eq!(
            problems_in("spec.yaml", &text),
            [(format!("spec.yaml:12:14: {message}"), "CG0111")]
        );
    }
}

#[test]
fn a_ttl_env_var_is_its_types_alone() {
    let runtime = with_ttl_envs("", "    ttl_env: CACHE_KEY_PREFIX\n", "");
    assert_eq!(
        problems_in("spec.yaml", &runtime),
        [(
            "spec.yaml:12:14: the TTL of data type `users` and the runtime's own setting both use the environment variable `CACHE_KEY_PREFIX`".to_owned(),
            "CG0112"
        )]
    );
    assert!(report("spec.yaml", &runtime).contains("a variable of its own"));
    let table = with_ttl_envs("    env_var: USERS_TTL\n", "    ttl_env: USERS_TTL\n", "");
    assert_eq!(
        problems_in("spec.yaml", &table),
        [(
            "spec.yaml:13:14: the TTL of data type `users` and table `cache` both use the environment variable `USERS_TTL`".to_owned(),
            "CG0112"
        )]
    );
    let types = with_ttl_envs("", "    ttl_env: CACHE_TTL\n", "    ttl_env: CACHE_TTL\n");
    assert_eq!(
        problems_in("spec.yaml", &types),
        [(
            "spec.yaml:17:14: the TTL of data type `groups` and the TTL of data type `users` both use the environment variable `CACHE_TTL`".to_owned(),
            "CG0112"
        )]
    );
    let distinct = with_ttl_envs("", "    ttl_env: USERS_TTL\n", "    ttl_env: GROUPS_TTL\n");
    assert_eq!(problems_in("spec.yaml", &distinct), []);
}
