//! The layering rule, read from the source: inside each crate, no import
//! loop spans more than a module and its own children. A file's imports
//! are its `crate::` and `super::` paths outside comments, each resolved to
//! the deepest module file it names; a loop is allowed only when every file
//! in it lies under one module (a module and its children may refer to each
//! other). Test modules are not read. Crossing crates is held by Cargo itself: `wsauth-domain` cannot
//! name the server.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// A module path (`proxy/settings`) and the module paths its file names.
type Graph = BTreeMap<String, BTreeSet<String>>;

fn crate_src(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..").join(name).join("src")
}

/// Every `.rs` file under `dir`, by module path.
fn modules(src: &Path) -> BTreeMap<String, String> {
    let mut found = BTreeMap::new();
    let mut dirs = vec![src.to_path_buf()];
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(&dir).expect("read a source directory") {
            let path = entry.expect("a directory entry").path();
            if path.is_dir() {
                dirs.push(path);
            } else if path.extension().is_some_and(|e| e == "rs") {
                let rel = path.strip_prefix(src).expect("under src").with_extension("");
                let mut name = rel.to_string_lossy().into_owned();
                if let Some(parent) = name.strip_suffix("/mod") {
                    name = parent.to_owned();
                }
                let text = std::fs::read_to_string(&path).expect("read a source file");
                found.insert(name, without_comments(&text));
            }
        }
    }
    found
}

/// The file's code without comments and without its test module (the
/// last item of a file, where `super` means the file itself).
fn without_comments(text: &str) -> String {
    let code = text.find("#[cfg(test)]").map_or(text, |at| &text[..at]);
    code.lines()
        .map(|line| match line.find("//") {
            Some(at) => &line[..at],
            None => line,
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// The paths after each `prefix` (`crate::`, `super::`) in `text`, with
/// one level of `{a, b::c}` groups expanded.
fn paths_after(text: &str, prefix: &str) -> Vec<Vec<String>> {
    let mut paths = Vec::new();
    let mut rest = text;
    while let Some(at) = rest.find(prefix) {
        let before = rest[..at].chars().next_back();
        rest = &rest[at + prefix.len()..];
        if before.is_some_and(|c| c.is_alphanumeric() || c == '_') {
            continue;
        }
        let head: String =
            rest.chars().take_while(|c| c.is_alphanumeric() || *c == '_' || *c == ':').collect();
        let head: Vec<String> =
            head.split("::").filter(|s| !s.is_empty()).map(str::to_owned).collect();
        let after = &rest[rest
            .find(|c: char| !(c.is_alphanumeric() || c == '_' || c == ':'))
            .unwrap_or(rest.len())..];
        if after.starts_with('{') {
            let group = &after[1..after.find('}').unwrap_or(after.len())];
            for item in group.split(',') {
                let mut path = head.clone();
                path.extend(
                    item.trim().split("::").map(|s| s.trim().to_owned()).filter(|s| !s.is_empty()),
                );
                paths.push(path);
            }
        } else {
            paths.push(head);
        }
    }
    paths
}

fn import_graph(src: &Path) -> Graph {
    let files = modules(src);
    let deepest = |path: &[String]| -> Option<String> {
        (1..=path.len()).map(|n| path[..n].join("/")).rfind(|m| files.contains_key(m))
    };
    let mut graph = Graph::new();
    for (module, text) in &files {
        let mut names: BTreeSet<String> = BTreeSet::new();
        for path in paths_after(text, "crate::") {
            names.extend(deepest(&path));
        }
        // `super` is the parent module, whether this one is `x.rs` or `x/mod.rs`.
        let mut parent: Vec<String> = module.split('/').map(str::to_owned).collect();
        parent.pop();
        for path in paths_after(text, "super::") {
            let mut full = parent.clone();
            full.extend(path);
            names.extend(deepest(&full));
        }
        names.remove(module);
        graph.insert(module.clone(), names);
    }
    graph
}

/// The strongly connected components of more than one module.
fn loops(graph: &Graph) -> Vec<Vec<String>> {
    // Two modules are in one loop when each reaches the other.
    let reach = |from: &String| -> BTreeSet<String> {
        let mut seen = BTreeSet::new();
        let mut todo = vec![from.clone()];
        while let Some(m) = todo.pop() {
            for next in graph.get(&m).into_iter().flatten() {
                if seen.insert(next.clone()) {
                    todo.push(next.clone());
                }
            }
        }
        seen
    };
    let reached: BTreeMap<&String, BTreeSet<String>> =
        graph.keys().map(|m| (m, reach(m))).collect();
    let mut done = BTreeSet::new();
    let mut found = Vec::new();
    for m in graph.keys() {
        if done.contains(m) || !reached[m].contains(m) {
            continue;
        }
        let component: Vec<String> =
            reached[m].iter().filter(|o| reached[*o].contains(m)).cloned().collect();
        done.extend(component.iter().cloned());
        found.push(component);
    }
    found
}

/// Whether every module of `component` lies under one module.
fn under_one_module(component: &[String]) -> bool {
    let split: Vec<Vec<&str>> = component.iter().map(|m| m.split('/').collect()).collect();
    let first = &split[0];
    let common = (0..first.len())
        .take_while(|&i| split.iter().all(|parts| parts.get(i) == first.get(i)))
        .count();
    let root = first[..common].join("/");
    common > 0 && !matches!(root.as_str(), "lib" | "main")
}

fn assert_layered(crate_name: &str) {
    let graph = import_graph(&crate_src(crate_name));
    assert!(graph.len() > 5, "{crate_name}: found too few modules to judge: {graph:?}");
    let bad: Vec<_> = loops(&graph).into_iter().filter(|c| !under_one_module(c)).collect();
    assert!(bad.is_empty(), "{crate_name}: import loops across modules: {bad:?}");
}

#[test]
fn the_server_is_layered() {
    assert_layered("wsauth-server");
}

#[test]
fn the_domain_is_layered() {
    assert_layered("wsauth-domain");
}

#[test]
fn the_library_is_layered() {
    assert_layered("wsauth");
}

#[test]
fn a_loop_across_two_modules_is_found() {
    let mut graph = Graph::new();
    graph.insert("config".into(), ["proxy/settings".into()].into());
    graph.insert("proxy/settings".into(), BTreeSet::new());
    graph.insert("proxy".into(), ["state".into(), "proxy/settings".into()].into());
    graph.insert("state".into(), ["proxy".into(), "config".into()].into());
    let found = loops(&graph);
    assert_eq!(found, vec![vec!["proxy".to_owned(), "state".to_owned()]]);
    assert!(!under_one_module(&found[0]));
    assert!(under_one_module(&["store/postgres/admin".into(), "store/postgres/families".into()]));
}
