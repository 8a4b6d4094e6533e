//! A synthetic catalog for benchmarks and examples that exercise profiles without an index:
//! product `p<n>` sits in one of 300 three-level categories (10 departments, 60 aisles), has
//! one of 120 brands, 25 colours and 15 sizes, and a price from 0.99 to 499.99. Spread that
//! wide, a shopper's capped affinity lists fill up as an active shopper's would.

use super::FactsSource;
use super::profile::ProductFacts;

/// Facts of the synthetic products `p0`, `p1`, …
pub struct SyntheticCatalog;

impl FactsSource for SyntheticCatalog {
    fn facts(&self, id: &str) -> Option<ProductFacts> {
        let n: usize = id.strip_prefix('p')?.parse().ok()?;
        Some(ProductFacts {
            category: vec![
                format!("Department {}", n % 10),
                format!("Aisle {}", n % 60),
                format!("Shelf {}", n % 300),
            ],
            brand: Some(format!("Brand {}", n % 120)),
            attributes: vec![format!("color=c{}", n % 25), format!("size=s{}", n % 15)],
            price: Some((n % 500) as f64 + 0.99),
        })
    }
}
