//! Revocation lookups in the in-memory store, as every handshake does one.
//!
//! `cargo bench -p wsauth-bench --bench revocation`

use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};
use std::hint::black_box;
use wsauth::{
    Algorithm, Claims, IssueOptions, Key, KeySet, MemoryRevocationStore, RevocationStore,
    TokenAuthority,
};

fn claims_for(authority: &TokenAuthority, sub: &str) -> Claims {
    authority.issue_access(sub, IssueOptions::default()).expect("issue works").claims
}

fn is_revoked(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_current_thread().build().expect("runtime starts");
    let authority = TokenAuthority::new(KeySet::new(Key::generate(Algorithm::HS256).expect("key")));
    let mut group = c.benchmark_group("is_revoked");
    for entries in [0usize, 1_000, 100_000] {
        let store = MemoryRevocationStore::new();
        let mut revoked = None;
        rt.block_on(async {
            for i in 0..entries {
                let claims = claims_for(&authority, &format!("user-{i}"));
                store.revoke_token(&claims.jti, claims.exp).await.expect("revoke works");
                if i % 10 == 0 {
                    store
                        .revoke_subject_before(&claims.sub, claims.iat)
                        .await
                        .expect("revoke works");
                }
                revoked = Some(claims);
            }
        });
        let live = claims_for(&authority, "someone-else");
        group.bench_with_input(BenchmarkId::new("miss", entries), &live, |b, claims| {
            b.to_async(&rt).iter(|| async {
                store.is_revoked(black_box(claims)).await.expect("lookup works")
            });
        });
        if let Some(claims) = revoked {
            group.bench_with_input(BenchmarkId::new("hit", entries), &claims, |b, claims| {
                b.to_async(&rt).iter(|| async {
                    store.is_revoked(black_box(claims)).await.expect("lookup works")
                });
            });
        }
    }
    group.finish();
}

criterion_group!(benches, is_revoked);
criterion_main!(benches);
