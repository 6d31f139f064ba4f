//! Typed cache access generated at build time: `build.rs` writes the module of
//! `sessions.yaml` into OUT_DIR, and it is included here.

/// The generated module: one handle per data type of `sessions.yaml`.
pub mod sessions {
    include!(concat!(env!("OUT_DIR"), "/cache.rs"));
}

#[cfg(test)]
mod tests {
    use super::sessions::{Cache, Session, SessionKey};

    #[tokio::test]
    async fn the_module_built_by_build_rs_caches_values() {
        // No table env var is set: the cache runs on its in-process L1 alone.
        let cache = Cache::from_lookup(None, |_| None).await.unwrap();
        let key = SessionKey { id: "s-1".into() };
        let session = || async {
            Ok::<_, std::io::Error>(Session {
                user_id: "u-7".into(),
                expires_at: 1_767_225_600,
            })
        };
        let first = cache.session().wrap(&key, session).await.unwrap();
        let second = cache
            .session()
            .wrap(&key, || async { Err(std::io::Error::other("not called")) })
            .await
            .unwrap();
        assert_eq!(first.user_id, "u-7");
        assert_eq!(second, first);
    }
}
