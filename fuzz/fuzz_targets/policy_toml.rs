//! Any text as a policy file. Checks: no panic; a refused policy says why, with a location.
#![no_main]

use libfuzzer_sys::fuzz_target;
use pyward_policy::Policy;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Err(errors) = Policy::from_toml_str(text, "fuzz.toml") {
        assert!(!errors.is_empty(), "refused without a reason");
        for e in errors {
            assert!(!e.message.is_empty(), "an empty message: {e:?}");
            let shown = e.to_string();
            assert!(shown.starts_with("fuzz.toml"), "no location: {shown}");
        }
    }
});
