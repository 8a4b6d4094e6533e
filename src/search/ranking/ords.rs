//! A taste's brands and attribute values as the ordinals of one segment, in tables built for
//! the lookup the re-ranker makes for every match.

use tantivy::SegmentReader;

use crate::search::facets::FacetPaths;

/// A taste's brands and attribute values as the ordinals of one segment: the taste names a
/// few, so they are turned into ordinals once per taste and segment (kept with the taste,
/// `Taste::ords_in`), and every other value is known to say nothing.
pub struct TasteOrds {
    /// The long-term and session affinities of the taste's brands, by ordinal.
    brands: OrdTable<(f32, f32)>,
    /// The affinities of the taste's attribute values, by ordinal.
    attributes: OrdTable<f32>,
}

impl TasteOrds {
    /// Ordinals of a taste that names no brand or attribute value.
    #[cfg(test)]
    pub fn none() -> TasteOrds {
        TasteOrds {
            brands: OrdTable::new(&[]),
            attributes: OrdTable::new(&[]),
        }
    }

    /// The ordinals in a segment of `brands` (lowercased, with their long-term and session
    /// affinities) and `attributes` (`name=value`, lowercased, with their affinities).
    pub fn build<'a>(
        reader: &SegmentReader,
        paths: &FacetPaths,
        brands: impl Iterator<Item = (&'a str, (f32, f32))>,
        attributes: impl Iterator<Item = (&'a str, f32)>,
    ) -> tantivy::Result<Self> {
        let by_brand = paths.brands_lowered(reader)?;
        let brands: Vec<(u32, (f32, f32))> = brands
            .flat_map(|(brand, value)| {
                let ords = by_brand.get(brand).into_iter().flatten();
                ords.map(move |&ord| (ord, value))
            })
            .collect();
        let by_value = paths.attributes_keyed(reader)?;
        let attributes: Vec<(u32, f32)> = attributes
            .flat_map(|(key, value)| {
                let ords = by_value.get(key).into_iter().flatten();
                ords.map(move |&ord| (ord, value))
            })
            .collect();
        Ok(TasteOrds {
            brands: OrdTable::new(&brands),
            attributes: OrdTable::new(&attributes),
        })
    }

    /// The long-term and session affinities of a brand ordinal the taste names.
    pub fn brand(&self, ord: u32) -> Option<(f32, f32)> {
        self.brands.get(ord)
    }

    /// Whether the taste names any attribute value here.
    pub fn has_attributes(&self) -> bool {
        !self.attributes.is_empty()
    }

    /// The affinity of an attribute value ordinal the taste names.
    pub fn attribute(&self, ord: u32) -> Option<f32> {
        self.attributes.get(ord)
    }
}

/// The values of a few ordinals (a taste's brands or attribute values in one segment), in a
/// small open-addressing table at most a quarter full, behind a bitmap of the ordinals it
/// holds: a product's values are looked up here for every match, and most are not in it,
/// which one bit tells (a binary search of the sorted values was a third of the stage's
/// time; a probe of the table per value, with parts' many attributes, still a fifth).
struct OrdTable<T> {
    /// (ordinal + 1, value); 0 marks an empty slot.
    slots: Vec<(u32, T)>,
    shift: u32,
    len: usize,
    /// Bit `ord` is set when the table holds `ord` (words up to the largest ordinal held).
    held: Vec<u64>,
}

impl<T: Copy + Default> OrdTable<T> {
    fn new(values: &[(u32, T)]) -> Self {
        let bits = (values.len() * 4)
            .next_power_of_two()
            .max(16)
            .trailing_zeros();
        let mut table = OrdTable {
            slots: vec![(0, T::default()); 1 << bits],
            shift: 32 - bits,
            len: 0,
            held: Vec::new(),
        };
        for &(ord, value) in values {
            let Some(key) = ord.checked_add(1) else {
                continue;
            };
            let mut i = table.home(ord);
            while table.slots[i].0 != 0 && table.slots[i].0 != key {
                i = (i + 1) & (table.slots.len() - 1);
            }
            if table.slots[i].0 == 0 {
                table.len += 1;
            }
            table.slots[i] = (key, value);
            let word = (ord >> 6) as usize;
            if table.held.len() <= word {
                table.held.resize(word + 1, 0);
            }
            table.held[word] |= 1 << (ord & 63);
        }
        table
    }

    fn home(&self, ord: u32) -> usize {
        (ord.wrapping_mul(0x9E37_79B9) >> self.shift) as usize
    }

    fn is_empty(&self) -> bool {
        self.len == 0
    }

    fn get(&self, ord: u32) -> Option<T> {
        let word = self.held.get((ord >> 6) as usize)?;
        if word & (1 << (ord & 63)) == 0 {
            return None;
        }
        let key = ord.checked_add(1)?;
        let mut i = self.home(ord);
        loop {
            match self.slots.get(i)? {
                (0, _) => return None,
                (k, value) if *k == key => return Some(*value),
                _ => i = (i + 1) & (self.slots.len() - 1),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        /// The table answers what a map of the same values answers, for ordinals in it and
        /// not (ordinals cluster in real segments: small ranges collide in the hash too).
        #[test]
        fn the_ordinal_table_answers_like_a_map(
            values in prop::collection::vec((0u32..200, -1.0f32..1.0), 0..40),
            probes in prop::collection::vec(0u32..220, 1..50),
        ) {
            let table = OrdTable::new(&values);
            let map: std::collections::HashMap<u32, f32> = values.iter().copied().collect();
            prop_assert_eq!(table.is_empty(), map.is_empty());
            for ord in probes.into_iter().chain(values.iter().map(|(o, _)| *o)).chain([u32::MAX]) {
                prop_assert_eq!(table.get(ord), map.get(&ord).copied());
            }
        }
    }
}
