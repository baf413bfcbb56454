//! The architecture docs/architecture.md describes is the one in the tree:
//! every folder and file under `src/` is in its map, no two source files
//! import each other (directly or in a loop), the library's parts depend on
//! each other only downwards, and code cites the project's own docs.
//!
//! Imports are read from the source text: `use` declarations (groups
//! flattened) and paths written out in code (`crate::a::b`, `super::c`), each
//! resolved to the file that defines what it names, through re-exports
//! (`pub use x::Y` in a folder's `mod.rs`). A folder's `mod.rs` declaring and
//! re-exporting its files is not an import; using one of them in its code is.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::{Path, PathBuf};

const ROOT: &str = env!("CARGO_MANIFEST_DIR");

/// One crate's source files: path relative to `src/` → text without
/// comments and without its `#[cfg(test)] mod tests`.
struct Crate {
    files: BTreeMap<String, String>,
    /// Module path (from the crate root) → file.
    modules: HashMap<Vec<String>, String>,
    /// Where the crate's root module lives (`""` for `lib.rs`).
    base: Vec<String>,
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The source without `//` comments and without the unit tests at its end.
fn code_of(text: &str) -> String {
    let code = match text.find("#[cfg(test)]\nmod tests") {
        Some(at) => &text[..at],
        None => text,
    };
    code.lines()
        .map(|line| match line.find("//") {
            // A `//` inside a string ("https://...") cuts the rest of that
            // line only; no import follows a URL on its line.
            Some(at) => &line[..at],
            None => line,
        })
        .collect::<Vec<_>>()
        .join("\n")
}

impl Crate {
    /// The files under `src/` + `dir`, whose root module is `root` (lib.rs,
    /// main.rs); `skip` folders belong to another crate.
    fn read(dir: &str, root: &str, skip: Option<&str>) -> Self {
        let src = Path::new(ROOT).join("src");
        let mut paths = Vec::new();
        rust_files(&src.join(dir), &mut paths);
        let mut files = BTreeMap::new();
        let mut modules = HashMap::new();
        let base: Vec<String> = dir
            .split('/')
            .filter(|s| !s.is_empty())
            .map(String::from)
            .collect();
        for path in paths {
            let rel = path
                .strip_prefix(&src)
                .unwrap()
                .to_string_lossy()
                .replace('\\', "/");
            if skip.is_some_and(|skip| rel.starts_with(skip)) {
                continue;
            }
            let text = std::fs::read_to_string(&path).unwrap();
            let mut module: Vec<String> = rel
                .trim_end_matches(".rs")
                .split('/')
                .map(String::from)
                .collect();
            if module.last().is_some_and(|m| m == "mod" || m == root) {
                module.pop();
            }
            let module = module[base.len()..].to_vec();
            modules.insert(module, rel.clone());
            files.insert(rel, code_of(&text));
        }
        Crate {
            files,
            modules,
            base,
        }
    }

    fn module_of(&self, file: &str) -> Vec<String> {
        self.modules
            .iter()
            .find(|(_, f)| *f == file)
            .map(|(m, _)| m.clone())
            .unwrap()
    }

    fn is_folder_module(file: &str) -> bool {
        file.ends_with("mod.rs") || file.ends_with("lib.rs") || file.ends_with("main.rs")
    }

    /// The modules declared directly under `module`.
    fn children(&self, module: &[String]) -> BTreeSet<String> {
        self.modules
            .keys()
            .filter(|m| m.len() == module.len() + 1 && m.starts_with(module))
            .map(|m| m.last().unwrap().clone())
            .collect()
    }

    /// `path` (as written in `file`) from the crate root, or `None` when it
    /// names another crate.
    fn absolute(&self, file: &str, path: &[String]) -> Option<Vec<String>> {
        let here = self.module_of(file);
        let (first, rest) = path.split_first()?;
        match first.as_str() {
            "crate" => Some(rest.to_vec()),
            "self" => Some([here, rest.to_vec()].concat()),
            "super" => {
                let mut base = here;
                let mut rest = path;
                while rest.first().is_some_and(|s| s == "super") {
                    base.pop();
                    rest = &rest[1..];
                }
                Some([base, rest.to_vec()].concat())
            }
            child if Self::is_folder_module(file) && self.children(&here).contains(child) => {
                Some([here, path.to_vec()].concat())
            }
            _ => None,
        }
    }

    /// Every path each `use` declaration of `code` names, groups flattened.
    fn uses(code: &str) -> Vec<(bool, Vec<String>)> {
        let mut out = Vec::new();
        let bytes = code.as_bytes();
        let mut at = 0;
        while let Some(found) = code[at..].find("use ") {
            let start = at + found;
            at = start + 4;
            let boundary = start == 0
                || !(bytes[start - 1].is_ascii_alphanumeric() || bytes[start - 1] == b'_');
            if !boundary {
                continue;
            }
            let Some(end) = code[at..].find(';') else {
                break;
            };
            let public = code[..start].trim_end().ends_with("pub")
                || code[..start].trim_end().ends_with(')');
            // The tree's tokens without renames (`x as y` is `x`), joined.
            let mut tree = String::new();
            let mut rename = false;
            for word in tokens(&code[at..at + end]) {
                if rename {
                    rename = false;
                } else if word == "as" {
                    rename = true;
                } else {
                    tree.push_str(&word);
                }
            }
            for path in flatten(&tree) {
                out.push((public, path));
            }
            at += end;
        }
        out
    }

    /// Paths written out in code: `crate::`, `super::`, `self::`, and in a
    /// folder's `mod.rs` its own files' names.
    fn inline_paths(&self, file: &str, code: &str) -> Vec<Vec<String>> {
        let mut heads: Vec<String> = vec!["crate".into(), "super".into(), "self".into()];
        if Self::is_folder_module(file) {
            heads.extend(self.children(&self.module_of(file)));
        }
        let mut out = Vec::new();
        let words = tokens(code);
        for (i, word) in words.iter().enumerate() {
            if !heads.contains(word) || (i > 0 && words[i - 1] == "::") {
                continue;
            }
            let mut path = vec![word.clone()];
            let mut j = i + 1;
            while j + 1 < words.len() && words[j] == "::" && is_ident(&words[j + 1]) {
                path.push(words[j + 1].clone());
                j += 2;
            }
            if path.len() > 1 {
                out.push(path);
            }
        }
        out
    }

    /// `pub use` in each module: (module, name) → what it names.
    fn reexports(&self) -> HashMap<(Vec<String>, String), Vec<String>> {
        let mut out = HashMap::new();
        for (file, code) in &self.files {
            for (public, path) in Self::uses(code) {
                if !public {
                    continue;
                }
                if let Some(absolute) = self.absolute(file, &path) {
                    if let Some(name) = absolute.last() {
                        out.insert((self.module_of(file), name.clone()), absolute);
                    }
                }
            }
        }
        out
    }

    /// The file that defines what `path` (from the crate root) names.
    fn resolve(
        &self,
        path: &[String],
        reexports: &HashMap<(Vec<String>, String), Vec<String>>,
        depth: usize,
    ) -> Option<String> {
        for n in (0..=path.len()).rev() {
            let module = path[..n].to_vec();
            if let Some(file) = self.modules.get(&module) {
                if let (Some(next), true) = (path.get(n), depth < 16) {
                    if let Some(target) = reexports.get(&(module.clone(), next.clone())) {
                        let mut followed = target.clone();
                        followed.extend_from_slice(&path[n + 1..]);
                        return self.resolve(&followed, reexports, depth + 1);
                    }
                }
                return Some(file.clone());
            }
        }
        None
    }

    /// file → the files it imports.
    fn imports(&self) -> BTreeMap<String, BTreeSet<String>> {
        let reexports = self.reexports();
        let mut graph = BTreeMap::new();
        for (file, code) in &self.files {
            let mut targets = BTreeSet::new();
            let declared_here = Self::is_folder_module(file);
            let mut paths: Vec<Vec<String>> = Vec::new();
            for (public, path) in Self::uses(code) {
                // A folder's re-exports of its own files name them, they do
                // not depend on them.
                let own_file = declared_here
                    && self.absolute(file, &path).is_some_and(|a| {
                        a.len() > self.module_of(file).len() && a.starts_with(&self.module_of(file))
                    });
                if !(public && own_file) {
                    paths.push(path);
                }
            }
            paths.extend(self.inline_paths(file, code));
            for path in paths {
                if let Some(absolute) = self.absolute(file, &path) {
                    if let Some(target) = self.resolve(&absolute, &reexports, 0) {
                        if &target != file {
                            targets.insert(target);
                        }
                    }
                }
            }
            graph.insert(file.clone(), targets);
        }
        graph
    }
}

fn is_ident(word: &str) -> bool {
    word.chars()
        .next()
        .is_some_and(|c| c.is_alphabetic() || c == '_')
        && word.chars().all(|c| c.is_alphanumeric() || c == '_')
}

/// Identifiers and `::`, in order (everything else separates them).
fn tokens(code: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut word = String::new();
    let chars: Vec<char> = code.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c.is_alphanumeric() || c == '_' {
            word.push(c);
        } else {
            if !word.is_empty() {
                out.push(std::mem::take(&mut word));
            }
            if c == ':' && chars.get(i + 1) == Some(&':') {
                out.push("::".into());
                i += 1;
            } else if !c.is_whitespace() {
                out.push(c.to_string());
            }
        }
        i += 1;
    }
    if !word.is_empty() {
        out.push(word);
    }
    out
}

/// `a::{b,c::{d,e}}` (renames already dropped) → `a::b`, `a::c::d`,
/// `a::c::e`; `x::{self}` → `x`.
fn flatten(tree: &str) -> Vec<Vec<String>> {
    fn walk(prefix: &[String], tree: &str, out: &mut Vec<Vec<String>>) {
        if let Some(open) = tree.find('{') {
            let head: Vec<String> = tree[..open]
                .split("::")
                .filter(|s| !s.is_empty())
                .map(String::from)
                .collect();
            let prefix = [prefix.to_vec(), head].concat();
            let inner = &tree[open + 1..tree.len().saturating_sub(1)];
            let mut depth = 0;
            let mut item = String::new();
            for c in inner.chars() {
                match c {
                    '{' => depth += 1,
                    '}' => depth -= 1,
                    _ => {}
                }
                if c == ',' && depth == 0 {
                    walk(&prefix, &std::mem::take(&mut item), out);
                } else {
                    item.push(c);
                }
            }
            if !item.is_empty() {
                walk(&prefix, &item, out);
            }
        } else {
            let mut path = prefix.to_vec();
            path.extend(
                tree.split("::")
                    .filter(|s| !s.is_empty() && *s != "self" && *s != "*")
                    .map(String::from),
            );
            out.push(path);
        }
    }
    let mut out = Vec::new();
    walk(&[], tree, &mut out);
    out
}

/// The groups of files that import each other, directly or in a loop.
fn cycles(graph: &BTreeMap<String, BTreeSet<String>>) -> Vec<Vec<String>> {
    // Tarjan's strongly connected components.
    struct State<'g> {
        graph: &'g BTreeMap<String, BTreeSet<String>>,
        index: HashMap<&'g str, usize>,
        low: HashMap<&'g str, usize>,
        stack: Vec<&'g str>,
        on_stack: BTreeSet<&'g str>,
        next: usize,
        found: Vec<Vec<String>>,
    }
    fn visit<'g>(s: &mut State<'g>, v: &'g str) {
        s.index.insert(v, s.next);
        s.low.insert(v, s.next);
        s.next += 1;
        s.stack.push(v);
        s.on_stack.insert(v);
        for w in s.graph.get(v).into_iter().flatten() {
            let w = w.as_str();
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
                component.push(w.to_string());
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
        index: HashMap::new(),
        low: HashMap::new(),
        stack: Vec::new(),
        on_stack: BTreeSet::new(),
        next: 0,
        found: Vec::new(),
    };
    for v in graph.keys() {
        if !state.index.contains_key(v.as_str()) {
            visit(&mut state, v);
        }
    }
    state.found
}

fn library() -> Crate {
    Crate::read("", "lib", Some("bin/"))
}

fn command() -> Crate {
    Crate::read("bin/pingpong", "main", None)
}

#[test]
fn the_import_reader_follows_groups_paths_and_reexports() {
    assert_eq!(
        flatten("super::{a::B,c::{d,e},self}"),
        vec![
            vec!["super", "a", "B"],
            vec!["super", "c", "d"],
            vec!["super", "c", "e"],
            vec!["super"],
        ]
    );
    assert_eq!(
        Crate::uses("pub use x::{Alias as Other, y::Z};"),
        vec![
            (true, vec!["x".to_string(), "Alias".to_string()]),
            (
                true,
                vec!["x".to_string(), "y".to_string(), "Z".to_string()]
            ),
        ]
    );
    let lib = library();
    let graph = lib.imports();
    // A `use super::{ClientError, ...}` in client/race.rs names client/error.rs
    // through client/mod.rs's re-export.
    assert!(
        graph["client/race.rs"].contains("client/error.rs"),
        "{:?}",
        graph["client/race.rs"]
    );
    // An inline path: `crate::discovery::mdns::addresses::InterfaceAddress::current()`.
    assert!(graph["discovery/dns/domains.rs"].contains("discovery/mdns/addresses.rs"));
    // A folder's re-exports of its own files are not imports.
    assert!(!graph["discovery/mod.rs"].contains("discovery/candidate.rs"));
    // The reader would see a loop: two files that name each other.
    let mut looped = graph.clone();
    looped
        .get_mut("client/race.rs")
        .unwrap()
        .insert("client/connect.rs".into());
    assert!(!cycles(&looped).is_empty());
}

#[test]
fn no_two_source_files_import_each_other_directly_or_in_a_loop() {
    for (name, krate) in [("library", library()), ("command", command())] {
        assert!(krate.files.len() > 5, "{name}: {:?}", krate.base);
        let found = cycles(&krate.imports());
        assert!(
            found.is_empty(),
            "{name}: these files import each other: {found:#?}"
        );
    }
}

#[test]
fn the_library_parts_depend_on_each_other_only_downwards() {
    // The layers of docs/architecture.md, top first. The dashboard monitors
    // servers with the client: the one use across the top layer.
    let layers: [&[&str]; 3] = [
        &["client", "server", "web"],
        &["discovery"],
        &[
            "backoff",
            "deadline",
            "framed",
            "http_serve",
            "platform",
            "proto",
            "quic_close",
            "service",
            "shutdown",
            "text",
            "tls",
            "transport",
        ],
    ];
    let allowed_across = [("web", "client")];
    let layer_of = |part: &str| {
        layers
            .iter()
            .position(|layer| layer.contains(&part))
            .unwrap_or_else(|| {
                panic!("{part} is in no layer of this test and docs/architecture.md")
            })
    };
    let part_of = |file: &str| {
        file.split('/')
            .next()
            .unwrap()
            .trim_end_matches(".rs")
            .to_string()
    };
    let mut wrong = Vec::new();
    for (file, targets) in library().imports() {
        if file == "lib.rs" {
            continue;
        }
        let from = part_of(&file);
        for target in targets {
            let to = part_of(&target);
            if from == to || target == "lib.rs" {
                continue;
            }
            // Downwards, or between the shared pieces of the bottom layer
            // (framed uses proto); across the top layer only as allowed.
            let bottom = layers.len() - 1;
            let fine = layer_of(&from) < layer_of(&to)
                || (layer_of(&from) == bottom && layer_of(&to) == bottom)
                || allowed_across.contains(&(from.as_str(), to.as_str()));
            if !fine {
                wrong.push(format!("{file} -> {target}"));
            }
        }
    }
    assert!(wrong.is_empty(), "imports against the layers: {wrong:#?}");
}

/// The paths the map in docs/architecture.md lists (folders end with `/`).
fn mapped() -> BTreeSet<String> {
    let doc = std::fs::read_to_string(Path::new(ROOT).join("docs/architecture.md")).unwrap();
    let tree = doc
        .split("## The tree")
        .nth(1)
        .and_then(|rest| rest.split("```text\n").nth(1))
        .and_then(|block| block.split("```").next())
        .expect("docs/architecture.md has a ```text block under \"## The tree\"");
    let mut out = BTreeSet::new();
    let mut parents: Vec<String> = Vec::new();
    for line in tree.lines().filter(|l| !l.trim().is_empty()) {
        let depth = (line.len() - line.trim_start().len()) / 2;
        let name = line.split_whitespace().next().unwrap();
        parents.truncate(depth);
        let path = format!("{}{name}", parents.concat());
        assert!(
            name.ends_with('/') || line.trim_start().len() > name.len(),
            "docs/architecture.md: {path} has no description"
        );
        if name.ends_with('/') {
            parents.push(name.to_string());
        }
        out.insert(path);
    }
    out
}

fn tree_under(dir: &Path, rel: &str, out: &mut BTreeSet<String>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().to_string();
        if path.is_dir() {
            let folder = format!("{rel}{name}/");
            out.insert(folder.clone());
            tree_under(&path, &folder, out);
        } else {
            out.insert(format!("{rel}{name}"));
        }
    }
}

#[test]
fn the_architecture_map_lists_every_source_folder_and_file() {
    let mut actual = BTreeSet::from(["src/".to_string()]);
    tree_under(&Path::new(ROOT).join("src"), "src/", &mut actual);
    let listed = mapped();
    let missing: Vec<_> = actual.difference(&listed).collect();
    let gone: Vec<_> = listed.difference(&actual).collect();
    assert!(
        missing.is_empty() && gone.is_empty(),
        "docs/architecture.md's tree is out of date: missing {missing:?}, listed but not in src/ {gone:?}"
    );
}

#[test]
fn code_cites_the_projects_own_docs() {
    let mut paths = Vec::new();
    rust_files(&Path::new(ROOT).join("src"), &mut paths);
    let mut wrong = Vec::new();
    for path in paths {
        let text = std::fs::read_to_string(&path).unwrap();
        for (n, line) in text.lines().enumerate() {
            let place = format!("{}:{}", path.display(), n + 1);
            if line.contains("DESIGN.md") {
                wrong.push(format!(
                    "{place}: cites DESIGN.md, which is not in this repository"
                ));
            }
            for cited in line.split("docs/").skip(1) {
                let name: String = cited
                    .chars()
                    .take_while(|c| c.is_alphanumeric() || *c == '_' || *c == '-' || *c == '.')
                    .collect();
                let name = name.trim_end_matches('.');
                if name.ends_with(".md") && !Path::new(ROOT).join("docs").join(name).exists() {
                    wrong.push(format!("{place}: cites docs/{name}, which does not exist"));
                }
            }
        }
    }
    assert!(wrong.is_empty(), "{wrong:#?}");
}
