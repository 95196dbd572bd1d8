//! Token verification and issuing per algorithm (HS256, EdDSA, ES256, RS256).
//!
//! `cargo bench -p wsauth-bench --bench tokens`

use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};
use std::hint::black_box;
use wsauth::{Algorithm, IssueOptions, Key, KeySet, TokenAuthority};

const RSA_PEM: &[u8] = include_bytes!("fixtures/rs256-test-key.pem");

fn key(alg: Algorithm) -> Key {
    match alg {
        Algorithm::RS256 => Key::from_private_pem(alg, RSA_PEM).expect("fixture RSA key loads"),
        _ => Key::generate(alg).expect("key generation works"),
    }
}

const ALGORITHMS: [Algorithm; 4] =
    [Algorithm::HS256, Algorithm::EdDSA, Algorithm::ES256, Algorithm::RS256];

fn verify(c: &mut Criterion) {
    let mut group = c.benchmark_group("verify");
    for alg in ALGORITHMS {
        let authority = TokenAuthority::new(KeySet::new(key(alg)));
        let token =
            authority.issue_access("alice", IssueOptions::default()).expect("issue works").token;
        group.bench_with_input(BenchmarkId::from_parameter(alg.name()), &token, |b, t| {
            b.iter(|| authority.verify(black_box(t)).expect("token verifies"));
        });
    }
    // The cheapest rejection: a bad signature on an HS256 token.
    let authority = TokenAuthority::new(KeySet::new(key(Algorithm::HS256)));
    let mut forged =
        authority.issue_access("alice", IssueOptions::default()).expect("issue works").token;
    forged.truncate(forged.len() - 4);
    forged.push_str("AAAA");
    group.bench_function("HS256_bad_signature", |b| {
        b.iter(|| authority.verify(black_box(&forged)).is_err());
    });
    group.finish();
}

fn issue(c: &mut Criterion) {
    let mut group = c.benchmark_group("issue_access");
    for alg in ALGORITHMS {
        let authority = TokenAuthority::new(KeySet::new(key(alg)));
        group.bench_function(BenchmarkId::from_parameter(alg.name()), |b| {
            b.iter(|| {
                authority
                    .issue_access(black_box("alice"), IssueOptions::default())
                    .expect("issue works")
            });
        });
    }
    group.finish();
}

criterion_group!(benches, verify, issue);
criterion_main!(benches);
