//! What the nodes of a cluster share beyond the revocation and ticket
//! stores: a [`RevocationBus`] that carries each revocation to every node's
//! live sockets, and an [`AttemptLimiter`] whose budget holds across every
//! node. The library knows no transport; backend crates (for example
//! `wsauth-redis`) implement both. One process needs neither: the
//! in-process [`AddressLimiter`](crate::accept::AddressLimiter) is an
//! `AttemptLimiter` too.

mod attempts;
mod bus;

pub use attempts::{Admission, AttemptLimiter};
pub use bus::{BusState, RevocationBus};
