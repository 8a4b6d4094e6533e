//! The tantivy schema of the product index and the mapping from a [`Product`] to a document.
//!
//! Text fields carry BM25 statistics for ranking; keyword fields (`brand_key`, `attr_key`,
//! `category_key`) are lowercased copies for case-insensitive filters; facet fields keep the
//! merchant's spelling for display; fast fields feed filters, sorting and the ranking prior.

use tantivy::TantivyDocument;
use tantivy::schema::document::{DeserializeError, DocumentDeserialize, DocumentDeserializer};
use tantivy::schema::{
    FAST, Facet, FacetOptions, Field, INDEXED, IndexRecordOption, OwnedValue, STORED, STRING,
    Schema, TextFieldIndexing, TextOptions,
};

use crate::catalog::Product;
use crate::text::{self, ANALYZER, Analyzers};

/// Separates an attribute's name from its value in `attr_key` terms.
pub const ATTR_SEP: char = '\u{1f}';

/// Handles to every field of the product schema.
#[derive(Debug, Clone)]
pub struct Fields {
    /// Product id, raw, for lookups and deletes.
    pub id: Field,
    /// Stable hash of the id: the deterministic tie-break.
    pub tiebreak: Field,
    /// Canonical product JSON (stored only).
    pub source: Field,
    /// The fields a search hit shows, as compact JSON (stored only): hydrating a hit
    /// parses this instead of the whole product.
    pub hit: Field,
    /// Title text.
    pub title: Field,
    /// Brand text.
    pub brand_text: Field,
    /// Category path text.
    pub category_text: Field,
    /// Attribute values and tags as text.
    pub attrs_text: Field,
    /// Description text.
    pub description: Field,
    /// Every text field together, without frequencies: counts which query words a product
    /// has at all (the coverage bonus) with one posting list per word.
    pub all_text: Field,
    /// Category path facet, as given.
    pub category: Field,
    /// Category path facet, lowercased, for filters.
    pub category_key: Field,
    /// Brand facet, as given.
    pub brand: Field,
    /// Brand lowercased, for filters.
    pub brand_key: Field,
    /// Attribute facet `/name/value`, as given.
    pub attr: Field,
    /// Attribute `name\x1fvalue` lowercased, for filters.
    pub attr_key: Field,
    /// Price (fast, range-filterable).
    pub price: Field,
    /// In stock flag.
    pub in_stock: Field,
    /// Popularity score.
    pub popularity: Field,
    /// Rating.
    pub rating: Field,
    /// Creation time in epoch seconds.
    pub created_at: Field,
}

impl Fields {
    /// Builds the schema and returns it with the field handles.
    pub fn build() -> (Schema, Fields) {
        let mut b = Schema::builder();
        let text = TextOptions::default().set_indexing_options(
            TextFieldIndexing::default()
                .set_tokenizer(ANALYZER)
                .set_index_option(IndexRecordOption::WithFreqsAndPositions),
        );
        let fields = Fields {
            id: b.add_text_field("id", STRING),
            tiebreak: b.add_u64_field("tiebreak", FAST),
            source: b.add_bytes_field("source", STORED),
            hit: b.add_bytes_field("hit", STORED),
            title: b.add_text_field("title", text.clone()),
            brand_text: b.add_text_field("brand_text", text.clone()),
            category_text: b.add_text_field("category_text", text.clone()),
            attrs_text: b.add_text_field("attrs_text", text.clone()),
            description: b.add_text_field("description", text),
            all_text: b.add_text_field(
                "all_text",
                TextOptions::default().set_indexing_options(
                    TextFieldIndexing::default()
                        .set_tokenizer(ANALYZER)
                        .set_index_option(IndexRecordOption::Basic),
                ),
            ),
            category: b.add_facet_field("category", FacetOptions::default()),
            category_key: b.add_facet_field("category_key", FacetOptions::default()),
            brand: b.add_facet_field("brand", FacetOptions::default()),
            brand_key: b.add_text_field("brand_key", STRING),
            attr: b.add_facet_field("attr", FacetOptions::default()),
            attr_key: b.add_text_field("attr_key", STRING),
            price: b.add_f64_field("price", FAST | INDEXED),
            in_stock: b.add_bool_field("in_stock", FAST | INDEXED),
            popularity: b.add_f64_field("popularity", FAST),
            rating: b.add_f64_field("rating", FAST),
            created_at: b.add_i64_field("created_at", FAST),
        };
        (b.build(), fields)
    }

    /// Builds the tantivy document for a product, its text analysed in its language.
    pub fn document(&self, p: &Product, analyzers: &mut Analyzers) -> TantivyDocument {
        let default_lang = analyzers.default_lang();
        let analyzer = analyzers.for_product(p.lang.as_deref(), &p.title, p.description.as_deref());
        // Text in the default language goes through the fields' own analyzer, in tantivy's
        // indexing threads; only other languages are analysed here, ahead of time (doing it
        // here for every product made ingesting 46k products 2.3 times slower).
        let pre_tokenize = analyzer.lang() != default_lang;
        let mut doc = TantivyDocument::default();
        let mut add_text = |doc: &mut TantivyDocument, field: Field, text: &str| {
            if pre_tokenize {
                doc.add_pre_tokenized_text(field, analyzer.pre_tokenized(text));
            } else {
                doc.add_text(field, text);
            }
        };
        doc.add_text(self.id, &p.id);
        doc.add_u64(self.tiebreak, tiebreak(&p.id));
        // The hit fields are stored first: a hit is read without decoding the source after it.
        let hit = serde_json::to_vec(&StoredHit::of(p)).unwrap_or_default();
        doc.add_bytes(self.hit, &hit);
        let source = serde_json::to_vec(&p.to_json()).unwrap_or_default();
        doc.add_bytes(self.source, &source);
        add_text(&mut doc, self.title, &p.title);
        if let Some(brand) = &p.brand {
            add_text(&mut doc, self.brand_text, brand);
            doc.add_facet(self.brand, Facet::from_path([brand.as_str()]));
            doc.add_text(self.brand_key, text::keyword(brand));
        }
        if !p.category.is_empty() {
            add_text(&mut doc, self.category_text, &p.category.join(" "));
            doc.add_facet(self.category, Facet::from_path(p.category.iter()));
            let lower: Vec<String> = p.category.iter().map(|l| text::keyword(l)).collect();
            doc.add_facet(self.category_key, Facet::from_path(lower.iter()));
        }
        for (name, values) in &p.attributes {
            for value in values {
                add_text(&mut doc, self.attrs_text, value);
                doc.add_facet(self.attr, Facet::from_path([name.as_str(), value.as_str()]));
                doc.add_text(self.attr_key, attr_key(name, value));
            }
        }
        for tag in &p.tags {
            add_text(&mut doc, self.attrs_text, tag);
            doc.add_text(self.attr_key, attr_key("tags", tag));
        }
        if let Some(d) = &p.description {
            add_text(&mut doc, self.description, d);
        }
        for text in p.searchable_text() {
            add_text(&mut doc, self.all_text, text);
        }
        if let Some(price) = p.price {
            doc.add_f64(self.price, price);
        }
        doc.add_bool(self.in_stock, p.in_stock);
        if let Some(pop) = p.popularity {
            doc.add_f64(self.popularity, pop);
        }
        if let Some(r) = p.rating {
            doc.add_f64(self.rating, r);
        }
        if let Some((_, secs)) = p.created_at {
            doc.add_i64(self.created_at, secs);
        }
        doc
    }
}

/// The id of the `hit` field, fixed by the order [`Fields::build`] adds fields in (a test holds
/// them together): [`HitBytes`] reads a stored document without the schema at hand.
const HIT_FIELD_ID: u32 = 3;

/// The stored hit fields of a document, read up to them and no further: they are stored
/// before the full source (a product's whole JSON, several times larger), which tantivy
/// would otherwise decode byte by byte for every hit shown.
pub struct HitBytes(Vec<u8>);

impl HitBytes {
    /// The hit fields.
    pub fn parse(&self) -> crate::Result<StoredHit<'_>> {
        StoredHit::parse(&self.0)
    }
}

impl DocumentDeserialize for HitBytes {
    fn deserialize<'de, D>(mut doc: D) -> Result<Self, DeserializeError>
    where
        D: DocumentDeserializer<'de>,
    {
        // Indexes written before the hit came first store the source first: read past it.
        while let Some((field, value)) = doc.next_field::<OwnedValue>()? {
            if field.field_id() == HIT_FIELD_ID
                && let OwnedValue::Bytes(bytes) = value
            {
                return Ok(HitBytes(bytes));
            }
        }
        Err(DeserializeError::Custom(
            "document without stored hit fields".into(),
        ))
    }
}

/// What a search hit shows of a product, stored apart from the full product.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct StoredHit<'a> {
    /// Product id.
    #[serde(borrow)]
    pub id: std::borrow::Cow<'a, str>,
    /// Title.
    #[serde(borrow)]
    pub title: std::borrow::Cow<'a, str>,
    /// Brand.
    #[serde(borrow, default, skip_serializing_if = "Option::is_none")]
    pub brand: Option<std::borrow::Cow<'a, str>>,
    /// Category path.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub category: Vec<String>,
    /// Price.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub price: Option<f64>,
    /// Image address.
    #[serde(borrow, default, skip_serializing_if = "Option::is_none")]
    pub image_url: Option<std::borrow::Cow<'a, str>>,
    /// Product page address.
    #[serde(borrow, default, skip_serializing_if = "Option::is_none")]
    pub url: Option<std::borrow::Cow<'a, str>>,
    /// ISO 4217 currency of the price.
    #[serde(borrow, default, skip_serializing_if = "Option::is_none")]
    pub currency: Option<std::borrow::Cow<'a, str>>,
    /// Whether it can be bought now (None in hits stored before it was kept here).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub in_stock: Option<bool>,
    /// Average rating.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rating: Option<f64>,
    /// Number of reviews.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub review_count: Option<u64>,
    /// Attributes (sizes, colours…): name → values.
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub attributes: std::collections::BTreeMap<String, Vec<String>>,
}

impl<'a> StoredHit<'a> {
    /// The hit fields as stored ([`HitBytes`]).
    pub fn parse(bytes: &'a [u8]) -> crate::Result<StoredHit<'a>> {
        serde_json::from_slice(bytes)
            .map_err(|e| crate::Error::Internal(format!("corrupt stored hit: {e}")))
    }

    /// The hit fields of a product.
    pub fn of(p: &'a Product) -> StoredHit<'a> {
        StoredHit {
            id: p.id.as_str().into(),
            title: p.title.as_str().into(),
            brand: p.brand.as_deref().map(Into::into),
            category: p.category.clone(),
            price: p.price,
            image_url: p.image_url.as_deref().map(Into::into),
            url: p.url.as_deref().map(Into::into),
            currency: p.currency.as_deref().map(Into::into),
            in_stock: Some(p.in_stock),
            rating: p.rating,
            review_count: p.review_count,
            attributes: p.attributes.clone(),
        }
    }
}

/// The filter term for attribute `name` = `value` (case-insensitive).
pub fn attr_key(name: &str, value: &str) -> String {
    format!("{}{ATTR_SEP}{}", text::keyword(name), text::keyword(value))
}

/// The tie-break hash of a product id: the measurement group's stable hash, stored in the
/// index, so ties order the same way in every version.
pub fn tiebreak(id: &str) -> u64 {
    crate::group::stable_hash(id)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_hit_field_has_the_id_stored_documents_are_read_by() {
        let (_, fields) = Fields::build();
        assert_eq!(fields.hit.field_id(), HIT_FIELD_ID);
    }

    #[test]
    fn a_hit_is_read_whichever_order_its_fields_were_stored_in() {
        let (schema, fields) = Fields::build();
        let index = tantivy::Index::create_in_ram(schema);
        text::register(&index, text::Lang::ENGLISH);
        let mut writer: tantivy::IndexWriter = index.writer(15_000_000).unwrap();
        let hit = |id: &str| format!(r#"{{"id":"{id}","title":"Kettle {id}"}}"#);
        let source = |id: &str| format!(r#"{{"id":"{id}","title":"Kettle {id}","price":20}}"#);
        let mut hit_first = TantivyDocument::default();
        hit_first.add_bytes(fields.hit, hit("new").as_bytes());
        hit_first.add_bytes(fields.source, source("new").as_bytes());
        // As indexes written before the hit came first stored them.
        let mut source_first = TantivyDocument::default();
        source_first.add_bytes(fields.source, source("old").as_bytes());
        source_first.add_bytes(fields.hit, hit("old").as_bytes());
        writer.add_document(hit_first).unwrap();
        writer.add_document(source_first).unwrap();
        writer.commit().unwrap();
        let searcher = index.reader().unwrap().searcher();
        let titles: Vec<String> = (0..2)
            .map(|doc| {
                let stored: HitBytes = searcher.doc(tantivy::DocAddress::new(0, doc)).unwrap();
                let hit = stored.parse().unwrap();
                assert!(hit.price.is_none(), "the source was read as the hit");
                hit.title.into_owned()
            })
            .collect();
        assert_eq!(titles, ["Kettle new", "Kettle old"]);
    }

    #[test]
    fn the_tiebreak_hash_is_fixed() {
        // Known FNV-1a 64 values: changing the function would reorder ties in existing indexes.
        assert_eq!(tiebreak(""), 0xcbf29ce484222325);
        assert_eq!(tiebreak("a"), 0xaf63dc4c8601ec8c);
    }
}
