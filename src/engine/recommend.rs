//! Recommendations, answered from the catalog, the profiles and search.

use std::collections::HashSet;
use std::sync::Arc;

use super::Engine;
use crate::catalog::Product;
use crate::error::{Error, Result};
use crate::group::Group;
use crate::profiles::related::Relation;
use crate::recommend::{self, Kind, RecommendRequest, Recommendations};
use crate::search::{self, PersonalizationEcho, SearchRequest};

impl Engine {
    /// Answers a recommendation request on the search threads.
    pub async fn recommend(self: &Arc<Self>, req: RecommendRequest) -> Result<Recommendations> {
        self.on_pool("recommend", move |engine| engine.recommend_now(&req))
            .await
    }

    /// Answers a recommendation request on the calling thread.
    pub fn recommend_now(&self, req: &RecommendRequest) -> Result<Recommendations> {
        if req.kind == Kind::Similar {
            // Its searches apply the rules themselves.
            return self.similar(req);
        }
        let hidden = self.hidden(req)?;
        match req.kind {
            Kind::Similar => self.similar(req),
            Kind::RecentlyViewed => self.recently_viewed(req, &hidden),
            Kind::AlsoViewed => self.neighbours(req, Relation::Viewed, &hidden),
            Kind::BoughtTogether | Kind::PostPurchase => {
                self.neighbours(req, Relation::Bought, &hidden)
            }
            Kind::Trending => self.trending(req, &hidden),
            Kind::ForYou => self.for_you(req, &hidden),
        }
    }

    /// A search run for a widget: the rules read it in the widget's placement.
    fn widget_search(
        &self,
        req: &RecommendRequest,
        pairs: Vec<(&str, String)>,
    ) -> Result<SearchRequest> {
        let pairs = pairs.into_iter().map(|(k, v)| (k.to_string(), v)).collect();
        let mut search = SearchRequest::from_pairs(pairs, &self.config().search)?;
        search.placement = Some(req.kind.name());
        Ok(search)
    }

    /// The neighbours of a product in a relation, by id, with their cosines.
    fn named_neighbours(&self, relation: Relation, id: &str) -> Vec<(String, f32)> {
        let symbols = self.profiles.symbols();
        let Some(sym) = symbols.get(id) else {
            return Vec::new();
        };
        (self
            .profiles
            .related()
            .neighbours(relation, sym)
            .into_iter())
        .map(|(n, cosine, _)| (symbols.name(n).to_string(), cosine))
        .collect()
    }

    /// The engine's clock in the seconds the related-products counts keep.
    fn now_secs(&self) -> u32 {
        crate::profiles::profile::secs(self.clock.now().unix_timestamp() * 1000)
    }

    /// The product's title searched within its category, then within each parent category
    /// and the whole catalog, until `limit` other products in stock are found.
    fn similar(&self, req: &RecommendRequest) -> Result<Recommendations> {
        let id = req.product_id.as_deref().unwrap_or_default();
        let product = self.product(id)?;
        let q = recommend::title_query(&product.title);
        let mut seen: HashSet<String> = HashSet::from([product.id.clone()]);
        let mut items = Vec::new();
        let mut echo = None;
        for depth in (0..=product.category.len()).rev() {
            if items.len() >= req.limit {
                break;
            }
            // Enough to fill the list after the products already in it (and this one).
            let wanted = (req.limit + seen.len()).min(recommend::MAX_LIMIT);
            let mut pairs = vec![
                ("q", q.clone()),
                ("in_stock", "true".to_string()),
                ("limit", wanted.to_string()),
                ("explain", req.explain.to_string()),
            ];
            if depth > 0 {
                pairs.push(("category", product.category[..depth].join(" > ")));
            }
            if let Some(visitor) = &req.visitor_id {
                pairs.push(("visitor_id", visitor.clone()));
            }
            let found = self.search_now(&self.widget_search(req, pairs)?)?;
            echo.get_or_insert(found.personalization);
            let fresh = found.hits.into_iter().filter(|h| seen.insert(h.id.clone()));
            items.extend(fresh.take(req.limit - items.len()));
        }
        Ok(Recommendations {
            kind: Kind::Similar,
            items,
            personalization: echo.unwrap_or_else(|| self.unpersonalized(req)),
        })
    }

    /// The neighbours of the products asked about in a relation, best first (their cosines
    /// added), in stock, without those products. For `post_purchase`, without the products
    /// in the category of one of them too, and what is trending (outside those categories)
    /// when they have no neighbours; otherwise the first product's `similar` items.
    fn neighbours(
        &self,
        req: &RecommendRequest,
        relation: Relation,
        hidden: &HashSet<String>,
    ) -> Result<Recommendations> {
        let asked = req.products();
        let mut categories = HashSet::new();
        for id in &asked {
            let product = self.product(id)?;
            if req.kind == Kind::PostPurchase && !product.category.is_empty() {
                categories.insert(product.category);
            }
        }
        let excluded: HashSet<String> = asked.iter().map(|id| id.to_string()).collect();
        let lists = (asked.iter()).map(|id| (1.0, self.named_neighbours(relation, id)));
        let ranked = recommend::blend(lists, &excluded);
        let hit = self.catalog_hits()?;
        let mut items = Vec::new();
        for (id, score) in ranked {
            if items.len() >= req.limit {
                break;
            }
            let Some(product) = self.in_stock(&id, hidden)? else {
                continue;
            };
            if categories.contains(&product.category) {
                continue;
            }
            items.push(hit(&product, f64::from(score)));
        }
        if items.is_empty() {
            // Nobody has paired them yet (new products): alternatives stand in, or for an
            // order what is trending apart from what it bought.
            let standing_in = if req.kind == Kind::PostPurchase {
                let wider = RecommendRequest {
                    limit: (req.limit + asked.len()).min(recommend::MAX_LIMIT),
                    ..req.clone()
                };
                let mut trending = self.trending(&wider, hidden)?;
                (trending.items)
                    .retain(|h| !excluded.contains(&h.id) && !categories.contains(&h.category));
                trending.items.truncate(req.limit);
                trending
            } else {
                self.similar(&RecommendRequest {
                    product_id: asked.first().map(|id| id.to_string()),
                    ..req.clone()
                })?
            };
            return Ok(Recommendations {
                kind: req.kind,
                ..standing_in
            });
        }
        Ok(Recommendations {
            kind: req.kind,
            items,
            personalization: self.unpersonalized(req),
        })
    }

    /// The products trending now, in stock, in the category asked for; the category page's
    /// first products (by popularity) when nothing has trended there.
    fn trending(
        &self,
        req: &RecommendRequest,
        hidden: &HashSet<String>,
    ) -> Result<Recommendations> {
        let symbols = self.profiles.symbols();
        let hit = self.catalog_hits()?;
        let within = |path: &[String]| {
            path.len() >= req.category.len()
                && (path.iter().zip(&req.category)).all(|(a, b)| a.eq_ignore_ascii_case(b))
        };
        let mut items = Vec::new();
        let trending =
            (self.profiles.related()).trending(self.now_secs(), recommend::TRENDING_CANDIDATES);
        for (product, score) in trending {
            if items.len() >= req.limit {
                break;
            }
            let id = symbols.name(product);
            if req.product_id.as_deref() == Some(&*id) {
                continue;
            }
            let Some(product) = self.in_stock(&id, hidden)?.filter(|p| within(&p.category)) else {
                continue;
            };
            items.push(hit(&product, f64::from(score)));
        }
        if items.is_empty() {
            let mut pairs = vec![
                ("q", String::new()),
                ("in_stock", "true".to_string()),
                ("limit", req.limit.to_string()),
            ];
            if !req.category.is_empty() {
                pairs.push(("category", req.category.join(" > ")));
            }
            items = self.search_now(&self.widget_search(req, pairs)?)?.hits;
        }
        Ok(Recommendations {
            kind: Kind::Trending,
            items,
            personalization: self.unpersonalized(req),
        })
    }

    /// What turns a catalog product into a hit of this snapshot's tiers, with a score.
    fn catalog_hits(&self) -> Result<impl Fn(&Product, f64) -> search::Hit + use<>> {
        let config = self.config();
        let tiers = self.search.tiers(&self.search.searcher(), &config.tiers)?;
        let names = config.tiers.clone();
        Ok(move |product: &Product, score: f64| {
            let tier = tiers.table.tier(&product.category, product.price);
            let mut hit = search::hit_of(product, names.name(tier).map(str::to_string));
            hit.score = score;
            hit
        })
    }

    /// The neighbours of what the visitor bought, carted and viewed, without those, at most a
    /// third of the list from one category; what is trending when they have none.
    fn for_you(&self, req: &RecommendRequest, hidden: &HashSet<String>) -> Result<Recommendations> {
        let visitor = req.visitor_id.as_deref().unwrap_or_default();
        let mut items = Vec::new();
        if let Some([bought, cart, viewed]) = self.profiles.lists(visitor) {
            let lists = [&bought[..], &cart[..], &viewed[..]];
            let excluded: HashSet<String> = lists.iter().flat_map(|l| l.iter().cloned()).collect();
            let symbols = self.profiles.symbols();
            let neighbours = (recommend::seeds(lists).into_iter())
                .map(|(id, relation, weight)| (weight, self.named_neighbours(relation, id)));
            // After the neighbours, what is trending: a customer's next purchase is often
            // what everyone buys now.
            let mut ranked = recommend::blend(neighbours, &excluded);
            let chosen: HashSet<String> = ranked.iter().map(|(id, _)| id.clone()).collect();
            let trending = (self.profiles.related())
                .trending(self.now_secs(), recommend::TRENDING_CANDIDATES)
                .into_iter()
                .map(|(sym, _)| symbols.name(sym).to_string())
                .filter(|id| !excluded.contains(id) && !chosen.contains(id))
                // After every neighbour, in trending order, scored 0: a trend is no cosine.
                .map(|id| (id, 0.0));
            ranked.extend(trending);
            let hit = self.catalog_hits()?;
            let per_category = req.limit.div_ceil(3).max(1);
            let mut in_category: std::collections::HashMap<Vec<String>, usize> = Default::default();
            for (id, score) in ranked {
                if items.len() >= req.limit {
                    break;
                }
                let Some(product) = self.in_stock(&id, hidden)? else {
                    continue;
                };
                // Products without a category are not diversified: nothing says they are alike.
                if !product.category.is_empty() {
                    let shown = in_category.entry(product.category.clone()).or_default();
                    if *shown >= per_category {
                        continue;
                    }
                    *shown += 1;
                }
                items.push(hit(&product, f64::from(score)));
            }
        }
        if items.is_empty() {
            let trending = self.trending(req, hidden)?;
            return Ok(Recommendations {
                kind: Kind::ForYou,
                ..trending
            });
        }
        Ok(Recommendations {
            kind: Kind::ForYou,
            items,
            personalization: self.unpersonalized(req),
        })
    }

    /// A product of the catalog that can be shown now (None: deleted since, out of stock, or
    /// hidden by a merchandising rule).
    fn in_stock(&self, id: &str, hidden: &HashSet<String>) -> Result<Option<Product>> {
        if hidden.contains(id) {
            return Ok(None);
        }
        match self.product(id) {
            Ok(product) if product.in_stock => Ok(Some(product)),
            Ok(_) | Err(Error::UnknownProduct(_)) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// The products the merchandising rules hide from this request: those of the rules that
    /// fire for it read as a category page (no words; its `category`, its visitor).
    fn hidden(&self, req: &RecommendRequest) -> Result<HashSet<String>> {
        let mut pairs = vec![("q", String::new())];
        if !req.category.is_empty() {
            pairs.push(("category", req.category.join(" > ")));
        }
        if let Some(visitor) = &req.visitor_id {
            pairs.push(("visitor_id", visitor.clone()));
        }
        let page = self.widget_search(req, pairs)?;
        let outcome = self.rules_for(&self.config(), &page, self.clock.now());
        Ok(outcome.hidden.into_iter().collect())
    }

    /// What the visitor viewed, newest first, in stock, without the product looked at.
    fn recently_viewed(
        &self,
        req: &RecommendRequest,
        hidden: &HashSet<String>,
    ) -> Result<Recommendations> {
        let visitor = req.visitor_id.as_deref().unwrap_or_default();
        let viewed = (self.profiles.lists(visitor)).map_or_else(Vec::new, |[_, _, viewed]| viewed);
        let hit = self.catalog_hits()?;
        let mut items = Vec::new();
        for id in viewed
            .iter()
            .filter(|id| req.product_id.as_ref() != Some(id))
        {
            if items.len() >= req.limit {
                break;
            }
            let Some(product) = self.in_stock(id, hidden)? else {
                continue;
            };
            items.push(hit(&product, 0.0));
        }
        Ok(Recommendations {
            kind: Kind::RecentlyViewed,
            items,
            personalization: self.unpersonalized(req),
        })
    }

    /// The personalization echo of items the visitor's profile did not re-rank.
    fn unpersonalized(&self, req: &RecommendRequest) -> PersonalizationEcho {
        let config = self.config();
        PersonalizationEcho {
            applied: false,
            group: (req.visitor_id.as_deref())
                .map(|v| Group::of(v, config.personalization.control_share)),
            strength: config.personalization.strength,
        }
    }
}
