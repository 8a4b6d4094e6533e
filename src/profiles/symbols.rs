//! Interned strings: category paths, brands, attribute values and product ids are stored in
//! profiles as 4-byte symbols. A million profiles name the same few thousand catalog values,
//! so each string is kept once here instead of once per profile.

use std::sync::{Arc, RwLock};

use dashmap::DashMap;

/// A symbol: an index into the table.
pub type Sym = u32;

/// The symbol table. Symbols are never removed; the table is bounded by the catalog's
/// distinct values (and product ids), not by traffic.
#[derive(Default)]
pub struct Symbols {
    ids: DashMap<Arc<str>, Sym>,
    names: RwLock<Vec<Arc<str>>>,
}

impl Symbols {
    /// The symbol of `name`, added when new.
    pub fn intern(&self, name: &str) -> Sym {
        if let Some(id) = self.ids.get(name) {
            return *id;
        }
        let mut names = self.names.write().unwrap_or_else(|p| p.into_inner());
        // Another thread may have added it between the lookup and the lock.
        if let Some(id) = self.ids.get(name) {
            return *id;
        }
        let id = names.len() as Sym;
        let shared: Arc<str> = Arc::from(name);
        names.push(shared.clone());
        self.ids.insert(shared, id);
        id
    }

    /// The symbol of `name` if it exists.
    pub fn get(&self, name: &str) -> Option<Sym> {
        self.ids.get(name).map(|id| *id)
    }

    /// The string of a symbol ("" for an unknown one, which cannot happen for symbols this
    /// table handed out).
    pub fn name(&self, id: Sym) -> Arc<str> {
        let names = self.names.read().unwrap_or_else(|p| p.into_inner());
        names
            .get(id as usize)
            .cloned()
            .unwrap_or_else(|| Arc::from(""))
    }

    /// Every name under one read of the table, for a caller that looks up many (a taste
    /// names dozens; one lock and no reference count per name).
    pub fn names(&self) -> Names<'_> {
        Names(self.names.read().unwrap_or_else(|p| p.into_inner()))
    }

    /// Every string in symbol order (for snapshots).
    pub fn all(&self) -> Vec<Arc<str>> {
        self.names.read().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// Number of symbols.
    pub fn len(&self) -> usize {
        self.names.read().unwrap_or_else(|p| p.into_inner()).len()
    }

    /// Whether the table is empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// The symbol table held for reading ([`Symbols::names`]).
pub struct Names<'a>(std::sync::RwLockReadGuard<'a, Vec<Arc<str>>>);

impl Names<'_> {
    /// The name of a symbol ("" for an unknown one, like [`Symbols::name`]).
    pub fn of(&self, id: Sym) -> &str {
        self.0.get(id as usize).map_or("", |name| name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_string_gets_one_symbol_and_symbols_follow_insertion_order() {
        let s = Symbols::default();
        assert_eq!(s.intern("Shoes"), 0);
        assert_eq!(s.intern("Acme"), 1);
        assert_eq!(s.intern("Shoes"), 0);
        assert_eq!(&*s.name(1), "Acme");
        assert_eq!(s.get("nope"), None);
        assert_eq!(s.all().len(), 2);
    }

    #[test]
    fn names_read_together_answer_like_one_by_one() {
        let s = Symbols::default();
        let shoes = s.intern("Shoes");
        let acme = s.intern("Acme");
        let names = s.names();
        assert_eq!(names.of(shoes), &*s.name(shoes));
        assert_eq!(names.of(acme), "Acme");
        assert_eq!(names.of(99), &*s.name(99));
    }
}
