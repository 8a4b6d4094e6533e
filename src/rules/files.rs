//! Included rule files: paths relative to the config file, with `*` in the file name.
//!
//! Only the last component may hold a `*` (`rules/*.toml`); matches are read in name order so
//! the order of rules, which decides conflicts, never depends on the file system.

use std::path::{Path, PathBuf};

/// The files an `include` entry names, relative to the directory of `config`.
pub fn resolve(config: &Path, pattern: &str) -> Result<Vec<PathBuf>, String> {
    let base = config.parent().unwrap_or(Path::new(""));
    let full = base.join(pattern.trim());
    let name = full
        .file_name()
        .and_then(|n| n.to_str())
        .ok_or_else(|| format!("{pattern:?} does not name a file"))?;
    if full
        .parent()
        .is_some_and(|p| p.to_string_lossy().contains('*'))
    {
        return Err(format!("{pattern:?}: only the file name may hold a *"));
    }
    if !name.contains('*') {
        return Ok(vec![full.clone()]);
    }
    let dir = full.parent().unwrap_or(Path::new("."));
    let entries = std::fs::read_dir(if dir.as_os_str().is_empty() {
        Path::new(".")
    } else {
        dir
    })
    .map_err(|e| format!("cannot list {}: {e}", dir.display()))?;
    let mut files: Vec<PathBuf> = entries
        .filter_map(|e| e.ok())
        .filter(|e| e.file_type().is_ok_and(|t| t.is_file()))
        .filter(|e| e.file_name().to_str().is_some_and(|n| matches(name, n)))
        .map(|e| dir.join(e.file_name()))
        .collect();
    files.sort();
    Ok(files)
}

/// Whether `name` matches a pattern where `*` stands for any run of characters.
fn matches(pattern: &str, name: &str) -> bool {
    let parts: Vec<&str> = pattern.split('*').collect();
    let (first, last) = (parts[0], parts[parts.len() - 1]);
    if !name.starts_with(first) || name.len() < first.len() + last.len() || !name.ends_with(last) {
        return false;
    }
    let mut rest = &name[first.len()..name.len() - last.len()];
    for middle in &parts[1..parts.len() - 1] {
        match rest.find(middle) {
            Some(i) => rest = &rest[i + middle.len()..],
            None => return false,
        }
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_star_matches_any_run_of_characters() {
        assert!(matches("*.toml", "a.toml"));
        assert!(matches("sale-*-*.toml", "sale-bf-2025.toml"));
        assert!(!matches("*.toml", "a.toml.bak"));
        assert!(!matches("a*a", "a"));
    }

    #[test]
    fn matches_are_read_in_name_order_relative_to_the_config() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("rules")).unwrap();
        for name in ["b.toml", "a.toml", "notes.txt"] {
            std::fs::write(dir.path().join("rules").join(name), "").unwrap();
        }
        let config = dir.path().join("attune.toml");
        let found = resolve(&config, "rules/*.toml").unwrap();
        let names: Vec<_> = found
            .iter()
            .map(|p| p.file_name().unwrap().to_owned())
            .collect();
        assert_eq!(names, ["a.toml", "b.toml"]);
        assert_eq!(
            resolve(&config, "x.toml").unwrap(),
            [dir.path().join("x.toml")]
        );
        assert!(
            resolve(&config, "*/x.toml")
                .unwrap_err()
                .contains("only the file name")
        );
    }
}
