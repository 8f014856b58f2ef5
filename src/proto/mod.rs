//! The protocol core: message model, parser, serializer, line codec,
//! casemapping, masks and the numerics table.
//!
//! Invariant: nothing here does I/O, uses tokio, or knows server state. These
//! are pure functions over bytes and strings, unit tested in place.

pub mod caps;
pub mod casemap;
pub mod codec;
pub mod line;
pub mod mask;
pub mod message;
pub mod modes;
pub mod numerics;
pub mod time;

pub use casemap::Casemapping;
pub use line::Line;
pub use message::Message;
