//! The public API of every module the default policy lets a module import, taken from the
//! interpreter pyward embeds by `scripts/gen-module-api` (CPython 3.11; `pyward` by hand).
//!
//! The scanner allows an attribute read on a known module object only when this table lists it:
//! `json.dumps` passes, while `json.codecs`, `typing.sys` or `dataclasses.builtins` (modules the
//! allowed module happens to import) are refused unless that module is itself importable. The
//! table is an allowlist taken from the interpreter, not a list of known-bad attributes, so a
//! module reached by a chain nobody thought of is refused too.

/// One module's public attributes: those that are not modules (`api`), and those that are
/// (`submodules`: attribute name, the module's real name). Both sorted, for binary search.
#[derive(Debug)]
pub(super) struct ModuleApi {
    pub name: &'static str,
    pub api: &'static [&'static str],
    pub submodules: &'static [(&'static str, &'static str)],
}

include!("module_api_table.rs");

/// The table entry of a module, by its full dotted name.
pub(super) fn lookup(module: &str) -> Option<&'static ModuleApi> {
    MODULES
        .binary_search_by(|m| m.name.cmp(module))
        .ok()
        .map(|i| &MODULES[i])
}

impl ModuleApi {
    /// Is `attr` a public attribute of this module that is not a module?
    pub fn has(&self, attr: &str) -> bool {
        self.api.binary_search(&attr).is_ok()
    }

    /// The module that the attribute `attr` of this module is, if it is one.
    pub fn submodule(&self, attr: &str) -> Option<&'static str> {
        self.submodules
            .binary_search_by(|(a, _)| a.cmp(&attr))
            .ok()
            .map(|i| self.submodules[i].1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_covers_every_default_allowed_module() {
        for module in crate::scan::DEFAULT_ALLOWED_IMPORTS {
            assert!(
                lookup(module).is_some(),
                "`{module}` is on the default import allowlist but not in the module-API table; \
                 run scripts/gen-module-api"
            );
        }
        // `import urllib.parse` binds `urllib`: the parent of a dotted entry is described too.
        assert!(lookup("urllib").is_some_and(|m| m.submodule("parse") == Some("urllib.parse")));
    }

    #[test]
    fn table_is_sorted_for_binary_search() {
        assert!(MODULES.windows(2).all(|w| w[0].name < w[1].name));
        for m in MODULES {
            assert!(m.api.windows(2).all(|w| w[0] < w[1]), "{}", m.name);
            assert!(
                m.submodules.windows(2).all(|w| w[0].0 < w[1].0),
                "{}",
                m.name
            );
        }
    }

    #[test]
    fn lookups() {
        let json = lookup("json").unwrap();
        assert!(json.has("dumps"));
        assert!(!json.has("codecs"));
        assert_eq!(json.submodule("codecs"), Some("codecs"));
        assert_eq!(lookup("typing").unwrap().submodule("sys"), Some("sys"));
        assert!(lookup("re").unwrap().has("compile"));
        assert!(lookup("pyward").unwrap().has("kv_get"));
        assert!(
            !lookup("io").unwrap().has("FileIO"),
            "excluded by the generator"
        );
        assert!(lookup("os").is_none());
    }
}
