//! Grammar-shaped Python: the fuzzer's bytes choose productions of a small Python grammar
//! (`pyward_fuzz::python`) weighted towards what escapes are made of, so the scanner's walker
//! and folding see deep, valid programs rather than mostly syntax errors.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let source = pyward_fuzz::python(data);
    pyward_fuzz::check_scan(source.as_bytes());
});
