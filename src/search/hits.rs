//! The hit fields of every product of a segment, kept in memory.
//!
//! A page of hits used to be read from tantivy's document store: each hit meant finding its
//! block in the store's skip index, taking the decompressed block from the store's cache (or
//! decompressing it) and reading the document out of it; about a tenth of a search. A
//! segment never changes, so its hit fields are read once, in store order, into one buffer,
//! and a hit is a slice of it. They cost about what they take on disk uncompressed (a few
//! hundred bytes a product).

use std::sync::Arc;

use tantivy::index::SegmentId;
use tantivy::{DocAddress, DocId, Searcher, SegmentReader};

use super::snapshot::Memo;
use crate::index::schema::{HitBytes, StoredHit};

/// The hit fields of one segment's documents, deleted ones included, by document id.
pub struct HitTable {
    bytes: Vec<u8>,
    /// `ends[doc]`: where document `doc`'s fields end in `bytes` (they start where the
    /// previous document's end).
    ends: Vec<usize>,
}

impl HitTable {
    /// Reads every document's hit fields from the segment's store.
    pub fn read(segment: &SegmentReader) -> tantivy::Result<HitTable> {
        // One block decompressed at a time: the documents come in store order.
        let store = segment.get_store_reader(1)?;
        let mut table = HitTable {
            bytes: Vec::new(),
            ends: Vec::with_capacity(segment.max_doc() as usize),
        };
        for hit in store.iter::<HitBytes>(None) {
            table.bytes.extend_from_slice(hit?.as_bytes());
            table.ends.push(table.bytes.len());
        }
        table.bytes.shrink_to_fit();
        Ok(table)
    }

    /// The stored hit fields of `doc`.
    pub fn get(&self, doc: DocId) -> Option<&[u8]> {
        let doc = doc as usize;
        let end = *self.ends.get(doc)?;
        let start = if doc == 0 { 0 } else { self.ends[doc - 1] };
        Some(&self.bytes[start..end])
    }
}

/// The hit tables of an index's segments, each read the first time a page shows one of the
/// segment's products.
#[derive(Default)]
pub struct HitTables(Memo<SegmentId, Arc<HitTable>, 256>);

impl HitTables {
    /// The table of `segment`.
    pub fn of(&self, segment: &SegmentReader) -> tantivy::Result<Arc<HitTable>> {
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
        let bytes = table.get(address.doc_id).ok_or_else(|| {
            crate::Error::Internal(format!("no stored hit for document {address:?}"))
        })?;
        Ok(show(StoredHit::parse(bytes)?))
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
    use crate::index::ProductIndex;
    use crate::index::writer::WriterConfig;

    /// Every document of every segment, the deleted and the replaced ones too, shows in its
    /// table what the document store holds for it.
    #[test]
    fn a_segment_s_table_holds_what_the_store_holds_for_each_document() {
        let dir = tempfile::tempdir().unwrap();
        let index = ProductIndex::open(dir.path(), WriterConfig::default()).unwrap();
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        let product = |i: usize, title: &str| {
            let json = serde_json::json!({"id": format!("p{i}"), "title": title,
                "brand": if i % 2 == 0 { "Acme" } else { "Zed" }, "price": i,
                "url": format!("https://shop.example/p{i}")});
            Product::from_json(json).unwrap()
        };
        rt.block_on(async {
            // Three commits: three segments, the last replacing one product and the
            // deletion removing another.
            for batch in [0..40, 40..45] {
                let ticket = index.begin();
                let products = batch.map(|i| product(i, &format!("lamp number {i}")));
                index.upsert(products.collect()).await.unwrap();
                index.commit(ticket).await.unwrap();
            }
            let ticket = index.begin();
            index.upsert(vec![product(3, "a new lamp")]).await.unwrap();
            index.commit(ticket).await.unwrap();
            index.delete(vec!["p7".into()]).await.unwrap();
        });
        let searcher = index.searcher();
        let mut documents = 0;
        for (ord, segment) in searcher.segment_readers().iter().enumerate() {
            let table = index.hit_tables().of(segment).unwrap();
            for doc in 0..segment.max_doc() {
                let stored: HitBytes = searcher.doc(DocAddress::new(ord as u32, doc)).unwrap();
                assert_eq!(
                    table.get(doc),
                    Some(stored.as_bytes()),
                    "segment {ord} doc {doc}"
                );
                documents += 1;
            }
            assert_eq!(table.get(segment.max_doc()), None);
        }
        assert!(documents >= 44, "{documents} documents");
    }
}
