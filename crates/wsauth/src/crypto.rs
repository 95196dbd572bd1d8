//! The signature backend, installed explicitly.
//!
//! jsonwebtoken infers its backend from its own cargo features; with both
//! `aws_lc_rs` and `rust_crypto` on (another crate in the build may enable the
//! second one) it cannot, and every signature or verification would panic.
//! Features are additive, so that combination can arrive without anyone
//! asking for it: wsauth therefore installs the aws-lc-rs provider itself
//! before its first signature, unless the application installed one already.

use std::sync::Once;

/// Makes sure jsonwebtoken has a process-wide provider. Cheap after the first call.
pub(crate) fn ensure_provider() {
    static INSTALL: Once = Once::new();
    INSTALL.call_once(|| {
        // An `Err` means a provider is installed already (the application's): keep it.
        let _ = jsonwebtoken::crypto::aws_lc::DEFAULT_PROVIDER.install_default();
    });
}
