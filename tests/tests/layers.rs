//! The shape of the code, checked: the files of each crate import each other without a circle,
//! and JOSE, the bottom layer of core, imports nothing else of it.
//!
//! A file depends on another when it names an item of it: a `crate::`, `super::` or `self::`
//! path, or a path into a child module it declares (`mod x;` then `x::...`, re-exports
//! included). Each path is charged to the deepest module file it reaches. Unit tests
//! (`#[cfg(test)] mod tests`, last in a file) are left out: they may reach anywhere.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::{Path, PathBuf};

type Module = Vec<String>;

/// Every `.rs` file under `src`, by module path (`lib.rs` and `mod.rs` name their folder).
fn modules(src: &Path) -> BTreeMap<Module, PathBuf> {
    fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
        for entry in fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                walk(&path, out);
            } else if path.extension().is_some_and(|e| e == "rs") {
                out.push(path);
            }
        }
    }
    let mut files = Vec::new();
    walk(src, &mut files);
    files
        .into_iter()
        .filter(|p| !p.starts_with(src.join("bin")))
        .map(|p| {
            let rel = p.strip_prefix(src).unwrap().with_extension("");
            let mut m: Module = rel
                .components()
                .map(|c| c.as_os_str().to_string_lossy().into_owned())
                .collect();
            if matches!(m.last().map(String::as_str), Some("lib" | "mod" | "main")) {
                m.pop();
            }
            (m, p)
        })
        .collect()
}

/// The source without comments, string literals and the unit-test module.
fn code_of(path: &Path) -> String {
    let src = fs::read_to_string(path).unwrap();
    let src = match src.find("#[cfg(test)]\nmod tests") {
        Some(i) => &src[..i],
        None => &src[..],
    };
    let mut out = String::with_capacity(src.len());
    let mut chars = src.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '/' if chars.peek() == Some(&'/') => {
                for c in chars.by_ref() {
                    if c == '\n' {
                        out.push('\n');
                        break;
                    }
                }
            }
            '"' => {
                let mut escaped = false;
                for c in chars.by_ref() {
                    if escaped {
                        escaped = false;
                    } else if c == '\\' {
                        escaped = true;
                    } else if c == '"' {
                        break;
                    }
                }
                out.push_str("\"\"");
            }
            _ => out.push(c),
        }
    }
    out
}

fn is_ident(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_'
}

/// Every path `a::b::c` in `code` (with `{...}` groups expanded one level), as segments.
fn paths(code: &str) -> Vec<Vec<String>> {
    let bytes: Vec<char> = code.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        if is_ident(bytes[i]) && (i == 0 || !(is_ident(bytes[i - 1]) || bytes[i - 1] == ':')) {
            let mut segs = Vec::new();
            let mut j = i;
            loop {
                let start = j;
                while j < bytes.len() && is_ident(bytes[j]) {
                    j += 1;
                }
                segs.push(bytes[start..j].iter().collect::<String>());
                if j + 2 < bytes.len() && bytes[j] == ':' && bytes[j + 1] == ':' {
                    j += 2;
                    if bytes[j] == '{' {
                        // A use group: each item extends the prefix.
                        let end = bytes[j..].iter().position(|&c| c == '}').map(|e| j + e);
                        let Some(end) = end else { break };
                        let group: String = bytes[j + 1..end].iter().collect();
                        for item in group.split(',') {
                            let item = item.trim().trim_start_matches('{');
                            if item.is_empty() {
                                continue;
                            }
                            let mut p = segs.clone();
                            p.extend(
                                item.split("::")
                                    .map(|s| s.split_whitespace().next().unwrap_or("").to_owned())
                                    .filter(|s| !s.is_empty() && s.chars().all(is_ident)),
                            );
                            out.push(p);
                        }
                        j = end + 1;
                        segs.clear();
                        break;
                    }
                    if j < bytes.len() && is_ident(bytes[j]) {
                        continue;
                    }
                }
                break;
            }
            if segs.len() > 1 {
                out.push(segs);
            }
            i = j.max(i + 1);
        } else {
            i += 1;
        }
    }
    out
}

/// The file-level import graph of one crate's `src`.
fn graph(src: &Path) -> BTreeMap<Module, BTreeSet<Module>> {
    let mods = modules(src);
    let deepest = |path: &[String]| -> Option<Module> {
        (0..=path.len())
            .rev()
            .map(|n| path[..n].to_vec())
            .find(|m| mods.contains_key(m))
    };
    let mut edges = BTreeMap::new();
    for (module, file) in &mods {
        let code = code_of(file);
        let children: BTreeSet<String> = code
            .lines()
            .filter_map(|l| {
                let l = l.trim();
                let rest = ["pub ", "pub(crate) ", "pub(super) "]
                    .iter()
                    .find_map(|p| l.strip_prefix(p))
                    .unwrap_or(l);
                let rest = rest.strip_prefix("mod ")?;
                rest.strip_suffix(';').map(str::to_owned)
            })
            .collect();
        let mut deps = BTreeSet::new();
        for p in paths(&code) {
            let resolved: Option<Vec<String>> = match p[0].as_str() {
                "crate" => Some(p[1..].to_vec()),
                "self" => Some(module.iter().chain(&p[1..]).cloned().collect()),
                "super" => {
                    let ups = p.iter().take_while(|s| *s == "super").count();
                    // `super` of a file module is its parent; a folder's mod.rs is the folder.
                    let base = module.len().checked_sub(ups).map(|n| module[..n].to_vec());
                    base.map(|b| b.into_iter().chain(p[ups..].iter().cloned()).collect())
                }
                first if children.contains(first) => {
                    Some(module.iter().chain(&p).cloned().collect())
                }
                _ => None,
            };
            if let Some(target) = resolved.as_deref().and_then(deepest)
                && target != *module
            {
                deps.insert(target);
            }
        }
        edges.insert(module.clone(), deps);
    }
    edges
}

/// The strongly connected components with more than one file (Tarjan).
fn circles(edges: &BTreeMap<Module, BTreeSet<Module>>) -> Vec<Vec<Module>> {
    struct State<'a> {
        edges: &'a BTreeMap<Module, BTreeSet<Module>>,
        index: BTreeMap<&'a Module, usize>,
        low: BTreeMap<&'a Module, usize>,
        stack: Vec<&'a Module>,
        on: BTreeSet<&'a Module>,
        next: usize,
        out: Vec<Vec<Module>>,
    }
    fn visit<'a>(s: &mut State<'a>, v: &'a Module) {
        s.index.insert(v, s.next);
        s.low.insert(v, s.next);
        s.next += 1;
        s.stack.push(v);
        s.on.insert(v);
        for w in &s.edges[v] {
            let Some((w, _)) = s.edges.get_key_value(w) else {
                continue;
            };
            if !s.index.contains_key(w) {
                visit(s, w);
                let lw = s.low[w];
                let lv = s.low.get_mut(v).unwrap();
                *lv = (*lv).min(lw);
            } else if s.on.contains(w) {
                let iw = s.index[w];
                let lv = s.low.get_mut(v).unwrap();
                *lv = (*lv).min(iw);
            }
        }
        if s.low[v] == s.index[v] {
            let mut comp = Vec::new();
            while let Some(w) = s.stack.pop() {
                s.on.remove(w);
                comp.push(w.clone());
                if w == v {
                    break;
                }
            }
            if comp.len() > 1 {
                comp.sort();
                s.out.push(comp);
            }
        }
    }
    let mut s = State {
        edges,
        index: BTreeMap::new(),
        low: BTreeMap::new(),
        stack: Vec::new(),
        on: BTreeSet::new(),
        next: 0,
        out: Vec::new(),
    };
    for v in edges.keys() {
        if !s.index.contains_key(v) {
            visit(&mut s, v);
        }
    }
    s.out
}

fn crate_src(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .join(name)
        .join("src")
}

fn describe(edges: &BTreeMap<Module, BTreeSet<Module>>, comp: &[Module]) -> String {
    let name = |m: &Module| {
        if m.is_empty() {
            "lib".into()
        } else {
            m.join("/")
        }
    };
    comp.iter()
        .map(|m| {
            let inside: Vec<String> = edges[m]
                .iter()
                .filter(|d| comp.contains(d))
                .map(name)
                .collect();
            format!("  {} -> {}", name(m), inside.join(", "))
        })
        .collect::<Vec<_>>()
        .join("\n")
}

fn assert_no_circles(krate: &str) {
    let edges = graph(&crate_src(krate));
    assert!(edges.len() > 5, "{krate}: too few files found");
    let found = circles(&edges);
    let report: Vec<String> = found.iter().map(|c| describe(&edges, c)).collect();
    assert!(
        found.is_empty(),
        "import circles between the files of {krate}:\n{}",
        report.join("\n\n")
    );
}

#[test]
fn the_files_of_core_import_each_other_without_a_circle() {
    assert_no_circles("core");
}

#[test]
fn the_files_of_edge_import_each_other_without_a_circle() {
    assert_no_circles("edge");
}

#[test]
fn jose_imports_nothing_else_of_core() {
    let edges = graph(&crate_src("core"));
    let jose = |m: &Module| m.first().is_some_and(|s| s == "jose");
    let mut outside = Vec::new();
    for (m, deps) in edges.iter().filter(|(m, _)| jose(m)) {
        for d in deps.iter().filter(|d| !jose(d)) {
            outside.push(format!("{} -> {}", m.join("/"), d.join("/")));
        }
    }
    assert!(edges.keys().filter(|m| jose(m)).count() >= 5);
    assert!(outside.is_empty(), "jose imports: {outside:?}");
}

#[test]
fn the_graph_sees_a_circle_when_there_is_one() {
    // The checker itself: a two-file circle through `super::` and a child path is found.
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("src");
    fs::create_dir_all(src.join("a")).unwrap();
    fs::write(src.join("lib.rs"), "pub mod a;\npub mod b;\npub mod c;\n").unwrap();
    fs::write(src.join("a/mod.rs"), "pub mod x;\npub use x::X;\n").unwrap();
    fs::write(src.join("a/x.rs"), "use super::Y;\npub struct X;\n").unwrap();
    fs::write(src.join("b.rs"), "use crate::{a::X, c};\n").unwrap();
    fs::write(src.join("c.rs"), "// crate::b::Z in a comment\n").unwrap();
    for extra in ["d", "e", "f"] {
        fs::write(src.join(format!("{extra}.rs")), "").unwrap();
    }
    let edges = graph(&src);
    let found = circles(&edges);
    let a: Module = vec!["a".into()];
    let ax: Module = vec!["a".into(), "x".into()];
    assert_eq!(found, vec![vec![a.clone(), ax]]);
    assert!(edges[&vec!["b".to_owned()]].contains(&a));
    assert!(edges[&vec!["b".to_owned()]].contains(&vec!["c".to_owned()]));
    assert!(
        edges[&vec!["c".to_owned()]].is_empty(),
        "comments are not imports"
    );
}
