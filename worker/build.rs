//! Records where the CPython that pyo3 links against keeps its standard library, so that the
//! embedded interpreter imports from exactly there (and Landlock can grant reading exactly that).

use std::process::Command;

fn main() {
    println!("cargo:rerun-if-env-changed=PYO3_PYTHON");
    println!("cargo:rerun-if-changed=src/runtime/bootstrap.py");
    println!("cargo:rerun-if-changed=src/runtime/pyward.py");
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
    compile_to_marshal(&python);
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

/// The bootstrap and the `pyward` module, compiled once here by the same CPython the worker
/// links (same bytecode version), so that an interpreter start does not compile them again.
/// The runtime falls back to compiling the source if the marshalled code does not load.
fn compile_to_marshal(python: &str) {
    let out_dir = std::env::var("OUT_DIR").expect("cargo sets OUT_DIR");
    for (source, filename, output) in [
        (
            "src/runtime/bootstrap.py",
            "<pyward bootstrap>",
            "bootstrap.marshal",
        ),
        ("src/runtime/pyward.py", "<pyward>", "pyward.marshal"),
    ] {
        let script = "import marshal, sys\n\
                      src = open(sys.argv[1], encoding='utf-8').read()\n\
                      code = compile(src, sys.argv[2], 'exec', dont_inherit=True)\n\
                      open(sys.argv[3], 'wb').write(marshal.dumps(code))";
        let status = Command::new(python)
            .args(["-I", "-c", script, source, filename])
            .arg(format!("{out_dir}/{output}"))
            .status()
            .unwrap_or_else(|e| panic!("cannot run {python} to compile {source}: {e}"));
        assert!(status.success(), "{python} could not compile {source}");
    }
}
