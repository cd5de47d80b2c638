//! The scanner must judge exactly the tree the interpreter compiles: both must use one parser
//! crate at one version. This fails if `Cargo.lock` ever resolves them apart.

use std::path::Path;

#[test]
fn scanner_and_interpreter_share_one_parser_version() {
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
        for user in ["rustpython-compiler", "pyward-policy"] {
            let user_pkg = find(user);
            assert_eq!(user_pkg.len(), 1, "{user} appears once");
            let deps: Vec<&str> = user_pkg[0]["dependencies"]
                .as_array()
                .unwrap()
                .iter()
                .map(|d| d.as_str().unwrap())
                .collect();
            assert!(
                deps.iter()
                    .any(|d| *d == parser_crate || *d == format!("{parser_crate} {version}")),
                "{user} does not depend on {parser_crate} {version}: {deps:?}"
            );
        }
    }
    let compiler = find("rustpython-compiler");
    assert_eq!(compiler[0]["version"].as_str(), Some("0.5.0"));
}
