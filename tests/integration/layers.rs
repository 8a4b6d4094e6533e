//! The crate map in `src/lib.rs` says dependencies point one way. These tests read every
//! module's paths into the crate (`crate::…`, `super::…`, `self::…`) and hold the modules to
//! a declared table of layers, so the map stays true as the crate grows.
//!
//! Test code (`tests.rs` files and `#[cfg(test)] mod tests` blocks) may reach any layer: a
//! test builds its fixtures with whatever is handy. Comments are not read.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// The crate's top-level modules, lowest layer first. A module may use the modules of the
/// layers below its own, never those of its own layer or above.
const LAYERS: &[&[&str]] = &[
    &["error", "group", "telemetry", "cache"],
    &["text", "durable", "mailbox"],
    &["settings"],
    &["catalog"],
    &["index"],
    &["profiles"],
    &["rules"],
    &["search"],
    &["suggest", "config", "recommend"],
    &["engine"],
    &["demo", "http"],
    &["watch"],
    // Evaluation sits beside the server, so nothing the server runs can import it.
    &["server", "eval"],
];

/// Every module of the library (`a::b` for `src/a/b.rs` or `src/a/b/mod.rs`) and the text
/// it is read from, without its tests.
fn modules() -> BTreeMap<String, String> {
    let root = src();
    let mut found = BTreeMap::new();
    for path in rust_files() {
        let rel = path.strip_prefix(&root).unwrap().with_extension("");
        let mut segments: Vec<String> = rel
            .iter()
            .map(|s| s.to_string_lossy().into_owned())
            .collect();
        let file = segments.last().cloned().unwrap_or_default();
        // lib.rs is the map itself; main.rs is the binary, a crate of its own.
        if segments.len() == 1 && (file == "lib" || file == "main") {
            continue;
        }
        if file == "mod" {
            segments.pop();
        }
        let text = std::fs::read_to_string(&path).unwrap();
        let code = if file == "tests" {
            String::new()
        } else {
            without_tests(&text)
        };
        found.insert(segments.join("::"), code);
    }
    found
}

fn src() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src")
}

/// Every `.rs` file under `src/`.
fn rust_files() -> Vec<PathBuf> {
    let mut files = Vec::new();
    let mut dirs = vec![src()];
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                dirs.push(path);
            } else if path.extension().is_some_and(|e| e == "rs") {
                files.push(path);
            }
        }
    }
    files
}

/// The text before a `#[cfg(test)]` that opens a module, without comment lines.
fn without_tests(text: &str) -> String {
    let mut code = String::new();
    let mut lines = text.lines().peekable();
    while let Some(line) = lines.next() {
        let trimmed = line.trim_start();
        if trimmed.starts_with("#[cfg(test)]")
            && lines
                .peek()
                .is_some_and(|next| next.trim_start().starts_with("mod "))
        {
            break;
        }
        if !trimmed.starts_with("//") {
            code.push_str(line);
            code.push('\n');
        }
    }
    code
}

/// The paths `code` names from `crate`, `super` or `self`, written from the crate's root
/// (`super::rank::Stage` in `search::rerank` is `search::rank::Stage`); use groups are
/// expanded (`crate::{a::B, c}` is `a::B` and `c`).
fn paths_named(module: &str, code: &str) -> Vec<String> {
    let chars: Vec<char> = code.chars().collect();
    let mut paths = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let starts_word = i == 0 || !is_ident(chars[i - 1]) && chars[i - 1] != ':';
        if starts_word && is_ident(chars[i]) {
            let (word, end) = ident(&chars, i);
            if matches!(word.as_str(), "crate" | "super" | "self") && at(&chars, end, "::") {
                let mut base: Vec<String> = module.split("::").map(String::from).collect();
                let mut j = end;
                match word.as_str() {
                    "crate" => base.clear(),
                    "super" => {
                        base.pop();
                        // `super::super::…`
                        while at(&chars, j, "::super") {
                            base.pop();
                            j += "::super".len();
                        }
                    }
                    _ => {}
                }
                i = tree(&chars, j + 2, base, &mut paths);
                continue;
            }
            i = end;
            continue;
        }
        i += 1;
    }
    paths
}

/// Reads a path or a use tree from `i`, after `prefix`; returns where it ends.
fn tree(chars: &[char], mut i: usize, mut prefix: Vec<String>, out: &mut Vec<String>) -> usize {
    loop {
        if chars.get(i) == Some(&'{') {
            i += 1;
            loop {
                while chars.get(i).is_some_and(|c| c.is_whitespace() || *c == ',') {
                    i += 1;
                }
                match chars.get(i) {
                    None => return i,
                    Some('}') => return i + 1,
                    _ => {
                        let next = tree(chars, i, prefix.clone(), out);
                        i = if next == i { i + 1 } else { next };
                    }
                }
            }
        }
        if !chars.get(i).is_some_and(|c| is_ident(*c)) {
            out.push(prefix.join("::"));
            return i;
        }
        let (word, end) = ident(chars, i);
        if word != "self" {
            prefix.push(word);
        }
        if at(chars, end, "::") {
            i = end + 2;
        } else {
            out.push(prefix.join("::"));
            return end;
        }
    }
}

fn is_ident(c: char) -> bool {
    c.is_alphanumeric() || c == '_'
}

fn ident(chars: &[char], start: usize) -> (String, usize) {
    let mut end = start;
    while end < chars.len() && is_ident(chars[end]) {
        end += 1;
    }
    (chars[start..end].iter().collect(), end)
}

fn at(chars: &[char], i: usize, text: &str) -> bool {
    text.chars()
        .enumerate()
        .all(|(k, c)| chars.get(i + k) == Some(&c))
}

/// The modules each module uses: of every path it names, the longest prefix that is a
/// module (an item of `search` is `search`, `search::rank::Stage` is `search::rank`).
fn uses() -> BTreeMap<String, BTreeSet<String>> {
    let modules = modules();
    let mut uses = BTreeMap::new();
    for (module, code) in &modules {
        let used: &mut BTreeSet<String> = uses.entry(module.clone()).or_default();
        for path in paths_named(module, code) {
            let segments: Vec<&str> = path.split("::").collect();
            let target = (1..=segments.len())
                .rev()
                .map(|k| segments[..k].join("::"))
                .find(|candidate| modules.contains_key(candidate));
            if let Some(target) = target.filter(|t| t != module) {
                used.insert(target);
            }
        }
    }
    uses
}

fn layer_of(module: &str) -> Option<usize> {
    let top = module.split("::").next().unwrap_or(module);
    LAYERS.iter().position(|layer| layer.contains(&top))
}

/// Every import that goes against the table, as `from -> to`.
fn wrong_way(uses: &BTreeMap<String, BTreeSet<String>>) -> Vec<String> {
    let mut wrong = Vec::new();
    for (from, targets) in uses {
        for to in targets {
            let same_top = from.split("::").next() == to.split("::").next();
            if !same_top && layer_of(to) >= layer_of(from) {
                wrong.push(format!("{from} -> {to}"));
            }
        }
    }
    wrong
}

/// The modules in a loop of imports, each loop as its modules in order.
fn loops(uses: &BTreeMap<String, BTreeSet<String>>) -> Vec<Vec<String>> {
    // Depth-first search; a back edge to a module on the path closes a loop.
    fn visit(
        module: &str,
        uses: &BTreeMap<String, BTreeSet<String>>,
        path: &mut Vec<String>,
        done: &mut BTreeSet<String>,
        found: &mut Vec<Vec<String>>,
    ) {
        if let Some(at) = path.iter().position(|m| m == module) {
            found.push(path[at..].to_vec());
            return;
        }
        if !done.insert(module.to_string()) {
            return;
        }
        path.push(module.to_string());
        for next in uses.get(module).into_iter().flatten() {
            visit(next, uses, path, done, found);
        }
        path.pop();
    }
    let mut found = Vec::new();
    let mut done = BTreeSet::new();
    for module in uses.keys() {
        visit(module, uses, &mut Vec::new(), &mut done, &mut found);
    }
    found
}

#[test]
fn every_top_level_module_has_a_layer() {
    let missing: BTreeSet<String> = modules()
        .keys()
        .filter(|m| layer_of(m).is_none())
        .map(|m| m.split("::").next().unwrap().to_string())
        .collect();
    assert!(
        missing.is_empty(),
        "give these a layer in LAYERS: {missing:?}"
    );
}

#[test]
fn every_import_points_down_the_layers() {
    let wrong = wrong_way(&uses());
    assert!(
        wrong.is_empty(),
        "imports against the layers:\n{}",
        wrong.join("\n")
    );
}

#[test]
fn no_modules_import_each_other_in_a_loop() {
    let found = loops(&uses());
    assert!(found.is_empty(), "import loops: {found:?}");
}

/// The checks above would catch what they are for: paths are read from every form the
/// crate writes them in.
#[test]
fn the_reader_finds_imports_in_every_form() {
    let code = "use crate::{index::ProductIndex, search::{self, rank::Stage}};\n\
                use super::facets::FacetPaths;\n\
                fn f() { crate::text::fold(\"\"); let x: super::super::error::Error; }\n";
    let mut named = paths_named("search::rerank", code);
    named.sort();
    assert_eq!(
        named,
        [
            "error::Error",
            "index::ProductIndex",
            "search",
            "search::facets::FacetPaths",
            "search::rank::Stage",
            "text::fold",
        ]
    );

    // A wrong-way import and a loop are reported.
    let mut uses = BTreeMap::new();
    uses.insert("index".to_string(), BTreeSet::from(["search".to_string()]));
    uses.insert(
        "search::a".to_string(),
        BTreeSet::from(["search::b".to_string()]),
    );
    uses.insert(
        "search::b".to_string(),
        BTreeSet::from(["search::a".to_string()]),
    );
    assert_eq!(wrong_way(&uses), ["index -> search"]);
    assert_eq!(loops(&uses), [["search::a", "search::b"]]);

    // Test modules are not read.
    let code = "use crate::a;\n#[cfg(test)]\nfn only_in_tests() {}\n#[cfg(test)]\nmod tests {\n    use crate::b;\n}\n";
    assert_eq!(without_tests(code).matches("crate::").count(), 1);
    assert!(without_tests(code).contains("only_in_tests"));
}

/// A file a reader can hold in mind: none in `src/` is over 800 lines (tests included), so
/// what grows is split where its parts show.
#[test]
fn no_source_file_is_over_800_lines() {
    let long: Vec<String> = rust_files()
        .into_iter()
        .filter_map(|path| {
            let lines = std::fs::read_to_string(&path).unwrap().lines().count();
            (lines > 800).then(|| format!("{} ({lines} lines)", path.display()))
        })
        .collect();
    assert!(long.is_empty(), "split these: {long:?}");
}
