//! The compiler's stages run one way: the order `src/lib.rs` writes down is read from
//! there, and every `crate::` path in the code (unit tests left out) must name a module of
//! the same stage or an earlier one.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

use syn::visit::{self, Visit};

/// The stage of each top-level module, from the numbered list in `lib.rs`'s docs: a line
/// `//! 3. [`ir`], [`limits`]: ...` puts `ir` and `limits` in stage 3.
fn stages(lib: &str) -> BTreeMap<String, usize> {
    let mut stages = BTreeMap::new();
    for line in lib.lines() {
        let Some(entry) = line.strip_prefix("//! ") else {
            continue;
        };
        let Some((number, rest)) = entry.split_once(". ") else {
            continue;
        };
        let (Ok(stage), Some((names, _))) = (number.parse::<usize>(), rest.split_once(':')) else {
            continue;
        };
        for name in names.split('`').skip(1).step_by(2) {
            stages.insert(name.to_owned(), stage);
        }
    }
    stages
}

/// The first name after `crate::` of every path in a file, unit tests left out.
#[derive(Default)]
struct CratePaths(Vec<String>);

impl Visit<'_> for CratePaths {
    fn visit_item_mod(&mut self, item: &syn::ItemMod) {
        let test_only = item.attrs.iter().any(|attr| {
            attr.path().is_ident("cfg")
                && attr
                    .parse_args::<syn::Ident>()
                    .is_ok_and(|arg| arg == "test")
        });
        if !test_only {
            visit::visit_item_mod(self, item);
        }
    }

    fn visit_use_tree(&mut self, tree: &syn::UseTree) {
        if let syn::UseTree::Path(path) = tree
            && path.ident == "crate"
        {
            self.0.extend(first_names(&path.tree));
            return;
        }
        visit::visit_use_tree(self, tree);
    }

    fn visit_path(&mut self, path: &syn::Path) {
        let mut segments = path.segments.iter();
        if let (Some(first), Some(second)) = (segments.next(), segments.next())
            && first.ident == "crate"
        {
            self.0.push(second.ident.to_string());
        }
        visit::visit_path(self, path);
    }
}

/// The names a use tree starts with: `ir::X` gives `ir`, `{ir, spec::Y}` gives both.
fn first_names(tree: &syn::UseTree) -> Vec<String> {
    match tree {
        syn::UseTree::Path(path) => vec![path.ident.to_string()],
        syn::UseTree::Name(name) => vec![name.ident.to_string()],
        syn::UseTree::Rename(rename) => vec![rename.ident.to_string()],
        syn::UseTree::Glob(_) => vec!["*".to_owned()],
        syn::UseTree::Group(group) => group.items.iter().flat_map(first_names).collect(),
    }
}

fn crate_paths(source: &str) -> Vec<String> {
    let file = syn::parse_file(source).expect("the compiler's sources parse");
    let mut paths = CratePaths::default();
    paths.visit_file(&file);
    paths.0
}

fn sources(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            sources(&path, out);
        } else if path.extension().is_some_and(|ext| ext == "rs") {
            out.push(path);
        }
    }
}

#[test]
fn no_module_imports_from_a_later_stage() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let stages = stages(&fs::read_to_string(src.join("lib.rs")).unwrap());
    assert!(stages.len() > 10, "lib.rs lists the stages: {stages:?}");
    let mut files = Vec::new();
    sources(&src, &mut files);
    let mut problems = Vec::new();
    for file in files {
        let relative = file.strip_prefix(&src).unwrap();
        let first = relative.components().next().unwrap().as_os_str();
        let module = first.to_string_lossy().trim_end_matches(".rs").to_owned();
        if module == "lib" {
            continue;
        }
        let Some(&stage) = stages.get(&module) else {
            problems.push(format!("module `{module}` is in no stage of lib.rs's list"));
            continue;
        };
        for path in crate_paths(&fs::read_to_string(&file).unwrap()) {
            match stages.get(&path) {
                Some(&used) if used > stage => problems.push(format!(
                    "{}: `{module}` (stage {stage}) uses `crate::{path}` (stage {used})",
                    relative.display()
                )),
                Some(_) => {}
                None => problems.push(format!(
                    "{}: `crate::{path}` is not a module of a stage: use it from the module \
                     that defines it",
                    relative.display()
                )),
            }
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn the_check_reads_the_list_and_sees_every_crate_path() {
    let stages = stages(
        "//! 1. [`ir`]: the IR;\n//!    wrapped: text\n//! 2. `emit`, [`output`]: printers;\n",
    );
    assert_eq!(
        stages,
        BTreeMap::from([("ir".into(), 1), ("emit".into(), 2), ("output".into(), 2)])
    );
    let paths = crate_paths(
        "use crate::{emit::GeneratedFile, ir};\n// crate::output in a comment\n\
         const A: &str = \"crate::output\";\nfn f() -> crate::view::View { todo!() }\n\
         #[cfg(test)]\nmod tests { use crate::output; }\n",
    );
    assert_eq!(paths, ["emit", "ir", "view"]);
}
