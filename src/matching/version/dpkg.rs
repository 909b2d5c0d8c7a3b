//! Debian package versions, ordered as `dpkg --compare-versions` orders them.
//!
//! `[epoch:]upstream[-revision]`: epochs compare as numbers; upstream and revision compare
//! by alternating runs of non-digits (letters before other characters, `~` before
//! everything, even the end) and digits (as numbers).

use std::cmp::Ordering;

use super::digits::{compare_numeric, take_while};

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DebVersion {
    epoch: u32,
    upstream: String,
    revision: String,
}

impl DebVersion {
    pub fn parse(text: &str) -> Result<DebVersion, String> {
        let text = text.trim();
        if text.is_empty() {
            return Err("empty version".to_owned());
        }
        let (epoch, rest) = match text.split_once(':') {
            Some((epoch, rest)) => (parse_epoch(epoch)?, rest),
            None => (0, text),
        };
        let (upstream, revision) = rest.rsplit_once('-').unwrap_or((rest, ""));
        check_upstream(upstream)?;
        check_chars(revision, "revision", |c| matches!(c, '.' | '+' | '~'))?;
        Ok(DebVersion {
            epoch,
            upstream: upstream.to_owned(),
            revision: revision.to_owned(),
        })
    }
}

fn parse_epoch(epoch: &str) -> Result<u32, String> {
    if epoch.is_empty() || !epoch.bytes().all(|b| b.is_ascii_digit()) {
        return Err(format!("epoch {epoch:?} is not a number"));
    }
    epoch
        .parse()
        .map_err(|_| format!("epoch {epoch:?} is too large"))
}

fn check_upstream(upstream: &str) -> Result<(), String> {
    if upstream.is_empty() {
        return Err("empty upstream version".to_owned());
    }
    check_chars(upstream, "upstream version", |c| {
        matches!(c, '.' | '+' | '~' | '-' | ':')
    })
}

fn check_chars(part: &str, what: &str, extra: fn(char) -> bool) -> Result<(), String> {
    match part
        .chars()
        .find(|&c| !c.is_ascii_alphanumeric() && !extra(c))
    {
        Some(bad) => Err(format!("character {bad:?} is not allowed in the {what}")),
        None => Ok(()),
    }
}

/// dpkg's weight of a non-digit character; `None` is the end of the string.
fn weight(c: Option<u8>) -> i32 {
    match c {
        None => 0,
        Some(b'~') => -1,
        Some(c) if c.is_ascii_digit() => 0,
        Some(c) if c.is_ascii_alphabetic() => i32::from(c),
        Some(c) => i32::from(c) + 256,
    }
}

/// dpkg's `verrevcmp`.
fn compare_part(a: &str, b: &str) -> Ordering {
    let (mut a, mut b) = (a.as_bytes(), b.as_bytes());
    while !a.is_empty() || !b.is_empty() {
        let order = compare_non_digits(&mut a, &mut b);
        if order != Ordering::Equal {
            return order;
        }
        let order = compare_digits(&mut a, &mut b);
        if order != Ordering::Equal {
            return order;
        }
    }
    Ordering::Equal
}

fn starts_with_digit(s: &[u8]) -> bool {
    s.first().is_some_and(u8::is_ascii_digit)
}

fn compare_non_digits(a: &mut &[u8], b: &mut &[u8]) -> Ordering {
    while (!a.is_empty() && !starts_with_digit(a)) || (!b.is_empty() && !starts_with_digit(b)) {
        let (wa, wb) = (weight(a.first().copied()), weight(b.first().copied()));
        if wa != wb {
            return wa.cmp(&wb);
        }
        *a = a.get(1..).unwrap_or_default();
        *b = b.get(1..).unwrap_or_default();
    }
    Ordering::Equal
}

fn compare_digits(a: &mut &[u8], b: &mut &[u8]) -> Ordering {
    let digits = u8::is_ascii_digit;
    compare_numeric(take_while(a, digits), take_while(b, digits))
}

impl Ord for DebVersion {
    fn cmp(&self, other: &Self) -> Ordering {
        self.epoch
            .cmp(&other.epoch)
            .then_with(|| compare_part(&self.upstream, &other.upstream))
            .then_with(|| compare_part(&self.revision, &other.revision))
    }
}

impl PartialOrd for DebVersion {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn bad_versions_are_refused_with_a_reason() {
        let cases = [
            ("", "empty version"),
            ("a:1", "epoch \"a\" is not a number"),
            ("-1", "empty upstream version"),
            (
                "1.0 1",
                "character ' ' is not allowed in the upstream version",
            ),
            (
                "5.2@3-2",
                "character '@' is not allowed in the upstream version",
            ),
            (
                "999999999999999999999999:0-1",
                "epoch \"999999999999999999999999\" is too large",
            ),
        ];
        for (text, reason) in cases {
            assert_eq!(DebVersion::parse(text).unwrap_err(), reason, "{text}");
        }
    }

    #[test]
    fn tilde_sorts_before_the_end() {
        let v = |t| DebVersion::parse(t).unwrap();
        assert!(v("1.0~rc1-1") < v("1.0-1"));
        assert!(v("1:0.1") > v("9.9"));
    }
}
