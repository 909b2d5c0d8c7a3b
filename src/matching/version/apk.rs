//! Alpine package versions, ordered as apk-tools orders them.
//!
//! A version is read as a stream of typed tokens: numbers (after a `.`, leading zeros form
//! a token of their own that sorts below any number, so `1.02 < 1.1`), one letter, `_`
//! suffixes (`alpha`, `beta`, `pre`, `rc` before the release; `cvs`, `svn`, `git`, `hg`,
//! `p` after it) with optional numbers, and a final `-rN` revision. Tokens compare while
//! both sides have the same kind; when the kinds part, the side that ends or moves on to a
//! "later" kind of token is the older one, unless the other side continues with a
//! pre-release suffix.

use std::cmp::Ordering;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ApkVersion(Vec<(Kind, i128)>);

/// Token kinds in apk-tools' order; a later kind at a parting point means an older version.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Kind {
    DigitOrZero,
    Digit,
    Letter,
    Suffix,
    SuffixNumber,
    Revision,
    End,
}

const PRE_SUFFIXES: [&str; 4] = ["alpha", "beta", "pre", "rc"];
const POST_SUFFIXES: [&str; 5] = ["cvs", "svn", "git", "hg", "p"];

impl ApkVersion {
    pub fn parse(text: &str) -> Result<ApkVersion, String> {
        let mut rest = text.trim().as_bytes();
        let mut kind = Kind::Digit;
        let mut tokens = Vec::new();
        while kind != Kind::End {
            let value = token(kind, &mut rest)?;
            tokens.push((kind, value));
            kind = next_kind(kind, &mut rest)
                .ok_or_else(|| format!("unexpected text {:?}", String::from_utf8_lossy(rest)))?;
        }
        tokens.push((Kind::End, 0));
        Ok(ApkVersion(tokens))
    }
}

/// Reads the value of a token of `kind` at the start of `rest`.
fn token(kind: Kind, rest: &mut &[u8]) -> Result<i128, String> {
    match kind {
        Kind::DigitOrZero if rest.first() == Some(&b'0') => {
            let zeros = take(rest, |b| b == b'0');
            Ok(-i128::try_from(zeros.len()).map_err(|_| "too many zeros".to_owned())?)
        }
        Kind::DigitOrZero | Kind::Digit | Kind::SuffixNumber | Kind::Revision => number(rest),
        Kind::Letter => {
            let letter = rest[0];
            *rest = &rest[1..];
            Ok(i128::from(letter))
        }
        Kind::Suffix => suffix(rest),
        Kind::End => Ok(0),
    }
}

fn number(rest: &mut &[u8]) -> Result<i128, String> {
    let digits = take(rest, |b| b.is_ascii_digit());
    let text = std::str::from_utf8(digits).map_err(|e| e.to_string())?;
    if text.is_empty() {
        return Err("expected a number".to_owned());
    }
    text.parse()
        .map_err(|_| format!("number {text} is too large"))
}

fn suffix(rest: &mut &[u8]) -> Result<i128, String> {
    let name = take(rest, |b| b.is_ascii_lowercase());
    let name = std::str::from_utf8(name).map_err(|e| e.to_string())?;
    let pre = PRE_SUFFIXES.iter().position(|s| *s == name);
    let post = POST_SUFFIXES.iter().position(|s| *s == name);
    match (pre, post) {
        (Some(i), _) => Ok(i as i128 - PRE_SUFFIXES.len() as i128),
        (_, Some(i)) => Ok(i as i128),
        _ => Err(format!("unknown suffix _{name}")),
    }
}

fn take<'a>(rest: &mut &'a [u8], keep: impl Fn(u8) -> bool) -> &'a [u8] {
    let end = rest.iter().position(|&b| !keep(b)).unwrap_or(rest.len());
    let (run, tail) = rest.split_at(end);
    *rest = tail;
    run
}

/// The kind of the next token, consuming its separator; `None` when the text is invalid.
fn next_kind(after: Kind, rest: &mut &[u8]) -> Option<Kind> {
    let Some(&c) = rest.first() else {
        return Some(Kind::End);
    };
    let numeric = matches!(after, Kind::DigitOrZero | Kind::Digit);
    let (kind, skip) = match c {
        b'.' if numeric => (Kind::DigitOrZero, 1),
        b'0'..=b'9' if numeric => (Kind::Digit, 0),
        b'0'..=b'9' if after == Kind::Suffix => (Kind::SuffixNumber, 0),
        b'a'..=b'z' if numeric => (Kind::Letter, 0),
        b'_' if after < Kind::Revision => (Kind::Suffix, 1),
        b'-' if after < Kind::Revision && rest.get(1) == Some(&b'r') => (Kind::Revision, 2),
        _ => return None,
    };
    *rest = &rest[skip..];
    Some(kind)
}

impl Ord for ApkVersion {
    fn cmp(&self, other: &Self) -> Ordering {
        let (a, b) = (&self.0, &other.0);
        let mut i = 0;
        while i < a.len() && i < b.len() && a[i].0 == b[i].0 && a[i].0 != Kind::End {
            if a[i].1 != b[i].1 {
                return a[i].1.cmp(&b[i].1);
            }
            i += 1;
        }
        parting(a.get(i).copied(), b.get(i).copied())
    }
}

/// Who is newer where the token kinds part.
fn parting(a: Option<(Kind, i128)>, b: Option<(Kind, i128)>) -> Ordering {
    let (ka, kb) = (a.map_or(Kind::End, |t| t.0), b.map_or(Kind::End, |t| t.0));
    if ka == kb {
        return Ordering::Equal;
    }
    let pre_release = |t: Option<(Kind, i128)>| t.is_some_and(|(k, v)| k == Kind::Suffix && v < 0);
    if pre_release(a) {
        return Ordering::Less;
    }
    if pre_release(b) {
        return Ordering::Greater;
    }
    kb.cmp(&ka)
}

impl PartialOrd for ApkVersion {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn alpine_fixes_compare_with_revisions() {
        let v = |t| ApkVersion::parse(t).unwrap();
        assert!(v("10.6.7-r0") < v("10.6.8-r0"));
        assert!(v("1.0.2q-r0") > v("1.0.2p-r3"));
        assert!(v("1.1_rc1") < v("1.1"));
        assert!(v("1.1_p1") > v("1.1-r5"));
    }

    #[test]
    fn invalid_versions_are_refused() {
        assert!(ApkVersion::parse("1.0bc").is_err());
        assert!(ApkVersion::parse("1.0_foo").is_err());
        assert!(ApkVersion::parse("").is_err());
    }
}
