//! The measurement group of a visitor, and the stable hash behind it.
//!
//! A leaf: profiles record each event's group, search reads it to leave the control group
//! unpersonalized, and the index stores the same hash as every product's tie-break.

use serde::{Deserialize, Serialize};

/// A stable 64-bit FNV-1a hash of an id. It must never change between versions: it places
/// visitors in groups, is stored in the index where it orders ties, and identifies orders in
/// profiles, so a std hasher (unspecified across releases) won't do.
pub fn stable_hash(id: &str) -> u64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in id.bytes() {
        hash ^= u64::from(byte);
        hash = hash.wrapping_mul(0x0100_0000_01b3);
    }
    hash
}

/// The measurement group of a visitor: a deterministic hash of the visitor id into 100
/// buckets; the first `control_share` buckets are the control group.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Group {
    /// Gets personalized results.
    Personalized,
    /// Always gets unpersonalized results (the baseline lift is measured against).
    Control,
}

impl Group {
    /// The group of a visitor id, with `control_share` percent of visitors in control.
    pub fn of(visitor_id: &str, control_share: u8) -> Group {
        // A hash fixed across versions, so a visitor never changes group with an upgrade.
        let bucket = stable_hash(visitor_id) % 100;
        if bucket < u64::from(control_share) {
            Group::Control
        } else {
            Group::Personalized
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_control_group_is_a_stable_share_of_visitors() {
        let control = (0..10_000)
            .filter(|i| Group::of(&format!("visitor-{i}"), 5) == Group::Control)
            .count();
        assert!(
            (400..=600).contains(&control),
            "{control} of 10000 in control"
        );
        assert_eq!(Group::of("v1", 5), Group::of("v1", 5));
        assert_eq!(Group::of("v1", 0), Group::Personalized);
        assert_eq!(Group::of("v1", 100), Group::Control);
    }

    #[test]
    fn the_hash_is_fnv_1a_forever() {
        // Stored in indexes and journals: a change would reorder ties and move visitors.
        assert_eq!(stable_hash(""), 0xcbf2_9ce4_8422_2325);
        assert_eq!(stable_hash("a"), 0xaf63_dc4c_8601_ec8c);
    }
}
