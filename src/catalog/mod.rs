//! The catalog: the product model, its validation, streamed ingestion and full syncs.

pub mod ingest;
pub mod product;
pub mod sync;

pub use ingest::{BodyFormat, BodySplitter, ItemError, RawItem, parse_item};
pub use product::{Product, apply_patch};
