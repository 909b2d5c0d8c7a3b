//! Version schemes, each ordered the way its ecosystem's own tool orders versions.
//!
//! An advisory range is only as right as the comparison behind it: `4.1.82.Final` is below
//! `4.1.100.Final` for Maven, `1.0~rc1` is below `1.0` for dpkg and RPM, `2.10` is above
//! `2.9` for PEP 440. So there is no generic "version" here: a [`Scheme`] parses text into a
//! [`Version`] that only compares with versions of the same scheme.
//!
//! SemVer uses the `semver` crate (precedence ignores build metadata, as SemVer 2.0 and Go
//! require) and PEP 440 the `pep440_rs` crate; Maven, dpkg, RPM, apk, NuGet, RubyGems and
//! Composer are written here, each tested against vectors published by the tool itself.

mod apk;
mod composer;
mod digits;
mod dpkg;
mod gem;
mod maven;
mod nuget;
mod rpm;
mod semver;

use std::cmp::Ordering;
use std::fmt;
use std::str::FromStr;

/// A way of ordering versions.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Scheme {
    /// SemVer 2.0 precedence: npm, crates.io, Go (with `v`), Hex, Pub, OSV `SEMVER` ranges.
    Semver,
    /// PEP 440: PyPI.
    Pep440,
    /// Maven's `ComparableVersion`.
    Maven,
    /// dpkg: Debian and Ubuntu.
    Debian,
    /// rpmvercmp with epoch and release: Red Hat, SUSE, AlmaLinux, Rocky, ...
    Rpm,
    /// apk-tools: Alpine, Wolfi, Chainguard.
    Alpine,
    /// NuGet (SemVer 2.0 with a fourth number, labels case-insensitive).
    NuGet,
    /// RubyGems' `Gem::Version`.
    RubyGems,
    /// Composer (PHP `version_compare` after Composer's normalization): Packagist.
    Composer,
}

impl Scheme {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Semver => "semver",
            Self::Pep440 => "pep440",
            Self::Maven => "maven",
            Self::Debian => "dpkg",
            Self::Rpm => "rpm",
            Self::Alpine => "apk",
            Self::NuGet => "nuget",
            Self::RubyGems => "rubygems",
            Self::Composer => "composer",
        }
    }

    /// Parses `text` as a version of this scheme.
    pub fn parse(self, text: &str) -> Result<Version, VersionError> {
        let parsed = match self {
            Self::Semver => semver::parse(text).map(Version::Semver),
            Self::Pep440 => pep440(text).map(Version::Pep440),
            Self::Maven => Ok(Version::Maven(maven::MavenVersion::parse(text))),
            Self::Debian => dpkg::DebVersion::parse(text).map(Version::Debian),
            Self::Rpm => rpm::RpmVersion::parse(text).map(Version::Rpm),
            Self::Alpine => apk::ApkVersion::parse(text).map(Version::Alpine),
            Self::NuGet => nuget::NuGetVersion::parse(text).map(Version::NuGet),
            Self::RubyGems => gem::GemVersion::parse(text).map(Version::Gem),
            Self::Composer => composer::ComposerVersion::parse(text).map(Version::Composer),
        };
        parsed.map_err(|reason| VersionError {
            scheme: self,
            version: text.to_owned(),
            reason,
        })
    }

    /// Compares two version texts of this scheme.
    pub fn compare(self, a: &str, b: &str) -> Result<Ordering, VersionError> {
        let (a, b) = (self.parse(a)?, self.parse(b)?);
        Ok(a.compare(&b)
            .expect("both versions were parsed by the same scheme"))
    }

    /// For a partial SemVer version (`0.14`, `1`), the series it may stand for: from its
    /// lowest release (`0.14.0`) up to, not including, the next series (`0.15.0-0`).
    /// `None` for complete versions and for schemes where short versions are complete.
    pub fn partial_series(self, text: &str) -> Option<(Version, Version)> {
        match self {
            Self::Semver => semver::series(text)
                .map(|(low, high)| (Version::Semver(low), Version::Semver(high))),
            _ => None,
        }
    }
}

impl fmt::Display for Scheme {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

fn pep440(text: &str) -> Result<pep440_rs::Version, String> {
    pep440_rs::Version::from_str(text.trim()).map_err(|err| err.to_string())
}

/// A version that cannot be read in its scheme.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{version:?} is not a valid {scheme} version: {reason}")]
pub struct VersionError {
    pub scheme: Scheme,
    pub version: String,
    pub reason: String,
}

/// A parsed version; compares only with versions of its own scheme.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Version {
    Semver(::semver::Version),
    Pep440(pep440_rs::Version),
    Maven(maven::MavenVersion),
    Debian(dpkg::DebVersion),
    Rpm(rpm::RpmVersion),
    Alpine(apk::ApkVersion),
    NuGet(nuget::NuGetVersion),
    Gem(gem::GemVersion),
    Composer(composer::ComposerVersion),
}

impl Version {
    /// The order of two versions, or `None` when they come from different schemes.
    pub fn compare(&self, other: &Version) -> Option<Ordering> {
        use Version as V;
        Some(match (self, other) {
            (V::Semver(a), V::Semver(b)) => a.cmp_precedence(b),
            (V::Pep440(a), V::Pep440(b)) => a.cmp(b),
            (V::Maven(a), V::Maven(b)) => a.cmp(b),
            (V::Debian(a), V::Debian(b)) => a.cmp(b),
            (V::Rpm(a), V::Rpm(b)) => a.cmp(b),
            (V::Alpine(a), V::Alpine(b)) => a.cmp(b),
            (V::NuGet(a), V::NuGet(b)) => a.cmp(b),
            (V::Gem(a), V::Gem(b)) => a.cmp(b),
            (V::Composer(a), V::Composer(b)) => a.cmp(b),
            _ => return None,
        })
    }
}

/// The schemes against the reference vectors their own tools publish (see
/// `tests/data/versions/SOURCES.md`).
#[cfg(test)]
mod reference_vectors {
    #![allow(clippy::unwrap_used)]

    use super::*;

    fn lines(data: &str) -> impl Iterator<Item = Vec<&str>> {
        let data = data
            .lines()
            .filter(|l| !l.trim().is_empty() && !l.starts_with('#'));
        data.map(|l| l.split_whitespace().collect())
    }

    fn sign(number: &str) -> Ordering {
        number.parse::<i32>().unwrap().cmp(&0)
    }

    fn check_triples(scheme: Scheme, data: &str) {
        let mut checked = 0;
        for fields in lines(data) {
            let (a, b, expected) = (fields[0], fields[1], sign(fields[2]));
            assert_eq!(
                scheme.compare(a, b).unwrap(),
                expected,
                "{scheme}: {a} vs {b}"
            );
            checked += 1;
        }
        assert!(checked > 40, "only {checked} vectors");
    }

    #[test]
    fn rpm_matches_rpmvercmp_tests() {
        let data = include_str!("../../../tests/data/versions/rpmvercmp.txt");
        check_triples(Scheme::Rpm, data);
    }

    #[test]
    fn debian_matches_dpkg_tests() {
        let data = include_str!("../../../tests/data/versions/dpkg.txt");
        check_triples(Scheme::Debian, data);
    }

    #[test]
    fn alpine_matches_apk_tools_tests() {
        let data = include_str!("../../../tests/data/versions/apk.txt");
        let mut checked = 0;
        for fields in lines(data) {
            let expected = match fields[1] {
                "<" => Ordering::Less,
                "=" => Ordering::Equal,
                _ => Ordering::Greater,
            };
            let (a, b) = (fields[0], fields[2]);
            assert_eq!(
                Scheme::Alpine.compare(a, b).unwrap(),
                expected,
                "{a} vs {b}"
            );
            checked += 1;
        }
        assert!(checked > 80, "only {checked} vectors");
    }

    #[test]
    fn maven_matches_comparable_version_tests() {
        let data = include_str!("../../../tests/data/versions/maven.txt");
        let cmp = |a: &str, b: &str| Scheme::Maven.compare(a, b).unwrap();
        for fields in lines(data) {
            match fields[0] {
                "chain" => {
                    for (i, low) in fields[1..].iter().enumerate() {
                        for high in &fields[i + 2..] {
                            assert_eq!(cmp(low, high), Ordering::Less, "{low} < {high}");
                            assert_eq!(cmp(high, low), Ordering::Greater, "{high} > {low}");
                        }
                    }
                }
                "eq" => assert_eq!(cmp(fields[1], fields[2]), Ordering::Equal, "{fields:?}"),
                _ => assert_eq!(cmp(fields[1], fields[2]), Ordering::Less, "{fields:?}"),
            }
        }
    }

    #[test]
    fn pep440_matches_the_packaging_order() {
        let data = include_str!("../../../tests/data/versions/pep440-order.txt");
        let versions: Vec<&str> = lines(data).map(|f| f[0]).collect();
        assert_eq!(versions.len(), 92);
        for (i, low) in versions.iter().enumerate() {
            for high in &versions[i + 1..] {
                assert_eq!(
                    Scheme::Pep440.compare(low, high).unwrap(),
                    Ordering::Less,
                    "{low} < {high}"
                );
            }
        }
    }
}
