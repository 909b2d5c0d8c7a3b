//! Any bytes as a bundle file: verification must end in a verdict, never a panic,
//! within small limits so the fuzzer explores structure rather than size.
#![no_main]

use std::io::Write as _;

use libfuzzer_sys::fuzz_target;
use stella_scheduler::bundle::{Discard, Limits, Trust, TrustFile, Verifier};

fuzz_target!(|data: &[u8]| {
    let mut file = tempfile::NamedTempFile::new().expect("temp file");
    file.write_all(data).expect("write input");
    let trust = Trust::from_file(&TrustFile::empty()).expect("empty trust is valid");
    let limits = Limits {
        max_compressed_bytes: 1 << 20,
        max_total_bytes: 4 << 20,
        max_member_bytes: 1 << 20,
        max_members: 1000,
        max_manifest_bytes: 1 << 20,
        max_window_log: 20,
    };
    let report = Verifier::new(&trust, limits).verify(file.path(), &mut Discard);
    // With no trusted key nothing can be valid.
    assert!(!report.is_valid());
});
