//! Per-type TTL env vars: each a name Lambda accepts, used by one data type alone and by
//! no table, bucket or runtime setting.

use cachegen_names::env;

use super::{Checker, names};
use crate::diagnostics::codes;
use crate::diagnostics::source::NodePath;
use crate::ir::{Bucket, DataType, Table};
use crate::spec;

impl Checker<'_> {
    /// The TTL env var `spec` names, checked as a name.
    pub(super) fn ttl_env(&mut self, path: &NodePath, spec: &spec::DataType) -> Option<String> {
        let var = spec.ttl_env.as_ref()?;
        self.check(
            codes::ENV_VAR,
            &path.key("ttl_env"),
            names::env_var_problem(var),
            "for example `CACHE_USER_TTL`",
        );
        Some(var.clone())
    }

    /// Reports each TTL env var that a runtime setting, a table, a bucket or an earlier
    /// data type uses already.
    pub(super) fn check_ttl_env_clashes(
        &mut self,
        tables: &[Table],
        buckets: &[Bucket],
        data_types: &[DataType],
    ) {
        for (position, data_type) in data_types.iter().enumerate() {
            let Some(var) = &data_type.ttl_env else {
                continue;
            };
            let runtime = env::ALL
                .contains(&var.as_str())
                .then(|| "the runtime's own setting".to_owned());
            let other = runtime
                .or_else(|| {
                    tables
                        .iter()
                        .find(|table| &table.env_var == var)
                        .map(|table| format!("table `{}`", table.name))
                })
                .or_else(|| {
                    buckets
                        .iter()
                        .find(|bucket| &bucket.env_var == var)
                        .map(|bucket| format!("bucket `{}`", bucket.name))
                })
                .or_else(|| {
                    data_types[..position]
                        .iter()
                        .find(|other| other.ttl_env.as_ref() == Some(var))
                        .map(|other| format!("the TTL of data type `{}`", other.name))
                });
            if let Some(other) = other {
                self.error(
                    codes::ENV_VAR_CLASH,
                    &NodePath::parse("data_types")
                        .key(data_type.name.as_str())
                        .key("ttl_env"),
                    format!(
                        "the TTL of data type `{}` and {other} both use the environment variable `{var}`",
                        data_type.name
                    ),
                    "give each data type's TTL a variable of its own, such as `CACHE_<TYPE>_TTL`",
                );
            }
        }
    }
}
