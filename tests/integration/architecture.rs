//! The module graph: the top-level modules of `src/` import each other one way only,
//! as `ARCHITECTURE.md` lists. An import is a `crate::<module>` path outside test code.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

type Graph = BTreeMap<String, BTreeSet<String>>;

const ROOT: &str = env!("CARGO_MANIFEST_DIR");

/// The `crate::<module>` paths of one file's non-test code.
fn imports(text: &str) -> BTreeSet<String> {
    let code = text.split("#[cfg(test)]").next().unwrap_or_default();
    let code: String = code.lines().map(|l| l.split("//").next().unwrap_or_default()).collect::<Vec<_>>().join("\n");
    let name = |s: &str| s.chars().take_while(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == '_').collect();
    let mut found = BTreeSet::new();
    for (i, _) in code.match_indices("crate::") {
        let rest = &code[i + "crate::".len()..];
        if let Some(group) = rest.strip_prefix('{') {
            // `use crate::{a, b::c}`: the first segment of each part.
            let inside = group.split('}').next().unwrap_or_default();
            found.extend(inside.split(',').map(|p| name(p.trim())).filter(|n: &String| !n.is_empty() && n != "self"));
        } else {
            found.insert(name(rest));
        }
    }
    found.retain(|n| !n.is_empty());
    found
}

/// The top-level module graph of `src/`.
fn graph() -> Graph {
    let mut graph = Graph::new();
    let mut stack = vec![Path::new(ROOT).join("src")];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).unwrap().map(Result::unwrap) {
            let path = entry.path();
            if path.is_dir() {
                stack.push(path);
                continue;
            }
            if path.extension().is_none_or(|e| e != "rs") {
                continue;
            }
            let relative = path.strip_prefix(Path::new(ROOT).join("src")).unwrap();
            let first = relative.components().next().unwrap().as_os_str().to_string_lossy();
            let module = first.trim_end_matches(".rs").to_owned();
            if module == "lib" || module == "main" {
                continue;
            }
            let text = std::fs::read_to_string(&path).unwrap();
            let edges = graph.entry(module.clone()).or_default();
            edges.extend(imports(&text).into_iter().filter(|m| *m != module));
        }
    }
    graph
}

/// The edges of the first cycle found, if any.
fn cycle(graph: &Graph) -> Option<Vec<String>> {
    fn visit(node: &str, graph: &Graph, path: &mut Vec<String>, done: &mut BTreeSet<String>) -> Option<Vec<String>> {
        if let Some(start) = path.iter().position(|n| n == node) {
            let mut ring: Vec<String> = path[start..].to_vec();
            ring.push(node.to_owned());
            return Some(ring.windows(2).map(|w| format!("{}->{}", w[0], w[1])).collect());
        }
        if done.contains(node) {
            return None;
        }
        path.push(node.to_owned());
        for next in graph.get(node).into_iter().flatten() {
            if let Some(found) = visit(next, graph, path, done) {
                return Some(found);
            }
        }
        path.pop();
        done.insert(node.to_owned());
        None
    }
    let mut done = BTreeSet::new();
    graph.keys().find_map(|node| visit(node, graph, &mut Vec::new(), &mut done))
}

/// What each module may import, from the table in ARCHITECTURE.md.
fn allowed() -> Graph {
    let text = std::fs::read_to_string(Path::new(ROOT).join("ARCHITECTURE.md")).unwrap();
    let mut table = Graph::new();
    for line in text.lines() {
        let cells: Vec<&str> = line.split('|').map(str::trim).collect();
        let [_, module, imports, _, ..] = cells.as_slice() else { continue };
        let Some(module) = module.strip_prefix('`').and_then(|m| m.strip_suffix('`')) else { continue };
        let may: BTreeSet<String> = if *imports == "every module above" {
            table.keys().cloned().collect()
        } else {
            imports.split(',').map(|m| m.trim().trim_matches('`').to_owned()).filter(|m| !m.is_empty()).collect()
        };
        table.insert(module.to_owned(), may);
    }
    table
}

#[test]
fn imports_find_plain_paths_and_groups_but_not_tests_or_comments() {
    let text = "use crate::plan::Case;\nuse crate::{fs, json::canonical_json, self};\n// crate::report\nfn f() { crate::wire::x(); }\n#[cfg(test)]\nmod tests { use crate::cli; }\n";
    let found: Vec<String> = imports(text).into_iter().collect();
    assert_eq!(found, ["fs", "json", "plan", "wire"]);
}

#[test]
fn a_cycle_is_found_and_named() {
    let mut g = Graph::new();
    g.entry("a".into()).or_default().insert("b".into());
    g.entry("b".into()).or_default().insert("c".into());
    assert_eq!(cycle(&g), None);
    g.entry("c".into()).or_default().insert("a".into());
    assert_eq!(cycle(&g), Some(vec!["a->b".into(), "b->c".into(), "c->a".into()]));
}

#[test]
fn the_top_level_modules_import_each_other_one_way() {
    let graph = graph();
    assert!(graph.len() >= 15, "{graph:?}");
    if let Some(edges) = cycle(&graph) {
        panic!("the top-level modules of src/ import each other in a cycle: {}", edges.join(", "));
    }
}

#[test]
fn every_import_is_one_architecture_md_allows() {
    let allowed = allowed();
    let mut stray = Vec::new();
    for (module, imports) in graph() {
        let Some(may) = allowed.get(&module) else {
            stray.push(format!("{module} is not in ARCHITECTURE.md's module table"));
            continue;
        };
        stray.extend(imports.iter().filter(|i| !may.contains(*i)).map(|i| format!("{module}->{i}")));
    }
    assert!(stray.is_empty(), "imports ARCHITECTURE.md does not allow: {}", stray.join(", "));
}

/// The first path segments after each `prefix` in non-test code (`prefix{a, b::c}`
/// groups too).
fn paths_after(text: &str, prefix: &str) -> BTreeSet<String> {
    let code = text.split("#[cfg(test)]").next().unwrap_or_default();
    let code: String = code.lines().map(|l| l.split("//").next().unwrap_or_default()).collect::<Vec<_>>().join("\n");
    let name = |s: &str| s.chars().take_while(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == '_').collect();
    let mut found = BTreeSet::new();
    for (i, _) in code.match_indices(prefix) {
        // `crate::report::` inside `crate::report::x`, not `xcrate::report::`.
        if code[..i].ends_with(|c: char| c.is_ascii_alphanumeric() || c == '_') {
            continue;
        }
        let rest = &code[i + prefix.len()..];
        if let Some(group) = rest.strip_prefix('{') {
            let inside = group.split('}').next().unwrap_or_default();
            found.extend(inside.split(',').map(|p| name(p.trim())));
        } else {
            found.insert(name(rest));
        }
    }
    found.retain(|n: &String| !n.is_empty() && n != "self");
    found
}

/// For each top-level module with submodules: how its submodules import each other
/// (`super::x` from a direct child, `crate::<module>::x` from anywhere inside).
fn sibling_graphs() -> BTreeMap<String, Graph> {
    let src = Path::new(ROOT).join("src");
    let mut graphs = BTreeMap::new();
    for top in std::fs::read_dir(&src).unwrap().map(|e| e.unwrap().path()).filter(|p| p.is_dir()) {
        let module = top.file_name().unwrap().to_string_lossy().into_owned();
        let children: BTreeSet<String> = std::fs::read_dir(&top)
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.is_dir() || p.extension().is_some_and(|e| e == "rs"))
            .map(|p| p.file_stem().unwrap().to_string_lossy().into_owned())
            .filter(|n| n != "mod")
            .collect();
        let mut graph = Graph::new();
        let mut stack = vec![top.clone()];
        while let Some(dir) = stack.pop() {
            for path in std::fs::read_dir(&dir).unwrap().map(|e| e.unwrap().path()) {
                if path.is_dir() {
                    stack.push(path);
                    continue;
                }
                if path.extension().is_none_or(|e| e != "rs") {
                    continue;
                }
                let relative = path.strip_prefix(&top).unwrap();
                let child = relative.components().next().unwrap().as_os_str().to_string_lossy();
                let child = child.trim_end_matches(".rs").to_owned();
                if child == "mod" {
                    continue;
                }
                let text = std::fs::read_to_string(&path).unwrap();
                let mut used = paths_after(&text, &format!("crate::{module}::"));
                if relative.components().count() == 1 {
                    used.extend(paths_after(&text, "super::"));
                }
                let edges = graph.entry(child.clone()).or_default();
                edges.extend(used.into_iter().filter(|m| *m != child && children.contains(m)));
            }
        }
        graphs.insert(module, graph);
    }
    graphs
}

/// Issue 26: the last circle in the house was `report::{baseline, json, record}`.
#[test]
fn submodules_do_not_import_each_other_in_a_circle() {
    let graphs = sibling_graphs();
    assert!(graphs.get("report").is_some_and(|g| g.len() >= 5), "{graphs:?}");
    let circles: Vec<String> = graphs
        .iter()
        .filter_map(|(module, graph)| cycle(graph).map(|edges| format!("{module}::{{{}}}", edges.join(", "))))
        .collect();
    assert!(circles.is_empty(), "submodules import each other in a circle: {}", circles.join("; "));
}

#[test]
fn sibling_imports_are_found_by_super_and_by_crate_paths() {
    let text = "use super::{record, diff::unified, Reporter};\nuse crate::report::json::read;\nuse crate::reporting::x;\n#[cfg(test)]\nmod t { use super::html; }\n";
    let mut found = paths_after(text, "super::");
    found.extend(paths_after(text, "crate::report::"));
    assert_eq!(
        found.into_iter().collect::<Vec<_>>(),
        ["diff", "json", "record"],
        "items such as `Reporter` are no module"
    );
}
