//! Byte-run helpers shared by the dpkg and rpm comparators, which both split versions
//! into runs of digits and non-digits and compare digit runs as numbers of any length.

use std::cmp::Ordering;

/// Takes the leading run of bytes that `keep` accepts off `s`.
pub(super) fn take_while<'a>(s: &mut &'a [u8], keep: impl Fn(&u8) -> bool) -> &'a [u8] {
    let end = s.iter().position(|c| !keep(c)).unwrap_or(s.len());
    let (run, rest) = s.split_at(end);
    *s = rest;
    run
}

/// Compares two runs of ASCII digits as numbers, however long: leading zeros do not
/// count, then the longer number is larger, then the bytes decide.
pub(super) fn compare_numeric(a: &[u8], b: &[u8]) -> Ordering {
    let (a, b) = (strip_zeros(a), strip_zeros(b));
    a.len().cmp(&b.len()).then_with(|| a.cmp(b))
}

fn strip_zeros(digits: &[u8]) -> &[u8] {
    let start = digits
        .iter()
        .position(|&b| b != b'0')
        .unwrap_or(digits.len());
    &digits[start..]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digit_runs_compare_as_numbers_of_any_length() {
        assert_eq!(compare_numeric(b"010", b"9"), Ordering::Greater);
        assert_eq!(compare_numeric(b"000", b""), Ordering::Equal);
        let huge = b"123456789012345678901234567890";
        assert_eq!(
            compare_numeric(huge, b"99999999999999999999"),
            Ordering::Greater
        );
        let mut s: &[u8] = b"123abc";
        assert_eq!(take_while(&mut s, u8::is_ascii_digit), b"123");
        assert_eq!(s, b"abc");
    }
}
