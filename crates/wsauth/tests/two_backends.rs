//! jsonwebtoken is built here with both of its signature backends (the
//! `rust_crypto` dev-dependency feature stands for another crate in an
//! application's build enabling it). jsonwebtoken cannot infer a provider
//! then and would panic on first use: wsauth installs its own, so issuing and
//! verifying still work, in a process where nobody installed anything.

use wsauth::{Algorithm, IssueOptions, Key, KeySet, TokenAuthority};

#[test]
fn signing_and_verifying_work_with_two_backends_linked() {
    for alg in [Algorithm::HS256, Algorithm::EdDSA, Algorithm::ES256] {
        let tokens = TokenAuthority::new(KeySet::new(Key::generate(alg).expect("key")));
        let issued = tokens.issue_access("alice", IssueOptions::default()).expect("issue");
        let claims = tokens.verify(&issued.token).expect("verify");
        assert_eq!(claims.sub, "alice", "{alg:?}");
    }
}
