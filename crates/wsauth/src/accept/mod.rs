//! What an application's own accept loop uses beside the guard: places
//! shared fairly among clients ([`ClientSlots`]: a total, and a share per
//! client, for connections or sockets waiting on something), and rates per
//! client address ([`AddressLimiter`]) or per connection ([`TokenBucket`]).
//! Each client is counted by its [`ClientKey`](crate::ClientKey) (an IPv6
//! client by its /64).
//!
//! ```
//! use wsauth::ClientKey;
//! use wsauth::accept::{AddressLimiter, ClientSlots, SlotsFull};
//!
//! let client = ClientKey::from(std::net::IpAddr::from([192, 0, 2, 1]));
//! // At most 1000 connections, 10 of them from one client.
//! let connections = ClientSlots::new(1000, 10);
//! let place = connections.try_acquire(Some(client)).expect("room for it");
//! assert_eq!(connections.in_use(), 1);
//! drop(place);
//! # let _ = SlotsFull::Total;
//! // 5 connections a second from one client, bursts of 10.
//! let rate = AddressLimiter::new(5.0, 10.0);
//! assert!(rate.check(client).is_ok());
//! ```

mod rate;
mod slots;

pub use rate::{AddressLimiter, TokenBucket};
pub use slots::{ClientSlot, ClientSlots, SlotsFull};
