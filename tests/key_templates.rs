//! Keys, tags, key prefixes, item attributes and object keys are rendered from one IR
//! definition (`ir::Rendering`): in compiled code by the generated modules, by
//! interpretation in the CLI (`operate::DynamicType`, which backfill writes items with).
//! This compares the two over random parameters and values (separators, `%`, spaces,
//! non-ASCII and empty strings included) for every data type of the examples' generated
//! crates and of `fixtures/templates.cache.yaml`, whose module `build.rs` generates and
//! which uses every kind of template part. The TypeScript module of
//! `templates/typescript.ts.tera` is compiled by tsc and run by node over the same kind of
//! random parameters, and builds the same keys, tags and key prefixes as the Rust code.

use std::path::Path;

use cachegen::operate::{DynamicType, Params};
use cachegen_compiler::ir::{CacheModel, FieldType, ValueType};
use cachegen_runtime::documents::DocumentType;
use cachegen_runtime::typed::DataType;
use cachegen_tests::{examples, typescript, workspace_root};
use serde_json::{Value, json};

// The tests use part of the module.
#[allow(dead_code)]
mod templates {
    include!(concat!(env!("OUT_DIR"), "/templates.rs"));
}

// The tests use part of the module.
#[allow(dead_code)]
mod sort_key_parameters {
    include!(concat!(env!("OUT_DIR"), "/sort_key_parameters.rs"));
}

/// Random inputs per data type.
const CASES: usize = 300;

/// Builds a generated key struct from parameters in their canonical text.
macro_rules! key {
    ($key:path { $($field:ident),* }) => {
        |params: &Params| {
            let _ = params;
            $key { $($field: params[stringify!($field)].parse().unwrap()),* }
        }
    };
}

/// Random parameters and values, the same on every run.
struct Random(fastrand::Rng);

impl Random {
    fn new(seed: &str) -> Self {
        Self(fastrand::Rng::with_seed(
            seed.bytes().fold(17, |hash: u64, byte| {
                hash.wrapping_mul(31).wrapping_add(u64::from(byte))
            }),
        ))
    }

    /// Text of up to 8 characters, often with what escaping must encode.
    fn text(&mut self) -> String {
        const CHARS: &[char] = &[
            'a', 'Z', '7', '-', '_', '.', '~', '#', ':', '%', '/', ' ', '|', '@', '+', '{', 'é',
            'ß', '日', '🦀',
        ];
        let len = self.0.usize(0..=8);
        (0..len)
            .map(|_| CHARS[self.0.usize(..CHARS.len())])
            .collect()
    }

    /// A key parameter of type `ty`, in its canonical text (`7`, `true`).
    fn param(&mut self, ty: &FieldType) -> String {
        match ty {
            FieldType::String => self.text(),
            FieldType::Bool => self.0.bool().to_string(),
            FieldType::U32 => self.0.u32(..).to_string(),
            FieldType::U64 => self.0.u64(..).to_string(),
            FieldType::I64 => self.0.i64(..).to_string(),
            other => panic!("{other} is not a key parameter type"),
        }
    }

    /// A float, often one whose text differs between JSON and Rust (`1.0` and `1`).
    fn float(&mut self) -> f64 {
        const SPECIAL: &[f64] = &[0.0, -0.0, 1.0, 0.1, 1e21, 1e-7, 2.5e300, f64::MIN_POSITIVE];
        if self.0.bool() {
            SPECIAL[self.0.usize(..SPECIAL.len())]
        } else {
            (self.0.f64() - 0.5) * 1e6
        }
    }

    /// A JSON value of a value field of type `ty`.
    fn value(&mut self, ty: &FieldType) -> Value {
        match ty {
            FieldType::String => json!(self.text()),
            FieldType::Bool => json!(self.0.bool()),
            FieldType::U32 => json!(self.0.u32(..)),
            FieldType::U64 => json!(self.0.u64(..)),
            FieldType::I64 => json!(self.0.i64(..)),
            FieldType::F64 => json!(self.float()),
            FieldType::Json => json!({ "any": self.text() }),
            FieldType::List(item) => json!([self.value(item)]),
            FieldType::Option(item) if self.0.bool() => self.value(item),
            FieldType::Option(_) => Value::Null,
            FieldType::Map(item) => json!({ self.text(): self.value(item) }),
        }
    }
}

/// Compares data type `D` of `model`, generated, with its interpretation; `key` builds
/// the key struct from parameters.
fn check<D: DataType>(model: &CacheModel, key: impl Fn(&Params) -> D::Key) {
    let data_type = model.data_type_named(D::NAME).unwrap();
    let dynamic = DynamicType::new(data_type);
    let mut random = Random::new(D::NAME);
    for _ in 0..CASES {
        let params: Params = data_type
            .params
            .iter()
            .map(|param| (param.name.clone(), random.param(&param.ty)))
            .collect();
        let key = key(&params);
        let context = format!("{} with {params:?}", D::NAME);
        assert_eq!(D::key(&key), dynamic.key(&params), "key of {context}");

        let now = random.0.u64(..);
        let (json, value) = match &data_type.value {
            ValueType::Fields(fields) => {
                let json: Value = fields
                    .iter()
                    .map(|field| (field.name.clone(), random.value(&field.ty)))
                    .collect::<serde_json::Map<_, _>>()
                    .into();
                let value: D::Value = serde_json::from_value(json.clone()).unwrap();
                (json, Some(value))
            }
            // A user's type is not built here: the examples' ones write no attributes.
            ValueType::Rust(_) => {
                assert!(data_type.attributes.is_empty(), "{context}");
                (Value::Null, None)
            }
        };
        let interpreted = dynamic.write_options(&params, &json, now).unwrap();
        assert_eq!(D::tags(&key), interpreted.tags, "tags of {context}");
        assert_eq!(
            D::key_prefixes(&key),
            interpreted.prefixes,
            "key prefixes of {context}"
        );
        if let Some(value) = value {
            assert_eq!(
                D::attributes(&key, &value, now),
                interpreted.attributes,
                "attributes of {context} and value {json}"
            );
        }
    }
}

/// Compares the object keys of document type `D` both ways: what the generated code
/// writes, the CLI reads back as the same parameters, and so does the generated code.
fn check_documents<D>(model: &CacheModel, key: impl Fn(&Params) -> D::Key)
where
    D: DocumentType,
    D::Key: PartialEq + std::fmt::Debug,
{
    let data_type = model.data_type_named(D::NAME).unwrap();
    let document = data_type.document.as_ref().expect("a document type");
    let dynamic = DynamicType::new(data_type);
    let mut random = Random::new(D::NAME);
    for _ in 0..CASES {
        let params: Params = data_type
            .params
            .iter()
            .map(|param| (param.name.clone(), random.param(&param.ty)))
            .collect();
        let key = key(&params);
        let object_key = D::object_key(&key);
        assert_eq!(
            dynamic.parse_object_key(document, &object_key),
            Ok(params.clone()),
            "{object_key}"
        );
        assert_eq!(D::parse_object_key(&object_key), Some(key), "{object_key}");
    }
}

fn example(name: &str) -> CacheModel {
    examples()
        .into_iter()
        .find(|(example, _)| example == name)
        .unwrap_or_else(|| panic!("no example {name}"))
        .1
        .model
}

#[test]
fn every_kind_of_template_part_renders_alike() {
    use templates::*;
    let model = cachegen_compiler::Project::load(
        workspace_root().join("tests/fixtures/templates.cache.yaml"),
    )
    .unwrap()
    .model;
    check::<RecordType>(
        &model,
        key!(RecordKey {
            tenant,
            id,
            flag,
            delta
        }),
    );
    check::<FileType>(&model, key!(FileKey { owner, n }));
    check_documents::<FileType>(&model, key!(FileKey { owner, n }));
    check::<SingletonType>(&model, key!(SingletonKey {}));
    check_documents::<SingletonType>(&model, key!(SingletonKey {}));
}

#[test]
fn the_examples_render_alike() {
    {
        use change_notifier_cache::*;
        let model = example("change-metadata");
        check::<ChangeType>(&model, key!(ChangeKey { change_id }));
        check_documents::<ChangeType>(&model, key!(ChangeKey { change_id }));
        check::<AnnouncementType>(&model, key!(AnnouncementKey { announcement_id }));
        check_documents::<AnnouncementType>(&model, key!(AnnouncementKey { announcement_id }));
    }
    {
        use discord_bot_cache::*;
        let model = example("discord-cache");
        check::<UserGuildsType>(&model, key!(UserGuildsKey { user_key }));
        check::<BotGuildsType>(&model, key!(BotGuildsKey {}));
        check::<GuildChannelsType>(&model, key!(GuildChannelsKey { guild_id }));
        check::<GuildRolesType>(&model, key!(GuildRolesKey { guild_id }));
        check::<GuildMemberType>(&model, key!(GuildMemberKey { guild_id, user_id }));
    }
    {
        use drs_orchestration_cache::*;
        let model = example("drs-query-cache");
        check::<DrsQuotasType>(&model, key!(DrsQuotasKey { region, account_id }));
        check::<DrsSourceServersType>(&model, key!(DrsSourceServersKey { region, account_id }));
        check::<DrsAccountsType>(&model, key!(DrsAccountsKey { region, account_id }));
        check::<Ec2SubnetsType>(&model, key!(Ec2SubnetsKey { region, account_id }));
        check::<Ec2SecurityGroupsType>(&model, key!(Ec2SecurityGroupsKey { region, account_id }));
        check::<Ec2InstanceProfilesType>(
            &model,
            key!(Ec2InstanceProfilesKey { region, account_id }),
        );
        check::<Ec2InstanceTypesType>(&model, key!(Ec2InstanceTypesKey { region, account_id }));
    }
    {
        use glasswork_app_cache::*;
        let model = example("framework-cache");
        check::<UserType>(&model, key!(UserKey { id }));
        check::<UserListType>(&model, key!(UserListKey {}));
        check::<FeatureFlagsType>(&model, key!(FeatureFlagsKey {}));
    }
    {
        use telegram_vps_bot_cache::*;
        let model = example("server-provider-map");
        check::<ServerProviderType>(&model, key!(ServerProviderKey { server_name }));
    }
    {
        use sessions_api_cache::*;
        let model = example("valkey-sessions");
        check::<SessionType>(&model, key!(SessionKey { session_id }));
        check::<FeatureFlagsType>(&model, key!(FeatureFlagsKey { tenant }));
    }
}

#[test]
fn every_data_type_of_the_examples_is_compared() {
    let compared = 2 + 5 + 7 + 3 + 1 + 2;
    let declared: usize = examples()
        .iter()
        .map(|(_, project)| project.model.data_types.len())
        .sum();
    assert_eq!(
        declared, compared,
        "a data type was added to an example: compare it in the_examples_render_alike"
    );
}

#[tokio::test]
async fn prefix_invalidation_reaches_exactly_the_keys_it_names() {
    use templates::{Record, RecordKey};
    let cache = templates::Cache::from_lookup(None, |_| None).await.unwrap();
    let records = cache.record();
    let key = |tenant: &str, id: u64| RecordKey {
        tenant: tenant.into(),
        id,
        flag: true,
        delta: -1,
    };
    let value = Record {
        title: "t".into(),
        score: 1.0,
        count: 1,
        done: false,
        note: None,
    };
    let keys = [key("a#b", 1), key("a#b", 2), key("a", 1), key("a#b/1", 1)];
    for key in &keys {
        records.set(key, &value).await.unwrap();
    }
    let cached = async || {
        let mut cached = Vec::new();
        for key in &keys {
            cached.push(records.get(key).await.unwrap().is_some());
        }
        cached
    };
    assert_eq!(cached().await, [true, true, true, true]);
    records.invalidate_by_tenant_and_id("a#b", 1).await.unwrap();
    assert_eq!(cached().await, [false, true, true, true]);
    records.invalidate_by_tenant("a#b").await.unwrap();
    assert_eq!(cached().await, [false, false, true, true]);
}

/// What the generated Rust code of data type `D` builds for random parameters: each case
/// the data type's name, its parameters (type and canonical text), key, tags and key
/// prefixes.
fn rust_cases<D: DataType>(model: &CacheModel, key: impl Fn(&Params) -> D::Key) -> Vec<Value> {
    let data_type = model.data_type_named(D::NAME).unwrap();
    let mut random = Random::new(D::NAME);
    (0..CASES)
        .map(|case| {
            let values: Vec<(String, String)> = data_type
                .params
                .iter()
                .map(|param| (param.name.clone(), random.param(&param.ty)))
                .collect();
            // Every other case leaves the parameters that have a default out, as a caller
            // may: the key builders then use the default, as the Rust `new` does.
            let omitted = |name: &str| {
                case % 2 == 1
                    && data_type
                        .param_defaults
                        .iter()
                        .any(|default| default.name == name)
            };
            let params: serde_json::Map<String, Value> = data_type
                .params
                .iter()
                .zip(&values)
                .filter(|(param, _)| !omitted(&param.name))
                .map(|(param, (name, value))| {
                    (
                        name.clone(),
                        json!({ "type": param.ty.to_string(), "value": value }),
                    )
                })
                .collect();
            let canonical: Params = values
                .into_iter()
                .map(|(name, value)| {
                    let default = data_type.param_defaults.iter().find(|d| d.name == name);
                    match default {
                        Some(default) if omitted(&name) => (name, default.value.clone()),
                        _ => (name, value),
                    }
                })
                .collect();
            let key = key(&canonical);
            let (partition, sort) = typescript::key_parts(&D::key(&key));
            json!({
                "data_type": D::NAME,
                "params": params,
                "key": partition,
                "sort_key": sort,
                "tags": D::tags(&key),
                "prefixes": D::key_prefixes(&key),
            })
        })
        .collect()
}

/// Runs the TypeScript module `module` over `cases` and checks it builds what the Rust
/// code does.
fn check_typescript(module: &Path, cases: &[Value]) {
    let built = typescript::build_keys(module, cases).unwrap_or_else(|problem| panic!("{problem}"));
    for (case, built) in cases.iter().zip(&built) {
        for part in typescript::PARTS {
            assert_eq!(
                built[part], case[part],
                "{part} of {} with {}",
                case["data_type"], case["params"]
            );
        }
    }
}

#[test]
fn the_typescript_template_builds_the_keys_the_rust_code_does() {
    use templates::*;
    let spec = workspace_root().join("tests/fixtures/templates.cache.yaml");
    let model = cachegen_compiler::Project::load(&spec).unwrap().model;
    let template = workspace_root().join("templates/typescript.ts.tera");
    let text = std::fs::read_to_string(&template).unwrap();
    let source =
        cachegen_compiler::diagnostics::SourceFile::new(template.display().to_string(), text);
    let module =
        cachegen_compiler::emit::templates::render(&model, "templates.cache.yaml", &source)
            .unwrap_or_else(|err| panic!("{err}"));
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("zoo.ts");
    std::fs::write(&path, module).unwrap();
    let mut cases = rust_cases::<RecordType>(
        &model,
        key!(RecordKey {
            tenant,
            id,
            flag,
            delta
        }),
    );
    cases.extend(rust_cases::<FileType>(&model, key!(FileKey { owner, n })));
    cases.extend(rust_cases::<SingletonType>(&model, key!(SingletonKey {})));
    check_typescript(&path, &cases);
}

#[test]
fn the_typescript_template_builds_the_sort_keys_the_rust_code_does() {
    use sort_key_parameters::*;
    let spec = workspace_root().join("tests/fixtures/sort_key_parameters.cache.yaml");
    let model = cachegen_compiler::Project::load(&spec).unwrap().model;
    let template = workspace_root().join("templates/typescript.ts.tera");
    let text = std::fs::read_to_string(&template).unwrap();
    let source =
        cachegen_compiler::diagnostics::SourceFile::new(template.display().to_string(), text);
    let module = cachegen_compiler::emit::templates::render(
        &model,
        "sort_key_parameters.cache.yaml",
        &source,
    )
    .unwrap_or_else(|err| panic!("{err}"));
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("sorted.ts");
    std::fs::write(&path, module).unwrap();
    let mut cases = rust_cases::<OrderType>(&model, key!(OrderKey { user }));
    cases.extend(rust_cases::<OrderLineType>(
        &model,
        key!(OrderLineKey { order, line }),
    ));
    cases.extend(rust_cases::<OrderMetaType>(
        &model,
        key!(OrderMetaKey { order }),
    ));
    cases.extend(rust_cases::<VersionType>(
        &model,
        key!(VersionKey { id, n }),
    ));
    assert!(cases.iter().all(|case| case["sort_key"].is_string()));
    check_typescript(&path, &cases);
}

#[test]
fn the_examples_typescript_modules_build_the_keys_their_rust_crates_do() {
    {
        use discord_bot_cache::*;
        let model = example("discord-cache");
        let mut cases = rust_cases::<UserGuildsType>(&model, key!(UserGuildsKey { user_key }));
        cases.extend(rust_cases::<BotGuildsType>(&model, key!(BotGuildsKey {})));
        cases.extend(rust_cases::<GuildChannelsType>(
            &model,
            key!(GuildChannelsKey { guild_id }),
        ));
        cases.extend(rust_cases::<GuildRolesType>(
            &model,
            key!(GuildRolesKey { guild_id }),
        ));
        cases.extend(rust_cases::<GuildMemberType>(
            &model,
            key!(GuildMemberKey { guild_id, user_id }),
        ));
        let module = workspace_root().join("examples/discord-cache/generated/typescript/cache.ts");
        check_typescript(&module, &cases);
    }
    {
        use glasswork_app_cache::*;
        let model = example("framework-cache");
        let mut cases = rust_cases::<UserType>(&model, key!(UserKey { id }));
        cases.extend(rust_cases::<UserListType>(&model, key!(UserListKey {})));
        cases.extend(rust_cases::<FeatureFlagsType>(
            &model,
            key!(FeatureFlagsKey {}),
        ));
        let module =
            workspace_root().join("examples/framework-cache/generated/typescript/cache.ts");
        check_typescript(&module, &cases);
    }
}
