//! The modules a source imports, wherever the import statement sits: what a one-shot worker
//! imports before its sandbox goes up (C extensions cannot be loaded after it).
//!
//! Parses with the scanner's parser, whose recursion depth follows the source's nesting: call it
//! only on a source the scanner has accepted (the scan bounds nesting from tokens first).

use ruff_python_ast::visitor::{self, Visitor};
use ruff_python_ast::{Stmt, StmtImport, StmtImportFrom};

#[derive(Default)]
struct Imports {
    names: Vec<String>,
}

impl<'a> Visitor<'a> for Imports {
    fn visit_stmt(&mut self, stmt: &'a Stmt) {
        match stmt {
            Stmt::Import(StmtImport { names, .. }) => {
                self.names
                    .extend(names.iter().map(|alias| alias.name.to_string()));
            }
            Stmt::ImportFrom(StmtImportFrom {
                module: Some(module),
                level: 0,
                ..
            }) => self.names.push(module.to_string()),
            _ => {}
        }
        visitor::walk_stmt(self, stmt);
    }
}

/// Absolute module names imported anywhere in `source`, first occurrence order, no repeats.
/// `None` if the source does not parse.
pub fn imports_of(source: &str) -> Option<Vec<String>> {
    let parsed = ruff_python_parser::parse_module(source).ok()?;
    let mut imports = Imports::default();
    imports.visit_body(&parsed.syntax().body);
    let mut seen = std::collections::BTreeSet::new();
    imports.names.retain(|name| seen.insert(name.clone()));
    Some(imports.names)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn imports_anywhere_in_the_source_are_found_once() {
        let source = "import json, re as regex\nfrom collections.abc import Mapping\nfrom . import x\n\ndef f():\n    import zoneinfo\n    if True:\n        from decimal import Decimal\n    import json\n";
        assert_eq!(
            imports_of(source).unwrap(),
            ["json", "re", "collections.abc", "zoneinfo", "decimal"]
        );
        assert_eq!(imports_of("def (:\n"), None);
    }
}
