//! The library's modules form a pipeline, not a tower: no module uses one that uses it back,
//! directly or through others (docs/design.md, "The pipeline"). This test reads every source
//! file, collects the modules each one names (`crate::…`, `super::…`, `self::…` and its own
//! child modules, `use` groups included, comments and `#[cfg(test)]` code left out), and fails
//! naming the files of every cycle.
//!
//! A parent module that only declares its children (`mod walk;`) does not use them; a parent
//! that names a child's item does, and the child must then not name the parent's items.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// A module path (`export::walk`) and the file that holds it.
struct Module {
    path: Vec<String>,
    file: PathBuf,
    /// The code: comments, strings' contents and the test module removed.
    code: String,
}

fn modules(src: &Path) -> Vec<Module> {
    let mut found = Vec::new();
    let mut stack = vec![src.to_owned()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).expect("the source directory is readable") {
            let file = entry.expect("a directory entry").path();
            if file.is_dir() {
                stack.push(file);
                continue;
            }
            if file.extension().is_none_or(|e| e != "rs") {
                continue;
            }
            let relative = file.strip_prefix(src).expect("under src");
            let mut path: Vec<String> = relative.iter().map(|c| c.to_string_lossy().into_owned()).collect();
            let last = path.pop().expect("a file name");
            match last.as_str() {
                "lib.rs" | "mod.rs" => {}
                name => path.push(name.trim_end_matches(".rs").to_owned()),
            }
            if path.last().is_some_and(|p| p == "tests" || p == "import_graph") {
                continue;
            }
            let text = std::fs::read_to_string(&file).expect("a source file is readable");
            found.push(Module { path, file: relative.to_owned(), code: code_only(&text) });
        }
    }
    found
}

/// The text without comments, without the contents of string literals, and cut where the test
/// module starts (tests may use anything).
fn code_only(text: &str) -> String {
    let end = text.find("#[cfg(test)]\nmod tests").unwrap_or(text.len());
    let mut out = String::new();
    let mut chars = text[..end].chars().peekable();
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
                    if !escaped && c == '"' {
                        break;
                    }
                    escaped = !escaped && c == '\\';
                }
                out.push_str("\"\"");
            }
            // A char literal such as '"' or '{' must not open a string or a group.
            '\'' => {
                let rest: String = chars.clone().take(12).collect();
                if let Some(escape) = rest.strip_prefix('\\') {
                    // `'\''`, `'\n'`, `'\u{7f}'`: the escaped character, then up to the quote.
                    if let Some(close) = escape.chars().skip(1).position(|c| c == '\'') {
                        chars.nth(close + 2);
                    }
                } else if rest.chars().nth(1) == Some('\'') {
                    chars.next();
                    chars.next();
                }
                out.push('\'');
            }
            c => out.push(c),
        }
    }
    out
}

/// Every path the code names from `prefix` on (`crate::a::{b, c::d}` gives `a::b` and `a::c::d`),
/// as segments.
fn paths_after(code: &str, prefix: &str) -> Vec<Vec<String>> {
    let mut paths = Vec::new();
    let bytes = code.as_bytes();
    let mut at = 0;
    while let Some(found) = code[at..].find(prefix) {
        let start = at + found;
        at = start + prefix.len();
        let before = start.checked_sub(1).map(|i| bytes[i] as char);
        if before.is_some_and(|c| c.is_alphanumeric() || c == '_' || c == ':') {
            continue;
        }
        parse_tree(code, &mut at, Vec::new(), &mut paths);
    }
    paths
}

/// Parses a use tree at `at` (after a `::`), appending each full path to `out`.
fn parse_tree(code: &str, at: &mut usize, prefix: Vec<String>, out: &mut Vec<Vec<String>>) {
    let skip_space = |at: &mut usize| {
        while code[*at..].starts_with(char::is_whitespace) {
            *at += code[*at..].chars().next().map_or(1, char::len_utf8);
        }
    };
    skip_space(at);
    if code[*at..].starts_with('{') {
        *at += 1;
        loop {
            skip_space(at);
            if code[*at..].starts_with('}') || *at >= code.len() {
                *at += 1;
                break;
            }
            parse_tree(code, at, prefix.clone(), out);
            skip_space(at);
            if code[*at..].starts_with(',') {
                *at += 1;
            }
        }
        return;
    }
    let ident: String = code[*at..].chars().take_while(|c| c.is_alphanumeric() || *c == '_' || *c == '*').collect();
    *at += ident.len();
    let mut path = prefix;
    if !ident.is_empty() && ident != "*" && ident != "self" {
        path.push(ident);
    }
    if code[*at..].starts_with("::") {
        *at += 2;
        parse_tree(code, at, path, out);
    } else {
        out.push(path);
    }
}

/// The modules each module uses, by module path.
fn graph(modules: &[Module]) -> BTreeMap<Vec<String>, BTreeSet<Vec<String>>> {
    let known: BTreeSet<&Vec<String>> = modules.iter().map(|m| &m.path).collect();
    let resolve = |path: Vec<String>| -> Option<Vec<String>> { (0..=path.len()).rev().map(|n| path[..n].to_vec()).find(|candidate| known.contains(candidate)) };
    let mut edges = BTreeMap::new();
    for module in modules {
        let mut used = BTreeSet::new();
        let is_dir_module = module.file.ends_with("mod.rs") || module.file.ends_with("lib.rs");
        // `super` of a file `a/b.rs` (module a::b) is `a`; of `a/mod.rs` (module a) too is its parent.
        let parent: Vec<String> = module.path[..module.path.len().saturating_sub(1)].to_vec();
        let mut named = Vec::new();
        named.extend(paths_after(&module.code, "crate::"));
        named.extend(paths_after(&module.code, "super::").into_iter().map(|p| [parent.clone(), p].concat()));
        named.extend(paths_after(&module.code, "self::").into_iter().map(|p| [module.path.clone(), p].concat()));
        if is_dir_module || module.path.is_empty() {
            for child in modules.iter().filter(|m| m.path.len() == module.path.len() + 1 && m.path.starts_with(&module.path)) {
                let name = child.path.last().expect("a child has a name");
                let prefix = format!("{name}::");
                named.extend(paths_after(&module.code, &prefix).into_iter().map(|p| [child.path.clone(), p].concat()));
            }
        }
        for path in named {
            if let Some(target) = resolve(path) {
                if target != module.path && !target.is_empty() {
                    used.insert(target);
                }
            }
        }
        edges.insert(module.path.clone(), used);
    }
    edges
}

/// The strongly connected components with more than one module (Tarjan's algorithm).
fn cycles(edges: &BTreeMap<Vec<String>, BTreeSet<Vec<String>>>) -> Vec<Vec<Vec<String>>> {
    struct Tarjan<'a> {
        edges: &'a BTreeMap<Vec<String>, BTreeSet<Vec<String>>>,
        index: BTreeMap<&'a Vec<String>, usize>,
        low: BTreeMap<&'a Vec<String>, usize>,
        stack: Vec<&'a Vec<String>>,
        on_stack: BTreeSet<&'a Vec<String>>,
        found: Vec<Vec<Vec<String>>>,
    }
    impl<'a> Tarjan<'a> {
        fn visit(&mut self, node: &'a Vec<String>) {
            let n = self.index.len();
            self.index.insert(node, n);
            self.low.insert(node, n);
            self.stack.push(node);
            self.on_stack.insert(node);
            for next in self.edges.get(node).into_iter().flatten() {
                if !self.index.contains_key(next) {
                    self.visit(next);
                    let low = self.low[node].min(self.low[next]);
                    self.low.insert(node, low);
                } else if self.on_stack.contains(next) {
                    let low = self.low[node].min(self.index[next]);
                    self.low.insert(node, low);
                }
            }
            if self.low[node] == self.index[node] {
                let mut component = Vec::new();
                while let Some(top) = self.stack.pop() {
                    self.on_stack.remove(top);
                    component.push(top.clone());
                    if top == node {
                        break;
                    }
                }
                if component.len() > 1 {
                    component.sort();
                    self.found.push(component);
                }
            }
        }
    }
    let mut tarjan = Tarjan { edges, index: BTreeMap::new(), low: BTreeMap::new(), stack: Vec::new(), on_stack: BTreeSet::new(), found: Vec::new() };
    for node in edges.keys() {
        if !tarjan.index.contains_key(node) {
            tarjan.visit(node);
        }
    }
    tarjan.found
}

#[test]
fn no_module_uses_one_that_uses_it_back() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let modules = modules(&src);
    assert!(modules.len() > 20, "found only {} modules under {}", modules.len(), src.display());
    let edges = graph(&modules);
    let file_of = |path: &Vec<String>| modules.iter().find(|m| &m.path == path).map(|m| m.file.display().to_string()).expect("a known module");
    let found: Vec<String> = cycles(&edges)
        .iter()
        .map(|component| {
            let uses: Vec<String> = component
                .iter()
                .flat_map(|from| edges[from].iter().filter(|to| component.contains(to)).map(move |to| format!("{} -> {}", file_of(from), file_of(to))))
                .collect();
            uses.join(", ")
        })
        .collect();
    assert!(found.is_empty(), "modules that use each other (break each cycle by moving what both need into a module of its own):\n{}", found.join("\n"));
}

#[test]
fn the_reader_sees_use_groups_and_ignores_comments_and_strings() {
    let code =
        code_only("use crate::{a, b::{c, d::E}};\n// crate::comment\nlet s = \"crate::string\";\nlet c = '\"'; let q = '\''; let b = '\\'; super::f::g();\n");
    assert_eq!(paths_after(&code, "crate::"), vec![vec!["a"], vec!["b", "c"], vec!["b", "d", "E"]]);
    assert_eq!(paths_after(&code, "super::"), vec![vec!["f", "g"]]);
    let edges =
        BTreeMap::from([(vec!["a".to_owned()], BTreeSet::from([vec!["b".to_owned()]])), (vec!["b".to_owned()], BTreeSet::from([vec!["a".to_owned()]]))]);
    assert_eq!(cycles(&edges).len(), 1, "a two-module cycle is found");
}
