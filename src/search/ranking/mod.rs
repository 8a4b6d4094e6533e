//! Ranking: one collector pass over every match (text score × priors × price intent × the
//! visitor's personalization × rule boosts), the stages it applies and what they read.
//!
//! [`rank`] holds the ranker and the priors, [`collect`] the lazily bounded collector,
//! [`rerank`] the price intent and personalization stages, [`personalize`] a visitor's taste
//! and its signals (with [`ords`], a taste's values as each segment's ordinals), [`tiers`]
//! the price tiers of a snapshot, and [`merchandise`] what the merchandising rules do to a
//! search: filters, hides, boosts, buries and pins.

pub mod collect;
pub mod merchandise;
pub mod ords;
pub mod personalize;
pub mod rank;
pub mod rerank;
pub mod tiers;
