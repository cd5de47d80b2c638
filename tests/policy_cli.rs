//! `pyward policy init` and `pyward policy validate` end to end.

mod common;

use common::*;

fn tempfile(name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("pyward-policy-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(name);
    let _ = std::fs::remove_file(&path);
    path
}

#[test]
fn init_writes_a_policy_that_validates() {
    let path = tempfile("init.toml");
    let out = run(pyward().args(["policy", "init"]).arg(&path));
    assert!(out.status.success());
    let out = run(pyward().args(["policy", "validate"]).arg(&path));
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout(&out).contains(": ok"));
}

#[test]
fn init_does_not_overwrite_without_force() {
    let path = tempfile("exists.toml");
    std::fs::write(&path, "# mine\n").unwrap();
    let out = run(pyward().args(["policy", "init"]).arg(&path));
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--force"));
    assert_eq!(std::fs::read_to_string(&path).unwrap(), "# mine\n");
    assert!(
        run(pyward().args(["policy", "init", "--force"]).arg(&path))
            .status
            .success()
    );
}

#[test]
fn validate_says_what_is_wrong_and_where() {
    let path = tempfile("bad.toml");
    std::fs::write(
        &path,
        "[sandbox]\nmemory_mb = 1\nwall_ms = 1\n\n[scan]\nallowed_imports = [\"json\", \"not a module\"]\n",
    )
    .unwrap();
    let out = run(pyward().args(["policy", "validate"]).arg(&path));
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    let name = path.display().to_string();
    assert!(
        err.contains(&format!("{name}:2:13: key `sandbox.memory_mb`")),
        "{err}"
    );
    assert!(
        err.contains(&format!("{name}:3:11: key `sandbox.wall_ms`")),
        "{err}"
    );
    assert!(err.contains("key `scan.allowed_imports[1]`"), "{err}");

    std::fs::write(&path, "[sandbox]\nmemory = 1\n").unwrap();
    let out = run(pyward().args(["policy", "validate"]).arg(&path));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains(&format!("{name}:2:1")) && err.contains("unknown field `memory`"),
        "{err}"
    );
}

#[test]
fn validate_refuses_an_allowed_import_the_interpreter_cannot_import() {
    let path = tempfile("unimportable");
    std::fs::write(
        &path,
        "[scan]\nallowed_imports = [\"json\", \"pyward\", \"no_such_module_pyward\", \"textwrap\"]\n",
    )
    .unwrap();
    let out = run(pyward().args(["policy", "validate"]).arg(&path));
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains("`no_such_module_pyward` cannot be imported")
            && err.contains("scan.allowed_imports")
            && !err.contains("`textwrap`"),
        "{err}"
    );
}
