//! Maven versions, ordered by the POM reference's "version order specification" (what
//! Maven's `ComparableVersion` implements, and what OSV uses).
//!
//! A version splits into tokens at `.`, `-` and digit/letter transitions; each token
//! remembers its separator. A letter-to-digit transition counts as `-` (`1-alpha2` is
//! `1-alpha-2`), a digit-to-letter one as `.` (`1.0a` equals `1.0.a`), which is what
//! Maven's own `ComparableVersionTest` requires. Trailing "null" tokens (`0`, `ga`,
//! `final`, `release`) are trimmed, at the end and again before each remaining `-`, so
//! `1.0.0` equals `1`. Tokens then compare pairwise, the shorter side padded with nulls:
//! qualifiers order `alpha < beta < milestone < rc = cr < snapshot < (release) < sp`,
//! other words after them alphabetically; and `.qualifier = -qualifier < -number < .number`.

use std::cmp::Ordering;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MavenVersion(Vec<Token>);

#[derive(Clone, Debug, PartialEq, Eq)]
struct Token {
    /// Whether the token follows a `-` (or a digit/letter transition) rather than a `.`.
    hyphen: bool,
    value: Value,
}

#[derive(Clone, Debug, PartialEq, Eq)]
enum Value {
    /// Digits without leading zeros (any length); empty is zero.
    Number(String),
    /// A qualifier, aliases resolved; empty is the release.
    Word(String),
}

const QUALIFIERS: [&str; 7] = ["alpha", "beta", "milestone", "rc", "snapshot", "", "sp"];

impl MavenVersion {
    /// Every text is a Maven version; there is no parse error.
    pub fn parse(text: &str) -> MavenVersion {
        MavenVersion(trimmed(tokens(&text.trim().to_lowercase())))
    }
}

/// Splits at separators and transitions; an empty token reads as `0`.
fn tokens(text: &str) -> Vec<Token> {
    let mut out = Vec::new();
    let (mut run, mut hyphen) = (String::new(), false);
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '.' || c == '-' {
            out.push(token(hyphen, &run, false));
            (run, hyphen) = (String::new(), c == '-');
            continue;
        }
        run.push(c);
        let next_is_digit = chars.peek().is_some_and(char::is_ascii_digit);
        let transition = chars
            .peek()
            .is_some_and(|n| *n != '.' && *n != '-' && n.is_ascii_digit() != c.is_ascii_digit());
        if transition {
            out.push(token(hyphen, &run, next_is_digit));
            (run, hyphen) = (String::new(), next_is_digit);
        }
    }
    out.push(token(hyphen, &run, false));
    out
}

fn token(hyphen: bool, run: &str, followed_by_digit: bool) -> Token {
    let value = if run.bytes().all(|b| b.is_ascii_digit()) {
        Value::Number(run.trim_start_matches('0').to_owned())
    } else {
        Value::Word(alias(run, followed_by_digit).to_owned())
    };
    Token { hyphen, value }
}

fn alias(word: &str, followed_by_digit: bool) -> &str {
    match word {
        "a" if followed_by_digit => "alpha",
        "b" if followed_by_digit => "beta",
        "m" if followed_by_digit => "milestone",
        "ga" | "final" | "release" => "",
        "cr" => "rc",
        other => other,
    }
}

impl Token {
    fn is_null(&self) -> bool {
        match &self.value {
            Value::Number(digits) => digits.is_empty(),
            Value::Word(word) => word.is_empty(),
        }
    }

    /// The null of this token's kind, with its separator: what pads the shorter side.
    fn null(&self) -> Token {
        let value = match self.value {
            Value::Number(_) => Value::Number(String::new()),
            Value::Word(_) => Value::Word(String::new()),
        };
        Token {
            hyphen: self.hyphen,
            value,
        }
    }
}

/// Trims nulls from the end; after a non-null token, jumps to the `-` that opened its
/// group and goes on trimming before it. The first token always stays.
fn trimmed(mut tokens: Vec<Token>) -> Vec<Token> {
    let mut i = tokens.len().saturating_sub(1);
    while i > 0 {
        if tokens[i].is_null() {
            tokens.remove(i);
            i -= 1;
            continue;
        }
        while i > 0 && !tokens[i].hyphen {
            i -= 1;
        }
        i = i.saturating_sub(1);
    }
    tokens
}

fn rank(word: &str) -> (usize, &str) {
    match QUALIFIERS.iter().position(|q| *q == word) {
        Some(index) => (index, ""),
        None => (QUALIFIERS.len(), word),
    }
}

fn compare(a: &Token, b: &Token) -> Ordering {
    match (&a.value, &b.value) {
        (Value::Number(x), Value::Number(y)) if a.hyphen == b.hyphen => {
            x.len().cmp(&y.len()).then_with(|| x.cmp(y))
        }
        // `-number < .number`
        (Value::Number(_), Value::Number(_)) => b.hyphen.cmp(&a.hyphen),
        (Value::Word(x), Value::Word(y)) => rank(x).cmp(&rank(y)),
        (Value::Word(_), Value::Number(_)) => Ordering::Less,
        (Value::Number(_), Value::Word(_)) => Ordering::Greater,
    }
}

impl Ord for MavenVersion {
    fn cmp(&self, other: &Self) -> Ordering {
        let (a, b) = (&self.0, &other.0);
        for i in 0..a.len().max(b.len()) {
            let order = match (a.get(i), b.get(i)) {
                (Some(x), Some(y)) => compare(x, y),
                (Some(x), None) => compare(x, &x.null()),
                (None, Some(y)) => compare(&y.null(), y),
                (None, None) => Ordering::Equal,
            };
            if order != Ordering::Equal {
                return order;
            }
        }
        Ordering::Equal
    }
}

impl PartialOrd for MavenVersion {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(text: &str) -> MavenVersion {
        MavenVersion::parse(text)
    }

    #[test]
    fn trimming_follows_the_specification_examples() {
        for (long, short) in [("1.0.0", "1"), ("1.ga", "1"), ("1.", "1"), ("1-", "1")] {
            assert_eq!(v(long), v(short), "{long}");
        }
        assert_eq!(v("1.0.0-foo.0.0"), v("1-foo"));
        assert_eq!(v("1.0.0-0.0.0"), v("1"));
    }

    #[test]
    fn netty_final_releases_order_by_number() {
        assert!(v("4.1.82.Final") < v("4.1.100.Final"));
        assert!(v("4.1.100.Final") < v("4.1.100.1"));
    }
}
