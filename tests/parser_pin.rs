//! The scanner parses with RustPython's published ruff parser crates; CPython compiles what
//! runs. The two are different parsers by design, and the worker's parser cross-check
//! (`parser-differential`, docs/scan-rules.md) compares what CPython compiled with what the
//! scanner saw. This test keeps the scanner's side pinned: one version of each parser crate,
//! used by the policy crate, and no second Python implementation linked into the binary.

use std::path::Path;

#[test]
fn the_scanner_uses_one_parser_version_and_the_worker_no_other_python() {
    let lock_path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../Cargo.lock");
    let lock: toml::Value = toml::from_str(&std::fs::read_to_string(lock_path).unwrap()).unwrap();
    let packages = lock["package"].as_array().unwrap();
    let find = |name: &str| -> Vec<&toml::Value> {
        packages
            .iter()
            .filter(|p| p["name"].as_str() == Some(name))
            .collect()
    };
    for parser_crate in [
        "rustpython-ruff_python_parser",
        "rustpython-ruff_python_ast",
    ] {
        let versions = find(parser_crate);
        assert_eq!(
            versions.len(),
            1,
            "{parser_crate} resolved to several versions"
        );
        let version = versions[0]["version"].as_str().unwrap();
        let policy = find("pyward-policy");
        assert_eq!(policy.len(), 1, "pyward-policy appears once");
        let deps: Vec<&str> = policy[0]["dependencies"]
            .as_array()
            .unwrap()
            .iter()
            .map(|d| d.as_str().unwrap())
            .collect();
        assert!(
            deps.iter()
                .any(|d| *d == parser_crate || *d == format!("{parser_crate} {version}")),
            "pyward-policy does not depend on {parser_crate} {version}: {deps:?}"
        );
    }
    for gone in ["rustpython", "rustpython-vm", "rustpython-compiler"] {
        assert!(
            find(gone).is_empty(),
            "{gone} is in Cargo.lock: the worker embeds CPython (pyo3) and nothing else"
        );
    }
    assert_eq!(find("pyo3").len(), 1, "one pyo3");
}
