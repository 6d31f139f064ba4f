//! The Redis part of the resource model: the ElastiCache Serverless cache a spec may have
//! the templates create, its parameters, outputs and consumer settings, and the dashboard
//! of a cache without tables.

use std::borrow::Cow;

use cachegen_names::env;

use super::alarms::Dashboard;
use super::dashboard;
use super::values::{Id, Output, Parameter, ParameterKind, Tag, Value, tags};
use crate::ir::{
    CacheModel, CreatedRedis, REDIS_SECURITY_GROUPS_PARAMETER, REDIS_SUBNETS_PARAMETER, RedisUrl,
};

/// The AWS-managed policy a created Lambda role also gets when the template creates a
/// Redis: the function must run in the cache's VPC to reach it.
pub const LAMBDA_VPC_ACCESS: &str = "service-role/AWSLambdaVPCAccessExecutionRole";

/// The longest a Redis endpoint value can be once deployed (a URL, with a host name of
/// at most 253 characters), characters.
pub(super) const MAX_URL_LENGTH: usize = "rediss://".len() + 253 + ":65535".len();

/// The longest an existing Redis's URL is taken to be: one endpoint with a user name and
/// an AUTH token of 128 characters each (ElastiCache's longest token), characters.
pub(super) const MAX_GIVEN_URL_LENGTH: usize = MAX_URL_LENGTH + 128 + ":".len() + 128 + "@".len();

/// An ElastiCache Serverless cache (Valkey or Redis OSS), always encrypted in transit and
/// at rest, in the subnets and security groups the deployer passes.
#[derive(Clone, Debug)]
pub struct RedisResource<'m> {
    /// Its names.
    pub id: Id,
    /// The cache, as validated.
    pub redis: &'m CreatedRedis,
    /// The spec's tags, then the fingerprint tag.
    pub tags: Vec<Tag<'m>>,
    /// The parameter listing its subnets.
    pub subnets: &'static str,
    /// The parameter listing its security groups.
    pub security_groups: &'static str,
}

impl<'m> RedisResource<'m> {
    /// The cache `model` has the template create, if any.
    pub fn of(model: &'m CacheModel) -> Option<Self> {
        let redis = model.store.redis()?.created.as_ref()?;
        Some(Self {
            id: Id {
                logical_id: redis.logical_id.clone(),
                terraform: "redis".to_owned(),
            },
            redis,
            tags: tags(&redis.tags, &model.fingerprint),
            subnets: REDIS_SUBNETS_PARAMETER,
            security_groups: REDIS_SECURITY_GROUPS_PARAMETER,
        })
    }

    /// Its endpoint's address and port, and the URL consumers connect to.
    pub fn outputs(&self) -> Vec<Output<'m>> {
        let (logical, terraform) = (&self.id.logical_id, &self.id.terraform);
        [
            (
                "Address",
                "address",
                "Host name of the Redis endpoint",
                Value::RedisAddress,
            ),
            (
                "Port",
                "port",
                "Port of the Redis endpoint",
                Value::RedisPort,
            ),
            (
                "Url",
                "url",
                "URL of the Redis (set it as REDIS_URL, with REDIS_CLUSTER=true)",
                Value::RedisUrl,
            ),
        ]
        .into_iter()
        .map(|(suffix, tf_suffix, description, value)| Output {
            id: Id {
                logical_id: format!("{logical}{suffix}"),
                terraform: format!("{terraform}_{tf_suffix}"),
            },
            description: description.to_owned(),
            value,
        })
        .collect()
    }
}

/// The parameters a Redis store takes: a created one's subnets and security groups, or an
/// existing one's URL when a parameter gives it.
pub(super) fn parameters(model: &CacheModel) -> Vec<Parameter<'_>> {
    let Some(redis) = model.store.redis() else {
        return Vec::new();
    };
    if let Some(RedisUrl::Parameter(name)) = &redis.url {
        return vec![Parameter {
            name,
            default: None,
            allowed: &[],
            description: Some(Cow::Borrowed(
                "URL of the Redis the cache keeps its shared entries in (rediss://...), given to every function as REDIS_URL",
            )),
            kind: ParameterKind::HiddenText,
            functions_only: true,
        }];
    }
    let Some(redis) = &redis.created else {
        return Vec::new();
    };
    let engine = redis.engine.elasticache_name();
    [
        (
            REDIS_SUBNETS_PARAMETER,
            ParameterKind::Subnets,
            format!(
                "Subnets the {engine} cache is reachable in (those of the consumers' functions)"
            ),
        ),
        (
            REDIS_SECURITY_GROUPS_PARAMETER,
            ParameterKind::SecurityGroups,
            format!("Security groups of the {engine} cache: allow TCP 6379 from the consumers"),
        ),
    ]
    .into_iter()
    .map(|(name, kind, description)| Parameter {
        name,
        default: None,
        allowed: &[],
        description: Some(Cow::Owned(description)),
        kind,
        functions_only: false,
    })
    .collect()
}

/// What each consumer's functions must be given for Redis: the created cache's URL or the
/// URL a parameter or secret gives, and `REDIS_CLUSTER=true` for a cluster. Otherwise an
/// existing Redis's URL is the consumers' to set.
pub(super) fn environment<'m>(
    model: &'m CacheModel,
    created: Option<&RedisResource<'m>>,
) -> Vec<(&'m str, Value<'m>)> {
    let Some(redis) = model.store.redis() else {
        return Vec::new();
    };
    let url = match (created, &redis.url) {
        (Some(_), _) => Some(Value::RedisUrl),
        (None, Some(url)) => Some(Value::GivenRedisUrl(url)),
        (None, None) => None,
    };
    url.map(|url| (env::REDIS_URL, url))
        .into_iter()
        .chain(
            redis
                .cluster
                .then(|| (env::REDIS_CLUSTER, Value::literal("true"))),
        )
        .collect()
}

/// The output naming the secret an existing Redis's URL is in (never the URL itself), so a
/// template declaring no function still tells its consumers where to find it.
pub(super) fn secret_output(model: &CacheModel) -> Option<Output<'_>> {
    let Some(RedisUrl::Secret { secret, key }) = &model.store.redis()?.url else {
        return None;
    };
    let of = key
        .as_ref()
        .map_or(String::new(), |key| format!(", under JSON key {key}"));
    Some(Output {
        id: Id {
            logical_id: "RedisUrlSecret".to_owned(),
            terraform: "redis_url_secret".to_owned(),
        },
        description: format!(
            "Secrets Manager secret holding the URL of the Redis{of} (set as REDIS_URL)"
        ),
        value: Value::name(secret),
    })
}

/// The dashboards of a cache without tables: `<stack>-cache` (`CacheDashboard`), then
/// `<stack>-cache-2`... for data types that do not fit on one.
pub(super) fn dashboards(model: &CacheModel) -> Vec<Dashboard<'_>> {
    let per_page = dashboard::data_types_per_dashboard(0, 0);
    let data_types: Vec<_> = model.data_types.iter().collect();
    let pages: Vec<&[_]> = data_types.chunks(per_page).collect();
    let count = pages.len();
    pages
        .into_iter()
        .enumerate()
        .map(|(index, page)| {
            let suffix = match index {
                0 => dashboard::NAME_SUFFIX.to_owned(),
                _ => format!("{}-{}", dashboard::NAME_SUFFIX, index + 1),
            };
            Dashboard {
                id: Id {
                    logical_id: match index {
                        0 => "CacheDashboard".to_owned(),
                        _ => format!("CacheDashboard{}", index + 1),
                    },
                    terraform: suffix.clone(),
                },
                name: Value::stack_prefixed(&suffix),
                contents: dashboard::Contents {
                    tables: Vec::new(),
                    data_types: page.to_vec(),
                    page: (index + 1, count),
                },
            }
        })
        .collect()
}
