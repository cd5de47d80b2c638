//! The systemd units verify, and the service's own confinement keeps its exposure score low.
//! (No booted systemd is available where the tests run, so start/stop/restart are not tested
//! here; the units are checked offline.)

mod common;

use common::*;

fn units_with_built_binary(dir: &std::path::Path) -> (std::path::PathBuf, std::path::PathBuf) {
    std::fs::create_dir_all(dir).unwrap();
    let bin = env!("CARGO_BIN_EXE_pyward");
    let src = repo_root().join("scripts/systemd");
    let service = std::fs::read_to_string(src.join("pyward.service"))
        .unwrap()
        .replace("/usr/local/bin/pyward", bin);
    let socket = std::fs::read_to_string(src.join("pyward.socket")).unwrap();
    let (s, k) = (dir.join("pyward.service"), dir.join("pyward.socket"));
    std::fs::write(&s, service).unwrap();
    std::fs::write(&k, socket).unwrap();
    (s, k)
}

#[test]
fn units_verify_and_the_service_is_well_confined() {
    if std::process::Command::new("systemd-analyze")
        .arg("--version")
        .output()
        .is_err()
    {
        skip_unless_expected("systemd-analyze", "systemd-analyze is not installed");
        return;
    }
    let dir = std::env::temp_dir().join(format!("pyward-units-{}", std::process::id()));
    let (service, socket) = units_with_built_binary(&dir);
    let verify = std::process::Command::new("systemd-analyze")
        .arg("verify")
        .arg(&socket)
        .arg(&service)
        .output()
        .unwrap();
    let complaints = String::from_utf8_lossy(&verify.stderr);
    assert!(verify.status.success(), "{complaints}");
    assert!(
        complaints.trim().is_empty(),
        "systemd-analyze verify complained:\n{complaints}"
    );

    let security = std::process::Command::new("systemd-analyze")
        .args(["security", "--offline=true"])
        .arg(&service)
        .output()
        .unwrap();
    let report = String::from_utf8_lossy(&security.stdout);
    let score: f64 = report
        .lines()
        .find_map(|l| {
            l.split("Overall exposure level for pyward.service: ")
                .nth(1)
        })
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no exposure score in:\n{report}"));
    eprintln!("systemd-analyze security: exposure {score} (0 = most confined, 10 = not at all)");
    assert!(
        score <= 3.0,
        "the service's exposure rose to {score}:\n{report}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}
