//! The hit fields of every product of a segment, kept in memory.
//!
//! A page of hits used to be read from tantivy's document store: each hit meant finding its
//! block in the store's skip index, taking the decompressed block from the store's cache (or
//! decompressing it), reading the document out of it and parsing its JSON; about a tenth of
//! a search. A segment never changes, so its hit fields are read and parsed once, in store
//! order: their text goes into one string, and a hit is a set of slices of it. They take
//! about what they take on disk uncompressed (a few hundred bytes a product).

use std::borrow::Cow;
use std::sync::Arc;

use tantivy::index::SegmentId;
use tantivy::{DocAddress, DocId, Searcher, SearcherGeneration, SegmentReader, Warmer};

use super::query::surface::SurfaceWords;
use super::snapshot::Memo;
use crate::index::schema::{HitBytes, StoredHit};

/// Where a piece of text lies in a table's text.
#[derive(Clone, Copy)]
struct Span {
    start: u32,
    end: u32,
}

/// One document's hit fields.
struct Packed {
    id: Span,
    title: Span,
    brand: Option<Span>,
    /// The category path: `categories[first..first + levels]`.
    category: (u32, u32),
    price: Option<f64>,
    image_url: Option<Span>,
    url: Option<Span>,
    currency: Option<Span>,
    in_stock: Option<bool>,
    rating: Option<f64>,
    review_count: Option<u64>,
    /// The attributes: `attributes[first..first + n]`, (name, value) pairs, a name repeated
    /// for each of its values.
    attributes: (u32, u32),
}

/// The hit fields of one segment's documents, deleted ones included, by document id.
pub struct HitTable {
    text: String,
    categories: Vec<Span>,
    attributes: Vec<(Span, Span)>,
    docs: Vec<Packed>,
    /// The words of their names as written, for search-as-you-type.
    surface: SurfaceWords,
}

impl HitTable {
    /// Reads every document's hit fields from the segment's store.
    pub fn read(segment: &SegmentReader) -> crate::Result<HitTable> {
        let mut table = HitTable {
            text: String::new(),
            categories: Vec::new(),
            attributes: Vec::new(),
            docs: Vec::with_capacity(segment.max_doc() as usize),
            surface: SurfaceWords::default(),
        };
        // One block decompressed at a time: the documents come in store order.
        let store = segment
            .get_store_reader(1)
            .map_err(tantivy::TantivyError::from)?;
        for stored in store.iter::<HitBytes>(None) {
            let stored = stored?;
            let packed = table.pack(&stored.parse()?)?;
            table.docs.push(packed);
        }
        table.text.shrink_to_fit();
        table.categories.shrink_to_fit();
        table.attributes.shrink_to_fit();
        table.surface = table.surface_words();
        Ok(table)
    }

    /// The words of each document's title, brand and category names, folded as queries are.
    fn surface_words(&self) -> SurfaceWords {
        let mut analyzer = crate::text::Analyzer::new(crate::text::Lang::ENGLISH);
        SurfaceWords::of(self.docs.iter().map(|doc| {
            let (first, levels) = doc.category;
            let categories = &self.categories[first as usize..(first + levels) as usize];
            let names = std::iter::once(doc.title)
                .chain(doc.brand)
                .chain(categories.iter().copied());
            names
                .flat_map(|span| analyzer.folded(self.str(span)))
                .collect()
        }))
    }

    /// The words of the segment's product names as written.
    pub fn surface(&self) -> &SurfaceWords {
        &self.surface
    }

    fn pack(&mut self, hit: &StoredHit<'_>) -> crate::Result<Packed> {
        let first = offset(self.categories.len())?;
        for level in &hit.category {
            let span = self.push(level)?;
            self.categories.push(span);
        }
        let first_attribute = offset(self.attributes.len())?;
        for (name, values) in &hit.attributes {
            let name = self.push(name)?;
            for value in values {
                let value = self.push(value)?;
                self.attributes.push((name, value));
            }
        }
        let attributes = offset(self.attributes.len())? - first_attribute;
        Ok(Packed {
            id: self.push(&hit.id)?,
            title: self.push(&hit.title)?,
            brand: hit.brand.as_deref().map(|b| self.push(b)).transpose()?,
            category: (first, offset(hit.category.len())?),
            price: hit.price,
            image_url: hit.image_url.as_deref().map(|u| self.push(u)).transpose()?,
            url: hit.url.as_deref().map(|u| self.push(u)).transpose()?,
            currency: hit.currency.as_deref().map(|c| self.push(c)).transpose()?,
            in_stock: hit.in_stock,
            rating: hit.rating,
            review_count: hit.review_count,
            attributes: (first_attribute, attributes),
        })
    }

    fn push(&mut self, text: &str) -> crate::Result<Span> {
        let start = offset(self.text.len())?;
        self.text.push_str(text);
        Ok(Span {
            start,
            end: offset(self.text.len())?,
        })
    }

    fn str(&self, span: Span) -> &str {
        &self.text[span.start as usize..span.end as usize]
    }

    /// The hit fields of `doc`; an error when the segment has no such document.
    pub fn hit(&self, doc: DocId) -> crate::Result<StoredHit<'_>> {
        self.get(doc).ok_or_else(|| {
            crate::Error::Internal(format!("no stored hit for document {doc} of its segment"))
        })
    }

    /// The hit fields of `doc`.
    pub fn get(&self, doc: DocId) -> Option<StoredHit<'_>> {
        let packed = self.docs.get(doc as usize)?;
        let text = |span: Span| Cow::Borrowed(self.str(span));
        let (first, levels) = packed.category;
        let category = &self.categories[first as usize..(first + levels) as usize];
        let (first, n) = packed.attributes;
        let mut attributes: std::collections::BTreeMap<String, Vec<String>> = Default::default();
        for (name, value) in &self.attributes[first as usize..(first + n) as usize] {
            let values = attributes.entry(self.str(*name).to_string()).or_default();
            values.push(self.str(*value).to_string());
        }
        Some(StoredHit {
            id: text(packed.id),
            title: text(packed.title),
            brand: packed.brand.map(text),
            category: category.iter().map(|s| self.str(*s).to_string()).collect(),
            price: packed.price,
            image_url: packed.image_url.map(text),
            url: packed.url.map(text),
            currency: packed.currency.map(text),
            in_stock: packed.in_stock,
            rating: packed.rating,
            review_count: packed.review_count,
            attributes,
        })
    }
}

/// A position in a table, which holds at most 4 GiB of text.
fn offset(n: usize) -> crate::Result<u32> {
    u32::try_from(n)
        .map_err(|_| crate::Error::Internal("a segment's hit text exceeds 4 GiB".into()))
}

/// The hit tables of an index's segments: each read when a reload brings its segment in
/// ([`Warmer::warm`]), or else the first time a page shows one of its products; forgotten
/// once no searcher holds the segment ([`Warmer::garbage_collect`]).
#[derive(Default)]
pub struct HitTables(Memo<SegmentId, Arc<HitTable>, 256>);

impl HitTables {
    /// What the memo holds and how often it answered.
    pub fn stats(&self) -> crate::cache::CacheStats {
        self.0.stats("hit_tables")
    }

    /// The table of `segment`.
    pub fn of(&self, segment: &SegmentReader) -> crate::Result<Arc<HitTable>> {
        self.0.get_or_try(segment.segment_id(), || {
            HitTable::read(segment).map(Arc::new)
        })
    }

    /// What a hit shows of the product at `address`, handed to `show`.
    pub fn show<T>(
        &self,
        searcher: &Searcher,
        address: DocAddress,
        show: impl FnOnce(StoredHit<'_>) -> T,
    ) -> crate::Result<T> {
        let table = self.of(searcher.segment_reader(address.segment_ord))?;
        Ok(show(table.hit(address.doc_id)?))
    }
}

impl Warmer for HitTables {
    fn warm(&self, searcher: &Searcher) -> tantivy::Result<()> {
        super::snapshot::warm_segments(searcher, "hit table", |segment| self.of(segment));
        Ok(())
    }

    fn garbage_collect(&self, live: &[&SearcherGeneration]) {
        self.0.retain_live(live);
    }
}

impl std::fmt::Debug for HitTables {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("HitTables")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::Product;
    use crate::index::writer::WriterConfig;
    use crate::search::SearchIndex;

    fn product(i: usize, title: &str) -> Product {
        let json = serde_json::json!({"id": format!("p{i}"), "title": title,
            "brand": if i % 2 == 0 { "Acme" } else { "Zed" }, "price": i,
            "url": format!("https://shop.example/p{i}"),
            "category": ["Home", format!("Lamps {}", i % 3)]});
        Product::from_json(json).unwrap()
    }

    /// An index with a segment per batch of products (and the deletions after them).
    fn index_of(batches: Vec<Vec<Product>>, deleted: &[&str]) -> (tempfile::TempDir, SearchIndex) {
        let dir = tempfile::tempdir().unwrap();
        let search = SearchIndex::open(
            dir.path(),
            WriterConfig::default(),
            &Default::default(),
            &Default::default(),
        )
        .unwrap();
        let index = search.products();
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        rt.block_on(async {
            for batch in batches {
                let ticket = index.begin();
                index.upsert(batch).await.unwrap();
                index.commit(ticket).await.unwrap();
            }
            let deleted = deleted.iter().map(|id| id.to_string()).collect();
            index.delete(deleted).await.unwrap();
        });
        (dir, search)
    }

    /// Every document of every segment, the deleted and the replaced ones too, shows in its
    /// table what the document store holds for it.
    #[test]
    fn a_segment_s_table_holds_what_the_store_holds_for_each_document() {
        let lamps = |ids: std::ops::Range<usize>| -> Vec<Product> {
            ids.map(|i| product(i, &format!("lamp number {i}")))
                .collect()
        };
        // Three segments, the last replacing one product, and a deletion.
        let batches = vec![lamps(0..40), lamps(40..45), vec![product(3, "a new lamp")]];
        let (_dir, index) = index_of(batches, &["p7"]);
        let searcher = index.searcher();
        let mut documents = 0;
        for (ord, segment) in searcher.segment_readers().iter().enumerate() {
            let table = index.hit_tables().of(segment).unwrap();
            for doc in 0..segment.max_doc() {
                let stored: HitBytes = searcher.doc(DocAddress::new(ord as u32, doc)).unwrap();
                let expected = serde_json::to_value(stored.parse().unwrap()).unwrap();
                let got = serde_json::to_value(table.get(doc).unwrap()).unwrap();
                assert_eq!(got, expected, "segment {ord} doc {doc}");
                documents += 1;
            }
            assert!(table.get(segment.max_doc()).is_none());
        }
        assert!(documents >= 44, "{documents} documents");
    }

    /// A commit's reload reads the tables of its new segments before any search shows them;
    /// the tables of segments no live searcher holds are forgotten, as are their facet
    /// dictionaries.
    #[test]
    fn commits_read_new_tables_and_dead_segments_tables_are_forgotten() {
        let batches = vec![
            vec![product(0, "lamp"), product(1, "mug")],
            vec![product(2, "cup")],
        ];
        let (_dir, index) = index_of(batches, &[]);
        let tables = index.hit_tables();
        let searcher = index.searcher();
        let live = searcher.segment_readers().len();
        assert!(live >= 1);
        assert_eq!(
            tables.0.kept(),
            live,
            "read at the reload, before any search"
        );

        tables.garbage_collect(&[searcher.generation()]);
        assert_eq!(tables.0.kept(), live, "the live segments' tables stay");
        tables.garbage_collect(&[]);
        assert_eq!(tables.0.kept(), 0, "no live searcher holds them");
        // So with the facet dictionaries derived from a segment (the commit's warm-up read
        // some of each segment's for the lexicon and the tiers).
        let facets = index.facet_paths();
        for segment in searcher.segment_readers() {
            facets.of(segment, "category").unwrap();
        }
        let kept = facets.kept();
        assert!(kept >= live, "{kept} dictionaries for {live} segments");
        facets.garbage_collect(&[searcher.generation()]);
        assert_eq!(facets.kept(), kept);
        facets.garbage_collect(&[]);
        assert_eq!(facets.kept(), 0);
        tables.warm(&searcher).unwrap();
        assert_eq!(tables.0.kept(), live);
    }
}
