//! Profile reads on the search path: resolving a visitor and scoring affinities in place.
//! The store holds 100,000 profiles of about 44 affinities each; every iteration checks the
//! score it read against one computed before timing.

use std::sync::Arc;

use criterion::{Criterion, criterion_group, criterion_main};

use attune::Config;
use attune::profiles::event::Event;
use attune::profiles::profile::secs;
use attune::profiles::synthetic::SyntheticCatalog;
use attune::profiles::{Entry, ProfileStore, now_ms};

fn bench_profile_read(c: &mut Criterion) {
    let store = ProfileStore::new(Config::default().profiles, Arc::new(SyntheticCatalog));
    let now = now_ms();
    let mut seq = 0;
    for v in 0..100_000u64 {
        for e in 0..30u64 {
            seq += 1;
            let json = serde_json::json!({"type": "view", "visitor_id": format!("v{v}"),
                "product_id": format!("p{}", (v * 31 + e * 977) % 100_000), "timestamp": now - 1000});
            store.apply(
                seq,
                &Entry::Event {
                    event: Event::from_json(json, now).expect("event"),
                },
            );
        }
    }
    let hl = store.config().half_life_ms / 1000.0;
    let at = secs(now);
    let visitor = "v4242";
    let category = store
        .with(visitor, |p| p.categories.0[0].0)
        .expect("a category the visitor saw");
    let expected = store
        .with(visitor, |p| p.categories.score(category, at, hl))
        .expect("profile");
    assert!(expected > 0.0);
    c.bench_function("profile_read/resolve_and_score_one_category", |b| {
        b.iter(|| {
            let score = store.with(visitor, |p| p.categories.score(category, at, hl));
            assert_eq!(score, Some(expected));
        })
    });
    c.bench_function("profile_read/unknown_visitor", |b| {
        b.iter(|| assert!(store.with("nobody", |p| p.counters.events).is_none()))
    });
}

criterion_group!(benches, bench_profile_read);
criterion_main!(benches);
