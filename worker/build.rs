//! Records where the CPython that pyo3 links against keeps its standard library, so that the
//! embedded interpreter imports from exactly there (and Landlock can grant reading exactly that).

use std::process::Command;

fn main() {
    println!("cargo:rerun-if-env-changed=PYO3_PYTHON");
    let python = std::env::var("PYO3_PYTHON").unwrap_or_else(|_| "python3".to_string());
    let out = Command::new(&python)
        .args([
            "-I",
            "-c",
            "import sys, sysconfig\n\
             print(sys.base_prefix)\n\
             print(sysconfig.get_path('stdlib'))\n\
             print(sysconfig.get_config_var('DESTSHARED') or sysconfig.get_path('platstdlib') + '/lib-dynload')\n\
             print('%d.%d' % sys.version_info[:2])",
        ])
        .output()
        .unwrap_or_else(|e| panic!("cannot run {python} to find its standard library: {e}"));
    assert!(
        out.status.success(),
        "{python} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).expect("paths are UTF-8");
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 4, "unexpected answer from {python}: {text}");
    for (key, value) in [
        "PYWARD_PYTHON_HOME",
        "PYWARD_PYTHON_STDLIB",
        "PYWARD_PYTHON_DYNLOAD",
        "PYWARD_PYTHON_VERSION",
    ]
    .into_iter()
    .zip(lines)
    {
        println!("cargo:rustc-env={key}={value}");
    }
}
