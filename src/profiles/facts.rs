//! What profiles know of products: a cache in front of the catalog index.
//!
//! Events name products by id; learning affinities needs the product's category, brand,
//! attributes and price. Lookups go through this cache (a miss reads the index once); the
//! engine invalidates an id whenever the product is written, so a product that arrives after
//! its events is found on the next lookup.

use std::sync::Arc;

use super::FactsSource;
use super::profile::ProductFacts;
use crate::cache::{Bounded, CacheStats};
use crate::catalog::Product;
use crate::index::ProductIndex;

/// Product facts cached over the index, at most `cache.product_facts` of them.
pub struct FactsCache {
    index: Arc<ProductIndex>,
    cache: Bounded<String, Option<ProductFacts>>,
}

impl FactsCache {
    /// A cache of at most `capacity` products' facts over an index.
    pub fn new(index: Arc<ProductIndex>, capacity: usize) -> FactsCache {
        FactsCache {
            index,
            cache: Bounded::new(capacity),
        }
    }

    /// What the cache holds and how often an event found its product's facts kept.
    pub fn stats(&self) -> CacheStats {
        self.cache.stats("product_facts")
    }

    /// Forgets what is cached of a product (call after it is written or deleted).
    pub fn invalidate(&self, product_id: &str) {
        self.cache.remove(product_id);
    }

    /// Forgets everything (after a full catalog replace).
    pub fn clear(&self) {
        self.cache.clear();
    }
}

/// The facts of a product.
pub fn facts_of(p: &Product) -> ProductFacts {
    let mut attributes = Vec::new();
    for (name, values) in &p.attributes {
        for v in values {
            attributes.push(format!("{}={}", name.to_lowercase(), v.to_lowercase()));
        }
    }
    ProductFacts {
        category: p.category.clone(),
        brand: p.brand.clone(),
        attributes,
        price: p.price,
    }
}

impl FactsSource for FactsCache {
    fn facts(&self, product_id: &str) -> Option<ProductFacts> {
        if let Some(hit) = self.cache.get(product_id) {
            return hit;
        }
        let facts = match self.index.get(product_id) {
            Ok(found) => found.as_ref().map(facts_of),
            Err(e) => {
                tracing::warn!(error = %e, "cannot read a product for a profile");
                return None;
            }
        };
        self.cache.insert(product_id.to_string(), facts.clone());
        facts
    }
}
