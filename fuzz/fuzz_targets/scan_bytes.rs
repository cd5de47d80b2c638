//! Any bytes as a module's source, under the default policy (see `pyward_fuzz::check_scan`).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    pyward_fuzz::check_scan(data);
});
