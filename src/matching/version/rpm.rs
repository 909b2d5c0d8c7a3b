//! RPM `[epoch:]version[-release]`, ordered as rpm's `rpmvercmp` orders it.
//!
//! Each of version and release is compared segment by segment: separators (anything not
//! alphanumeric, `~` or `^`) are skipped, `~` sorts before everything including the end,
//! `^` sorts after the end but before anything else, digit runs compare as numbers and beat
//! letter runs. A missing release compares as an empty one, so `1.0` sorts below `1.0-1`:
//! for an advisory bound that errs towards reporting, not towards hiding.

use std::cmp::Ordering;

use super::digits::{compare_numeric, take_while};

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RpmVersion {
    epoch: u64,
    version: String,
    release: String,
}

impl RpmVersion {
    pub fn parse(text: &str) -> Result<RpmVersion, String> {
        let text = text.trim();
        let (epoch, rest) = match text.split_once(':') {
            Some((epoch, rest)) => (parse_epoch(epoch)?, rest),
            None => (0, text),
        };
        let (version, release) = rest.rsplit_once('-').unwrap_or((rest, ""));
        if version.is_empty() {
            return Err("empty version".to_owned());
        }
        Ok(RpmVersion {
            epoch,
            version: version.to_owned(),
            release: release.to_owned(),
        })
    }
}

fn parse_epoch(epoch: &str) -> Result<u64, String> {
    if epoch.is_empty() || !epoch.bytes().all(|b| b.is_ascii_digit()) {
        return Err(format!("epoch {epoch:?} is not a number"));
    }
    epoch
        .parse()
        .map_err(|_| format!("epoch {epoch:?} is too large"))
}

/// rpm's `rpmvercmp` on one part (version or release).
pub(super) fn rpmvercmp(a: &str, b: &str) -> Ordering {
    if a == b {
        return Ordering::Equal;
    }
    let (mut a, mut b) = (a.as_bytes(), b.as_bytes());
    loop {
        skip_separators(&mut a);
        skip_separators(&mut b);
        if let Some(order) = special(&mut a, &mut b) {
            match order {
                Ordering::Equal => continue,
                decided => return decided,
            }
        }
        if a.is_empty() || b.is_empty() {
            return a.len().min(1).cmp(&b.len().min(1));
        }
        let order = compare_segment(&mut a, &mut b);
        if order != Ordering::Equal {
            return order;
        }
    }
}

fn skip_separators(s: &mut &[u8]) {
    let start = s
        .iter()
        .position(|&c| c.is_ascii_alphanumeric() || c == b'~' || c == b'^')
        .unwrap_or(s.len());
    *s = &s[start..];
}

/// The `~` and `^` rules: `Some(Equal)` when both had the same mark (consumed), `Some`
/// of the answer when they decide it, `None` when neither side starts with a mark.
fn special(a: &mut &[u8], b: &mut &[u8]) -> Option<Ordering> {
    let (ca, cb) = (a.first().copied(), b.first().copied());
    let mark = |m| ca == Some(m) || cb == Some(m);
    let decided = if mark(b'~') {
        match (ca == Some(b'~'), cb == Some(b'~')) {
            (false, _) => Ordering::Greater,
            (true, false) => Ordering::Less,
            (true, true) => Ordering::Equal,
        }
    } else if mark(b'^') {
        match (ca, cb) {
            (None, _) => Ordering::Less,
            (_, None) => Ordering::Greater,
            (Some(x), _) if x != b'^' => Ordering::Greater,
            (_, Some(y)) if y != b'^' => Ordering::Less,
            _ => Ordering::Equal,
        }
    } else {
        return None;
    };
    if decided == Ordering::Equal {
        *a = &a[1..];
        *b = &b[1..];
    }
    Some(decided)
}

/// Compares one digit run or one letter run (by the type of `a`'s); a numeric segment
/// beats a letter one.
fn compare_segment(a: &mut &[u8], b: &mut &[u8]) -> Ordering {
    let numeric = a[0].is_ascii_digit();
    let class = |c: &u8| {
        if numeric {
            c.is_ascii_digit()
        } else {
            c.is_ascii_alphabetic()
        }
    };
    let sa = take_while(a, class);
    let sb = take_while(b, class);
    if sb.is_empty() {
        return if numeric {
            Ordering::Greater
        } else {
            Ordering::Less
        };
    }
    if numeric {
        compare_numeric(sa, sb)
    } else {
        sa.cmp(sb)
    }
}

impl Ord for RpmVersion {
    fn cmp(&self, other: &Self) -> Ordering {
        self.epoch
            .cmp(&other.epoch)
            .then_with(|| rpmvercmp(&self.version, &other.version))
            .then_with(|| rpmvercmp(&self.release, &other.release))
    }
}

impl PartialOrd for RpmVersion {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn epoch_and_release_take_part() {
        let v = |t| RpmVersion::parse(t).unwrap();
        assert!(v("1:1.0-1") > v("2.0-1"));
        assert!(v("1.0.2k-16.el7") < v("1.0.2k-19.el7"));
        assert!(v("1.0") < v("1.0-1"));
        assert_eq!(
            RpmVersion::parse("x:1").unwrap_err(),
            "epoch \"x\" is not a number"
        );
    }

    #[test]
    fn caret_and_tilde() {
        assert_eq!(rpmvercmp("1.0^", "1.0.1"), Ordering::Less);
        assert_eq!(rpmvercmp("1.0^git1", "1.0"), Ordering::Greater);
        assert_eq!(rpmvercmp("1.0~rc1", "1.0^git1"), Ordering::Less);
    }
}
