//! Memory per profile: applies events to many visitors in-process and reports the growth of
//! the resident set divided by the number of profiles.
//!
//! Usage: `profile_memory [visitors, default 200000] [events per visitor, default 30]`.
//! Each visitor engages with products spread over 300 three-level categories, 120 brands and
//! 40 attribute values, so the profile's capped maps fill up as they would for active shoppers.

use std::sync::Arc;

use attune::Config;
use attune::profiles::event::Event;
use attune::profiles::synthetic::SyntheticCatalog;
use attune::profiles::{Entry, ProfileStore, now_ms};

fn rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1).and_then(|v| v.parse().ok()))
        })
        .unwrap_or(0)
}

fn main() {
    let args: Vec<u64> = std::env::args()
        .skip(1)
        .filter_map(|a| a.parse().ok())
        .collect();
    let visitors = args.first().copied().unwrap_or(200_000);
    let per_visitor = args.get(1).copied().unwrap_or(30);
    println!(
        "size of a profile record: {} bytes",
        std::mem::size_of::<attune::profiles::profile::Profile>()
    );
    let store = ProfileStore::new(Config::default().profiles, Arc::new(SyntheticCatalog));
    let before = rss_kib();
    let now = now_ms();
    let kinds = ["view", "view", "click", "add_to_cart", "view", "purchase"];
    let mut seq = 0;
    for v in 0..visitors {
        for e in 0..per_visitor {
            seq += 1;
            let product = format!("p{}", (v * 31 + e * 977) % 100_000);
            let kind = kinds[(e % kinds.len() as u64) as usize];
            let json = serde_json::json!({"type": kind, "visitor_id": format!("visitor-{v:08}"),
                "product_id": product, "order_id": format!("o{v}-{e}"), "timestamp": now - 1000 + e as i64});
            let event = Event::from_json(json, now).expect("valid event");
            store.apply(seq, &Entry::Event { event });
        }
    }
    let after = rss_kib();
    let per_profile = (after - before) as f64 * 1024.0 / visitors as f64;
    println!(
        "{visitors} profiles x {per_visitor} events: RSS +{} MiB, {per_profile:.0} bytes per profile",
        (after - before) / 1024
    );
}
