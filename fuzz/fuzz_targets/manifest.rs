//! Any bytes as a manifest payload: parsing must return Ok or a typed error, never
//! panic, and whatever parses must survive a canonical round trip unchanged.
#![no_main]

use libfuzzer_sys::fuzz_target;
use stella_scheduler::bundle::{Limits, Manifest};

fuzz_target!(|data: &[u8]| {
    if let Ok(manifest) = Manifest::parse(data, &Limits::default()) {
        let again = Manifest::parse(&manifest.to_canonical_json(), &Limits::default())
            .expect("a parsed manifest re-parses from its canonical form");
        assert_eq!(manifest, again);
    }
});
