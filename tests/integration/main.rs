//! Integration tests: the real router over a real on-disk index, and the real binary on a port.

mod autocomplete;
mod catalog;
mod common;
mod crash;
mod deciding;
mod demo;
mod errors;
mod languages;
mod layers;
mod openapi;
mod personalization;
mod process;
mod recommendations;
mod rules;
mod search;
mod server;
mod syncs;
mod typing;
mod understanding;
mod visitors;
