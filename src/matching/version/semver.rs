//! SemVer 2.0 as npm, Cargo and Go read it.
//!
//! The text may carry a leading `v` (Go, and npm accepts it) or `=`. Comparison uses
//! precedence, which ignores build metadata: Go's `+incompatible` and `1.0.0+build` sort
//! equal to the bare version, as SemVer 2.0 says and as `go` and `node-semver` do.

use semver::{BuildMetadata, Prerelease, Version};

pub(super) fn parse(text: &str) -> Result<Version, String> {
    Version::parse(bare(text)).map_err(|err| err.to_string())
}

fn bare(text: &str) -> &str {
    let text = text.trim();
    let text = text.strip_prefix('=').unwrap_or(text);
    text.strip_prefix('v').unwrap_or(text)
}

/// `1` or `1.2` (digits only): the lowest release of that series and the first version
/// past it, `1.2.0` and `1.3.0-0`.
pub(super) fn series(text: &str) -> Option<(Version, Version)> {
    let parts: Vec<u64> = bare(text)
        .split('.')
        .map(|p| p.parse().ok().filter(|_| digits_only(p)))
        .collect::<Option<_>>()?;
    let (low, high) = match parts[..] {
        [major] => ((major, 0), (major.checked_add(1)?, 0)),
        [major, minor] => ((major, minor), (major, minor.checked_add(1)?)),
        _ => return None,
    };
    Some((release(low), first_prerelease(high)))
}

fn digits_only(part: &str) -> bool {
    !part.is_empty() && part.bytes().all(|b| b.is_ascii_digit())
}

fn release((major, minor): (u64, u64)) -> Version {
    Version::new(major, minor, 0)
}

fn first_prerelease((major, minor): (u64, u64)) -> Version {
    Version {
        pre: Prerelease::new("0").expect("`0` is a valid pre-release"),
        build: BuildMetadata::EMPTY,
        ..Version::new(major, minor, 0)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;
    use std::cmp::Ordering;

    fn cmp(a: &str, b: &str) -> Ordering {
        parse(a).unwrap().cmp_precedence(&parse(b).unwrap())
    }

    /// The precedence example of semver.org, section 11.
    #[test]
    fn semver_org_precedence_example() {
        let chain = [
            "1.0.0-alpha",
            "1.0.0-alpha.1",
            "1.0.0-alpha.beta",
            "1.0.0-beta",
            "1.0.0-beta.2",
            "1.0.0-beta.11",
            "1.0.0-rc.1",
            "1.0.0",
            "2.0.0",
            "2.1.0",
            "2.1.1",
        ];
        for pair in chain.windows(2) {
            assert_eq!(cmp(pair[0], pair[1]), Ordering::Less, "{pair:?}");
        }
    }

    #[test]
    fn go_forms_read_as_semver() {
        assert_eq!(cmp("v2.0.0+incompatible", "2.0.0"), Ordering::Equal);
        let pseudo = "v0.0.0-20220622213112-05595931fe9d";
        assert_eq!(cmp(pseudo, "0.17.0"), Ordering::Less);
        assert_eq!(cmp(pseudo, "0.0.0-0"), Ordering::Greater);
    }

    #[test]
    fn partial_versions_give_their_series() {
        let (low, high) = series("0.14").unwrap();
        assert_eq!(
            (low.to_string(), high.to_string()),
            ("0.14.0".into(), "0.15.0-0".into())
        );
        assert_eq!(series("v1").unwrap().1.to_string(), "2.0.0-0");
        assert!(series("1.2.3").is_none() && series("1.x").is_none());
        assert!(parse("0.14").is_err());
    }
}
