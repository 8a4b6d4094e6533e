//! The HTTP layer: thin handlers that turn requests into engine calls and results into JSON.
//!
//! Nothing here ranks, validates products or touches the index directly; errors become
//! responses in one place ([`error`]).

pub mod admin;
pub mod autocomplete;
pub mod error;
pub mod events;
pub mod extract;
pub mod health;
pub mod openapi;
pub mod products;
pub mod recommend;
pub mod router;
pub mod search;
pub mod serve;
pub mod syncs;
pub mod visitors;

pub use router::{ROUTES, router};
