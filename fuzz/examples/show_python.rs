//! Print the Python program a `scan_python` input stands for, to read a crash or a timeout:
//! `cargo run --example show_python -- artifacts/scan_python/crash-...`
fn main() {
    let path = std::env::args().nth(1).expect("usage: show_python FILE");
    let bytes = std::fs::read(&path).unwrap_or_else(|e| panic!("cannot read {path}: {e}"));
    print!("{}", pyward_fuzz::python(&bytes));
}
