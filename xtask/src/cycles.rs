//! `cargo xtask cycles`: the module dependency graph of every crate, and the cycles in it.
//!
//! A file depends on the module files its `crate::…`, `super::…` and `self::…` paths reach (in `use` trees and
//! in code; comments are skipped). A module naming its own descendants (a `mod.rs` re-exporting its children) is
//! structure, not dependence, and is left out, so the cycles found are between files none of which contains the
//! other: two files that cannot be changed one at a time. Strongly connected components of two or more files are
//! the cycles, and `cargo xtask ci` fails on any.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use crate::{Result, root};

/// A crate's module files: module path (`crate::a::b` as `["a", "b"]`) → file.
fn modules(src: &Path) -> Result<BTreeMap<Vec<String>, PathBuf>> {
    let mut found = BTreeMap::new();
    let mut pending = vec![src.to_path_buf()];
    while let Some(dir) = pending.pop() {
        let entries = std::fs::read_dir(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        for entry in entries {
            let path = entry.map_err(|e| e.to_string())?.path();
            if path.is_dir() {
                pending.push(path);
                continue;
            }
            if path.extension().is_none_or(|x| x != "rs") {
                continue;
            }
            let relative = path.strip_prefix(src).map_err(|e| e.to_string())?;
            let mut segments: Vec<String> =
                relative.iter().map(|s| s.to_string_lossy().trim_end_matches(".rs").to_owned()).collect();
            match segments.last().map(String::as_str) {
                Some("mod") => {
                    segments.pop();
                }
                Some("lib" | "main") if segments.len() == 1 => segments.clear(),
                _ => {}
            }
            // `src/bin/*.rs` are crate roots of their own, not modules of the library.
            if relative.starts_with("bin") {
                continue;
            }
            found.insert(segments, path);
        }
    }
    Ok(found)
}

/// The code of a file without comments (line comments, doc comments and block comments).
fn code_of(text: &str) -> String {
    let mut code = String::with_capacity(text.len());
    let mut rest = text;
    while !rest.is_empty() {
        if let Some(after) = rest.strip_prefix("//") {
            rest = after.find('\n').map_or("", |end| &after[end..]);
        } else if let Some(after) = rest.strip_prefix("/*") {
            rest = after.find("*/").map_or("", |end| &after[end + 2..]);
        } else if let Some(after) = rest.strip_prefix('"') {
            // Skip string literals, so that paths inside strings do not count.
            let mut chars = after.char_indices();
            let mut end = after.len();
            while let Some((i, c)) = chars.next() {
                match c {
                    '\\' => {
                        chars.next();
                    }
                    '"' => {
                        end = i + 1;
                        break;
                    }
                    _ => {}
                }
            }
            code.push_str("\"\"");
            rest = &after[end.min(after.len())..];
        } else {
            let c = rest.chars().next().unwrap_or(' ');
            code.push(c);
            rest = &rest[c.len_utf8()..];
        }
    }
    code
}

fn is_ident(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_'
}

/// Every path that starts at `start` (a `crate::`/`super::`/`self::` prefix) in `code`, expanded through `use`
/// trees: `crate::a::{b::C, d}` gives `a::b::C` and `a::d`.
fn paths_after(code: &str, start: usize) -> Vec<Vec<String>> {
    fn tree(text: &str, prefix: &[String], out: &mut Vec<Vec<String>>) -> usize {
        let mut segments = prefix.to_vec();
        let mut i = 0;
        let bytes = text.as_bytes();
        loop {
            while i < bytes.len() && bytes[i].is_ascii_whitespace() {
                i += 1;
            }
            if i < bytes.len() && bytes[i] == b'{' {
                i += 1;
                loop {
                    i += tree(&text[i..], &segments, out);
                    while i < bytes.len() && bytes[i].is_ascii_whitespace() {
                        i += 1;
                    }
                    match bytes.get(i) {
                        Some(b',') => i += 1,
                        Some(b'}') => return i + 1,
                        _ => return i,
                    }
                    while i < bytes.len() && bytes[i].is_ascii_whitespace() {
                        i += 1;
                    }
                    if bytes.get(i) == Some(&b'}') {
                        return i + 1;
                    }
                }
            }
            let ident_end = text[i..].find(|c: char| !is_ident(c)).map_or(text.len(), |n| i + n);
            if ident_end == i {
                out.push(segments);
                return i;
            }
            segments.push(text[i..ident_end].to_owned());
            i = ident_end;
            if text[i..].starts_with("::") {
                i += 2;
            } else {
                out.push(segments);
                return i;
            }
        }
    }
    let mut out = Vec::new();
    tree(&code[start..], &[], &mut out);
    out
}

/// The module files `file` (module `module`) depends on.
/// `self::` and `super::` are relative to the file's module: `foo.rs` and `foo/mod.rs` are module `foo` alike.
fn dependencies(code: &str, module: &[String], modules: &BTreeMap<Vec<String>, PathBuf>) -> BTreeSet<Vec<String>> {
    let mut targets = BTreeSet::new();
    for (keyword, base) in [("crate::", Vec::new()), ("super::", parent(module)), ("self::", module.to_vec())] {
        let mut from = 0;
        while let Some(found) = code[from..].find(keyword) {
            let at = from + found;
            from = at + keyword.len();
            if code[..at].chars().next_back().is_some_and(is_ident) {
                continue;
            }
            for path in paths_after(code, from) {
                let mut full = base.clone();
                let mut rest = path.as_slice();
                // `super::super::x`
                while let Some(("super", tail)) = rest.split_first().map(|(h, t)| (h.as_str(), t)) {
                    full = parent(&full);
                    rest = tail;
                }
                full.extend(rest.iter().cloned());
                // The deepest module file the path reaches.
                let target = (0..=full.len()).rev().map(|n| full[..n].to_vec()).find(|m| modules.contains_key(m));
                if let Some(target) = target
                    && target != module
                    && !target.starts_with(module)
                {
                    targets.insert(target);
                }
            }
        }
    }
    targets
}

fn parent(module: &[String]) -> Vec<String> {
    module[..module.len().saturating_sub(1)].to_vec()
}

/// Tarjan's strongly connected components of size two or more, each sorted.
fn cycles(graph: &BTreeMap<Vec<String>, BTreeSet<Vec<String>>>) -> Vec<Vec<Vec<String>>> {
    struct State<'g> {
        graph: &'g BTreeMap<Vec<String>, BTreeSet<Vec<String>>>,
        index: BTreeMap<&'g Vec<String>, usize>,
        low: BTreeMap<&'g Vec<String>, usize>,
        stack: Vec<&'g Vec<String>>,
        on_stack: BTreeSet<&'g Vec<String>>,
        next: usize,
        found: Vec<Vec<Vec<String>>>,
    }
    fn visit<'g>(s: &mut State<'g>, v: &'g Vec<String>) {
        s.index.insert(v, s.next);
        s.low.insert(v, s.next);
        s.next += 1;
        s.stack.push(v);
        s.on_stack.insert(v);
        for w in s.graph.get(v).into_iter().flatten() {
            let Some((w, _)) = s.graph.get_key_value(w) else { continue };
            if !s.index.contains_key(w) {
                visit(s, w);
                let low = s.low[v].min(s.low[w]);
                s.low.insert(v, low);
            } else if s.on_stack.contains(w) {
                let low = s.low[v].min(s.index[w]);
                s.low.insert(v, low);
            }
        }
        if s.low[v] == s.index[v] {
            let mut component = Vec::new();
            while let Some(w) = s.stack.pop() {
                s.on_stack.remove(w);
                component.push(w.clone());
                if w == v {
                    break;
                }
            }
            if component.len() > 1 {
                component.sort();
                s.found.push(component);
            }
        }
    }
    let mut state = State {
        graph,
        index: BTreeMap::new(),
        low: BTreeMap::new(),
        stack: Vec::new(),
        on_stack: BTreeSet::new(),
        next: 0,
        found: Vec::new(),
    };
    for v in graph.keys() {
        if !state.index.contains_key(v) {
            visit(&mut state, v);
        }
    }
    state.found.sort();
    state.found
}

/// A module path as its file would be named in a report (`client/session.rs` style, from the crate's src).
fn display(modules: &BTreeMap<Vec<String>, PathBuf>, src: &Path, module: &[String]) -> String {
    modules
        .get(module)
        .and_then(|p| p.strip_prefix(src).ok())
        .map_or_else(|| module.join("::"), |p| p.display().to_string())
}

/// Every crate's cycles: crate directory name → cycles, each the sorted files (relative to the crate's src).
pub fn find() -> Result<BTreeMap<String, Vec<Vec<String>>>> {
    let mut all = BTreeMap::new();
    let crates = root().join("crates");
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(&crates)
        .map_err(|e| format!("{}: {e}", crates.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.join("src").is_dir())
        .collect();
    dirs.sort();
    for dir in dirs {
        let src = dir.join("src");
        let modules = modules(&src)?;
        let mut graph = BTreeMap::new();
        for (module, path) in &modules {
            let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
            graph.insert(module.clone(), dependencies(&code_of(&text), module, &modules));
        }
        let name = dir.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        if std::env::var_os("XTASK_CYCLE_EDGES").is_some() {
            for component in cycles(&graph) {
                for from in &component {
                    for to in graph[from].iter().filter(|t| component.contains(t)) {
                        eprintln!("  {name}: {} -> {}", display(&modules, &src, from), display(&modules, &src, to));
                    }
                }
            }
        }
        let found: Vec<Vec<String>> = cycles(&graph)
            .into_iter()
            .map(|c| c.iter().map(|m| display(&modules, &src, m)).collect::<BTreeSet<_>>().into_iter().collect())
            .collect();
        if !found.is_empty() {
            all.insert(name, found);
        }
    }
    Ok(all)
}

/// `cargo xtask cycles`: prints every cycle and fails when there is one (`XTASK_CYCLE_EDGES=1` prints the edges).
pub fn check() -> Result {
    let found = find()?;
    let mut all = Vec::new();
    for (name, cycles) in &found {
        for cycle in cycles {
            eprintln!("module cycle in crates/{name}: {}", cycle.join(" <-> "));
            all.push(format!("crates/{name}: {}", cycle.join(", ")));
        }
    }
    if all.is_empty() { Ok(()) } else { Err(format!("module cycles: {}", all.join("; "))) }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn module(path: &str) -> Vec<String> {
        path.split("::").filter(|s| !s.is_empty()).map(str::to_owned).collect()
    }

    #[test]
    fn use_trees_expand_to_every_path() {
        let code = "use crate::{a::{B, c::D}, e};";
        let start = code.find("crate::").unwrap() + "crate::".len();
        let paths: Vec<String> = paths_after(code, start).iter().map(|p| p.join("::")).collect();
        assert_eq!(paths, ["a::B", "a::c::D", "e"]);
    }

    #[test]
    fn comments_and_strings_do_not_count() {
        let code = code_of("// crate::a\n/* crate::b */ let s = \"crate::c\"; crate::d::f();");
        assert!(!code.contains("crate::a") && !code.contains("crate::b") && !code.contains("crate::c"));
        assert!(code.contains("crate::d::f"));
    }

    #[test]
    fn a_cycle_between_siblings_is_found_and_a_parent_naming_its_children_is_not() {
        let modules: BTreeMap<Vec<String>, PathBuf> =
            ["", "a", "b", "c"].iter().map(|m| (module(m), PathBuf::from(format!("{m}.rs")))).collect();
        let mut graph = BTreeMap::new();
        graph.insert(module(""), dependencies("pub use crate::a::X; pub use self::b::Y;", &module(""), &modules));
        graph.insert(module("a"), dependencies("use super::b::Y; use crate::X;", &module("a"), &modules));
        graph.insert(module("b"), dependencies("fn f() { crate::a::g() }", &module("b"), &modules));
        graph.insert(module("c"), dependencies("use crate::a::X;", &module("c"), &modules));
        assert!(graph[&module("")].is_empty(), "a parent naming its children is structure");
        assert_eq!(cycles(&graph), vec![vec![module("a"), module("b")]]);
    }
}
