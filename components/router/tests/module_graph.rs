//! The router's shape, checked: no two source files import each other, directly or around a
//! circle, and no source file outgrows one job (tests and data excepted).
//!
//! Imports are read from the text: `use` paths and inline paths that start with `crate::`,
//! `super::` or a child module's name, each resolved to the longest file prefix it names. Test
//! modules (`tests.rs`, and what follows `#[cfg(test)]` in a file) are left out.

#![allow(clippy::unwrap_used, clippy::panic)]

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::{Path, PathBuf};

/// The longest a source file (tests apart) may be.
const MAX_LINES: usize = 600;

fn src() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("src")
}

/// Every `.rs` file under `dir`, tests files apart.
fn sources(dir: &Path, out: &mut Vec<PathBuf>) {
    let mut entries: Vec<PathBuf> = fs::read_dir(dir)
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .collect();
    entries.sort();
    for path in entries {
        if path.is_dir() {
            sources(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs")
            && path.file_name().is_some_and(|n| n != "tests.rs")
        {
            out.push(path);
        }
    }
}

/// The module path of a file: `src/a/b.rs` and `src/a/b/mod.rs` are `[a, b]`, `lib.rs` is `[]`.
fn module_of(file: &Path) -> Vec<String> {
    let relative = file.strip_prefix(src()).unwrap();
    let mut parts: Vec<String> = relative
        .iter()
        .map(|p| p.to_string_lossy().trim_end_matches(".rs").to_string())
        .collect();
    if matches!(parts.last().map(String::as_str), Some("mod" | "lib")) {
        parts.pop();
    }
    parts
}

/// The file that defines the longest prefix of `path`, if any.
fn file_for(path: &[String]) -> Option<PathBuf> {
    (1..=path.len()).rev().find_map(|len| {
        let base = path[..len]
            .iter()
            .fold(src(), |dir, segment| dir.join(segment));
        [base.with_extension("rs"), base.join("mod.rs")]
            .into_iter()
            .find(|candidate| candidate.is_file())
    })
}

/// The code of a file without comments and without its test module.
fn code(text: &str) -> String {
    let text = match text.match_indices("#[cfg(test)]\n").find(|(at, found)| {
        let next = text[at + found.len()..].lines().next().unwrap_or("");
        next.trim_start_matches(|c: char| c != 'm')
            .starts_with("mod tests")
    }) {
        Some((at, _)) => &text[..at],
        None => text,
    };
    text.lines()
        .map(|line| match line.find("//") {
            Some(at) => &line[..at],
            None => line,
        })
        .collect::<Vec<_>>()
        .join("\n")
}

fn is_ident(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_'
}

/// The paths of a use tree starting at `rest` (after a `prefix::`): `a::b`, `a::{b, c::d}`.
fn use_tree(prefix: &[String], rest: &str, out: &mut Vec<Vec<String>>) {
    let rest = rest.trim_start();
    if let Some(group) = rest.strip_prefix('{') {
        let mut depth = 0;
        let mut start = 0;
        for (i, c) in group.char_indices() {
            match c {
                '{' => depth += 1,
                '}' if depth == 0 => {
                    use_tree(prefix, &group[start..i], out);
                    return;
                }
                '}' => depth -= 1,
                ',' if depth == 0 => {
                    use_tree(prefix, &group[start..i], out);
                    start = i + 1;
                }
                _ => {}
            }
        }
        return;
    }
    let name: String = rest.chars().take_while(|&c| is_ident(c)).collect();
    if name.is_empty() {
        out.push(prefix.to_vec());
        return;
    }
    let mut path = prefix.to_vec();
    if name != "self" {
        path.push(name.clone());
    }
    match rest[name.len()..].strip_prefix("::") {
        Some(more) => use_tree(&path, more, out),
        None => out.push(path),
    }
}

/// The module paths a file's code names.
fn imports(file: &Path, code: &str) -> Vec<Vec<String>> {
    let module = module_of(file);
    let parent: Vec<String> = module[..module.len().saturating_sub(1)].to_vec();
    let mut out = Vec::new();
    for (at, _) in code.match_indices("crate::") {
        if code[..at].ends_with(|c: char| is_ident(c) || c == ':') {
            continue;
        }
        use_tree(&[], &code[at + "crate::".len()..], &mut out);
    }
    for (at, _) in code.match_indices("super::") {
        if code[..at].ends_with(|c: char| is_ident(c) || c == ':') {
            continue;
        }
        use_tree(&parent, &code[at + "super::".len()..], &mut out);
    }
    // `use child::...` in a module with children.
    for statement in code.split("use ").skip(1) {
        let first: String = statement.chars().take_while(|&c| is_ident(c)).collect();
        if first.is_empty() || matches!(first.as_str(), "crate" | "super" | "self") {
            continue;
        }
        let child: Vec<String> = module.iter().cloned().chain([first.clone()]).collect();
        if file_for(&child).is_some_and(|f| module_of(&f) == child) {
            use_tree(&module, statement, &mut out);
        }
    }
    out
}

fn graph() -> BTreeMap<PathBuf, BTreeSet<PathBuf>> {
    let mut files = Vec::new();
    sources(&src(), &mut files);
    files
        .iter()
        .map(|file| {
            let text = code(&fs::read_to_string(file).unwrap());
            let targets = imports(file, &text)
                .iter()
                .filter_map(|path| file_for(path))
                .filter(|target| target != file)
                .collect();
            (file.clone(), targets)
        })
        .collect()
}

/// A circle of imports through `node`, if there is one.
fn circle(
    graph: &BTreeMap<PathBuf, BTreeSet<PathBuf>>,
    node: &Path,
    stack: &mut Vec<PathBuf>,
    done: &mut BTreeSet<PathBuf>,
) -> Option<Vec<PathBuf>> {
    if let Some(at) = stack.iter().position(|p| p == node) {
        let mut circle = stack[at..].to_vec();
        circle.push(node.to_path_buf());
        return Some(circle);
    }
    if done.contains(node) {
        return None;
    }
    stack.push(node.to_path_buf());
    for next in graph.get(node).into_iter().flatten() {
        if let Some(found) = circle(graph, next, stack, done) {
            return Some(found);
        }
    }
    stack.pop();
    done.insert(node.to_path_buf());
    None
}

fn name(path: &Path) -> String {
    path.strip_prefix(src()).unwrap().display().to_string()
}

#[test]
fn no_import_circle() {
    let graph = graph();
    assert!(graph.len() > 20, "the router's sources were not found");
    let edges: usize = graph.values().map(BTreeSet::len).sum();
    assert!(
        edges > 50,
        "too few imports read ({edges}): the reader is broken"
    );
    let mut done = BTreeSet::new();
    for node in graph.keys() {
        if let Some(found) = circle(&graph, node, &mut Vec::new(), &mut done) {
            let names: Vec<String> = found.iter().map(|p| name(p)).collect();
            panic!("import circle: {}", names.join(" → "));
        }
    }
}

#[test]
fn the_reader_finds_a_circle() {
    let a = src().join("a.rs");
    let b = src().join("b.rs");
    let graph = BTreeMap::from([
        (a.clone(), BTreeSet::from([b.clone()])),
        (b.clone(), BTreeSet::from([a.clone()])),
    ]);
    let found = circle(&graph, &a, &mut Vec::new(), &mut BTreeSet::new());
    assert_eq!(found, Some(vec![a.clone(), b, a]));
    let mut paths = Vec::new();
    use_tree(&[], "x::{y, z::{self, w}}, v", &mut paths);
    assert_eq!(
        paths,
        vec![
            vec!["x".to_string(), "y".to_string()],
            vec!["x".to_string(), "z".to_string()],
            vec!["x".to_string(), "z".to_string(), "w".to_string()],
        ]
    );
}

#[test]
fn no_source_file_over_the_limit() {
    let mut files = Vec::new();
    sources(&src(), &mut files);
    let long: Vec<String> = files
        .iter()
        .filter_map(|file| {
            let text = fs::read_to_string(file).unwrap();
            let lines = code(&text).lines().count();
            (lines > MAX_LINES).then(|| format!("{} ({lines} lines)", name(file)))
        })
        .collect();
    assert!(long.is_empty(), "over {MAX_LINES} lines: {long:?}");
}
