//! The files of `configd/`, `cli/`, `net/` and `model/` import each other without
//! cycles (issue 12): a request goes router -> handler -> state/store, never
//! back. Paths are read from the source (`crate::`, `super::`, `self::`,
//! with `{a, b}` groups), so a new cycle fails here with its members named.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

type Module = Vec<String>;

fn modules(root: &Path) -> BTreeMap<Module, String> {
    let mut out = BTreeMap::new();
    let mut dirs = vec![root.to_path_buf()];
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                dirs.push(path);
                continue;
            }
            if path.extension().is_none_or(|e| e != "rs") {
                continue;
            }
            let rel = path.strip_prefix(root).unwrap().with_extension("");
            let mut parts: Module = rel.iter().map(|p| p.to_string_lossy().into()).collect();
            if matches!(parts.last().map(String::as_str), Some("mod" | "lib")) {
                parts.pop();
            }
            let text = std::fs::read_to_string(&path).unwrap();
            // Unit tests may reach anywhere.
            let text = match text.find("#[cfg(test)]\nmod tests") {
                Some(i) => text[..i].to_string(),
                None => text,
            };
            out.insert(parts, text);
        }
    }
    out
}

/// The module a path names: the longest prefix that is a file.
fn resolve(known: &BTreeMap<Module, String>, from: &Module, path: &str) -> Option<Module> {
    let mut parts = path.split("::").map(str::trim).peekable();
    let mut base: Module = match parts.peek().copied() {
        Some("crate") => Vec::new(),
        Some("self") => from.clone(),
        Some("super") => from.clone(),
        _ => return None,
    };
    parts.next();
    if path.starts_with("super") {
        base.pop();
    }
    while parts.peek() == Some(&"super") {
        parts.next();
        base.pop();
    }
    let mut best = None;
    for p in parts {
        base.push(p.to_string());
        if known.contains_key(&base) {
            best = Some(base.clone());
        } else {
            break;
        }
    }
    best.filter(|m| m != from)
}

fn edges(known: &BTreeMap<Module, String>) -> BTreeMap<Module, BTreeSet<Module>> {
    let single = regex::Regex::new(r"\b(?:crate|super|self)(?:::\w+)+").unwrap();
    let group = regex::Regex::new(r"\b((?:crate|super|self)(?:::\w+)*)::\{([^}]*)\}").unwrap();
    let mut out = BTreeMap::new();
    for (m, text) in known {
        let mut deps = BTreeSet::new();
        for c in group.captures_iter(text) {
            for item in c[2].split(',') {
                let item = item.split_whitespace().next().unwrap_or("");
                if !item.is_empty() {
                    deps.extend(resolve(known, m, &format!("{}::{item}", &c[1])));
                }
            }
        }
        for p in single.find_iter(text) {
            deps.extend(resolve(known, m, p.as_str()));
        }
        out.insert(m.clone(), deps);
    }
    out
}

/// Modules of `within` that reach themselves again through others of it.
fn cycles(graph: &BTreeMap<Module, BTreeSet<Module>>, within: &str) -> Vec<BTreeSet<String>> {
    let inside = |m: &Module| m.first().is_some_and(|f| f == within) && m.len() > 1;
    let reach = |start: &Module| {
        let mut seen = BTreeSet::new();
        let mut todo: Vec<&Module> = graph[start].iter().filter(|m| inside(m)).collect();
        while let Some(m) = todo.pop() {
            if seen.insert(m.clone()) {
                todo.extend(graph.get(m).into_iter().flatten().filter(|n| inside(n)));
            }
        }
        seen
    };
    let mut found: Vec<BTreeSet<String>> = Vec::new();
    for m in graph.keys().filter(|m| inside(m)) {
        let from_m = reach(m);
        if !from_m.contains(m) {
            continue;
        }
        let cycle: BTreeSet<String> = from_m
            .iter()
            .filter(|n| reach(n).contains(m))
            .map(|n| n.join("::"))
            .collect();
        if !found.contains(&cycle) {
            found.push(cycle);
        }
    }
    found
}

#[test]
fn configd_cli_net_and_model_have_no_import_cycles() {
    let known = modules(&Path::new(env!("CARGO_MANIFEST_DIR")).join("src"));
    let graph = edges(&known);
    // The reader must see the request path, or this test proves nothing.
    let api = vec!["configd".to_string(), "api".to_string()];
    assert!(graph[&api].contains(&vec!["configd".to_string(), "state".to_string()]));
    let mut all = Vec::new();
    for dir in ["configd", "cli", "net", "model"] {
        all.extend(cycles(&graph, dir));
    }
    assert!(all.is_empty(), "import cycles: {all:?}");
}

#[test]
fn a_cycle_is_found() {
    let m = |s: &str| s.split("::").map(String::from).collect::<Module>();
    let graph: BTreeMap<Module, BTreeSet<Module>> = [
        (m("net::a"), [m("net::b")].into()),
        (m("net::b"), [m("net::a")].into()),
        (m("net::c"), [m("net::a")].into()),
    ]
    .into();
    let found = cycles(&graph, "net");
    assert_eq!(
        found,
        vec![BTreeSet::from(["net::a".into(), "net::b".into()])]
    );
}
