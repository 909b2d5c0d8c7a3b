//! RubyGems versions, ordered as `Gem::Version#<=>` orders them.
//!
//! Segments are runs of digits (numbers) or letters (strings); a `-` reads as `.pre.`.
//! Trailing zeros of the release part and of the pre-release part are ignored, a missing
//! segment reads as `0`, and a string segment sorts below any number (so `1.0.a < 1.0`).

use std::cmp::Ordering;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GemVersion(Vec<Segment>);

#[derive(Clone, Debug, PartialEq, Eq)]
enum Segment {
    Number(String),
    Text(String),
}

impl GemVersion {
    pub fn parse(text: &str) -> Result<GemVersion, String> {
        let text = text.trim();
        let valid = text.bytes().next().is_some_and(|b| b.is_ascii_digit())
            && text
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-'));
        if !valid {
            return Err(
                "a gem version is digits, letters, `.` and `-`, starting with a digit".into(),
            );
        }
        let text = text.replace('-', ".pre.");
        Ok(GemVersion(canonical(segments(&text))))
    }
}

fn segments(text: &str) -> Vec<Segment> {
    let mut out = Vec::new();
    for part in text.split('.') {
        let mut run = String::new();
        for c in part.chars() {
            if !run.is_empty() && c.is_ascii_digit() != run.as_bytes()[0].is_ascii_digit() {
                out.push(segment(&run));
                run.clear();
            }
            run.push(c);
        }
        if !run.is_empty() {
            out.push(segment(&run));
        }
    }
    out
}

fn segment(run: &str) -> Segment {
    if run.as_bytes()[0].is_ascii_digit() {
        let digits = run.trim_start_matches('0');
        Segment::Number(digits.to_owned())
    } else {
        Segment::Text(run.to_owned())
    }
}

/// Trailing zeros removed from the release part and from the pre-release part.
fn canonical(segments: Vec<Segment>) -> Vec<Segment> {
    let split = segments
        .iter()
        .position(|s| matches!(s, Segment::Text(_)))
        .unwrap_or(segments.len());
    let (release, pre) = segments.split_at(split);
    let mut out = without_trailing_zeros(release);
    out.extend(without_trailing_zeros(pre));
    out
}

fn without_trailing_zeros(segments: &[Segment]) -> Vec<Segment> {
    let zero = Segment::Number(String::new());
    let end = segments
        .iter()
        .rposition(|s| *s != zero)
        .map_or(0, |i| i + 1);
    segments[..end].to_vec()
}

fn compare(a: &Segment, b: &Segment) -> Ordering {
    match (a, b) {
        (Segment::Number(x), Segment::Number(y)) => x.len().cmp(&y.len()).then_with(|| x.cmp(y)),
        (Segment::Text(x), Segment::Text(y)) => x.cmp(y),
        (Segment::Text(_), Segment::Number(_)) => Ordering::Less,
        (Segment::Number(_), Segment::Text(_)) => Ordering::Greater,
    }
}

impl Ord for GemVersion {
    fn cmp(&self, other: &Self) -> Ordering {
        let zero = Segment::Number(String::new());
        for i in 0..self.0.len().max(other.0.len()) {
            let a = self.0.get(i).unwrap_or(&zero);
            let b = other.0.get(i).unwrap_or(&zero);
            let order = compare(a, b);
            if order != Ordering::Equal {
                return order;
            }
        }
        Ordering::Equal
    }
}

impl PartialOrd for GemVersion {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    /// Orderings stated in RubyGems' own `Gem::Version` documentation and tests.
    #[test]
    fn rubygems_order() {
        let v = |t| GemVersion::parse(t).unwrap();
        let chain = [
            "1.0.a", "1.0.b1", "1.0.b2", "1.0.rc1", "1.0", "1.0.1", "1.1",
        ];
        for pair in chain.windows(2) {
            assert!(v(pair[0]) < v(pair[1]), "{pair:?}");
        }
        assert_eq!(v("1.0.0").cmp(&v("1")), Ordering::Equal);
        assert_eq!(v("1.0-rc1").cmp(&v("1.0.pre.rc1")), Ordering::Equal);
        assert!(v("4.1.11") < v("4.2.0") && v("3.2.22") > v("3.2.9"));
        assert!(GemVersion::parse("junk").is_err());
    }
}
