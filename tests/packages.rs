//! A vetted PyPI package with a compiled core works inside the walls: pydantic (its core is a
//! Rust extension module) installed with `pip install --target` into the policy's
//! `sandbox.packages_dir` and allowlisted, imported before the sandbox (a C extension cannot be
//! mapped after seccomp), used by a module through `pyward run` and through the daemon.

mod common;

use std::path::PathBuf;
use std::process::Command;

use common::daemon::*;
use common::*;
use serde_json::json;

const MODULE: &str = r#""""Sign-ups checked with pydantic."""
import pyward
from pydantic import BaseModel, ValidationError


class SignUp(BaseModel):
    name: str
    age: int


@pyward.command("signup", security="everyone", help="signup NAME AGE")
def signup(event, args):
    name, _, age = args.partition(" ")
    try:
        user = SignUp(name=name, age=age)
    except ValidationError as error:
        return "invalid: " + str(error.errors()[0]["loc"][0])
    return "{} is {}".format(user.name, user.age)
"#;

/// pydantic in a directory of its own, installed once per machine (kept between runs).
fn packages() -> Option<PathBuf> {
    let dir = std::env::temp_dir().join("pyward-test-packages-pydantic");
    if dir.join("pydantic").is_dir() && dir.join("pydantic_core").is_dir() {
        return Some(dir);
    }
    let staging = dir.with_extension(format!("staging-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&staging);
    let installed = Command::new("python3")
        .args([
            "-m",
            "pip",
            "install",
            "--quiet",
            "--disable-pip-version-check",
        ])
        .args([
            "--only-binary=:all:",
            "--python-version",
            "3.11",
            "--target",
        ])
        .arg(&staging)
        .arg("pydantic>=2,<3")
        .status();
    match installed {
        Ok(status) if status.success() => {
            let _ = std::fs::remove_dir_all(&dir);
            std::fs::rename(&staging, &dir).unwrap();
            Some(dir)
        }
        other => {
            skip_unless_expected(
                "pypi",
                &format!("cannot pip install pydantic from PyPI: {other:?}"),
            );
            None
        }
    }
}

fn policy_lines(dir: &std::path::Path) -> String {
    let mut allowed: Vec<String> = pyward_policy::scan::DEFAULT_ALLOWED_IMPORTS
        .iter()
        .map(|s| format!("\"{s}\""))
        .collect();
    allowed.push("\"pydantic\"".into());
    format!(
        "[scan]\nallowed_imports = [{}]\n\n[sandbox]\npackages_dir = \"{}\"\n",
        allowed.join(", "),
        dir.display()
    )
}

#[test]
fn pydantic_validates_input_through_pyward_run_and_the_daemon() {
    let Some(dir) = packages() else { return };
    let work = std::env::temp_dir().join(format!("pyward-packages-{}", std::process::id()));
    std::fs::create_dir_all(&work).unwrap();
    let config = work.join("policy.toml");
    std::fs::write(&config, policy_lines(&dir)).unwrap();
    let module = work.join("signup.py");
    std::fs::write(&module, MODULE).unwrap();

    let validated = run(pyward().args(["policy", "validate"]).arg(&config));
    assert!(
        validated.status.success(),
        "{}",
        String::from_utf8_lossy(&validated.stderr)
    );
    for (args, expected) in [("\"ann 41\"", "ann is 41"), ("\"bob old\"", "invalid: age")] {
        let out = run(pyward()
            .args(["run", "--json", "--config"])
            .arg(&config)
            .arg(&module)
            .args(["--call", "signup", "--args", args]));
        let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(report["status"], "ok", "{report}");
        assert_eq!(report["result"], expected, "{report}");
    }

    let daemon = Daemon::start("packages", &policy_lines(&dir));
    let mut c = daemon.client();
    let loaded = c.call("module.load", json!({ "name": "signup", "source": MODULE }));
    assert!(loaded["result"].is_object(), "{loaded}");
    for (args, expected) in [("carol 30", "carol is 30"), ("dan x", "invalid: age")] {
        let r = c.call(
            "module.call",
            json!({ "module": "signup", "command": "signup", "args": args, "caller": { "user": "@u" } }),
        );
        assert_eq!(r["result"]["result"], expected, "{r}");
    }
    let _ = std::fs::remove_dir_all(&work);
}
