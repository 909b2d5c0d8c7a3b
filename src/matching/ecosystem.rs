//! Where advisories and components meet: OSV ecosystems and SBOM purls reduced to one
//! [`PackageKey`], with the version scheme and distribution release that go with it.
//!
//! Beyond the purl specification's own normalization, keys fold spellings that name the
//! same package in practice: npm, NuGet and crates.io names ignore case (crates.io also
//! treats `-` and `_` alike), Go module paths are compared without case (purl writers
//! disagree on lower-casing them, and Go refuses two modules differing only in case in
//! one build), and syft's `pkg:alpine/…` is Alpine's `pkg:apk/alpine/…`.
//!
//! Distribution packages are also looked up by their source package (the purl `upstream`
//! qualifier), because Debian, Ubuntu, Alpine and Red Hat advisories name source packages
//! while SBOMs list binary ones (`bsdutils` is built from `util-linux`).

use std::fmt;

use super::purl::{pypi_name, Purl};
use super::version::Scheme;

/// The identity of a package across advisories and SBOMs: purl type, namespace, name.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PackageKey {
    pub ty: String,
    pub namespace: Option<String>,
    pub name: String,
}

impl PackageKey {
    /// The key of a purl, with the matching folds described in the module docs.
    pub fn of_purl(purl: &Purl) -> PackageKey {
        let (ty, namespace) = match (purl.ty.as_str(), &purl.namespace) {
            ("alpine", None) => ("apk".to_owned(), Some("alpine".to_owned())),
            (ty, namespace) => (ty.to_owned(), namespace.clone()),
        };
        fold(ty, namespace, purl.name.clone())
    }

    /// For Go, the whole module or package path (Go keys keep it all in `name`).
    pub fn go_path(&self) -> Option<&str> {
        (self.ty == "golang").then_some(self.name.as_str())
    }

    /// One text per key, as the store indexes components: `type/namespace/name` with
    /// `%` and `/` escaped in each part, so that distinct keys never share a text
    /// (a Go path full of `/` stays one part).
    pub fn text(&self) -> String {
        let part = |s: &str| s.replace('%', "%25").replace('/', "%2F");
        let namespace = self.namespace.as_deref().map(part).unwrap_or_default();
        format!("{}/{}/{}", part(&self.ty), namespace, part(&self.name))
    }
}

/// The lookups of one SBOM component, as the impact index files them: one per key it is
/// looked up by (deduplicated). A component without a parseable purl cannot be matched,
/// so it has none.
pub fn component_index_lookups(component: &crate::model::Component) -> Vec<Lookup> {
    let Some(purl) = component
        .purl
        .as_deref()
        .and_then(|t| t.parse::<Purl>().ok())
    else {
        return Vec::new();
    };
    let mut lookups = component_lookups(&purl, component.version.as_deref());
    lookups.dedup_by(|a, b| a.key == b.key);
    lookups
}

/// Applies the per-type folds; Go paths are joined into the name.
fn fold(ty: String, namespace: Option<String>, name: String) -> PackageKey {
    let lower = |s: String| s.to_lowercase();
    let (namespace, name) = match ty.as_str() {
        "npm" => (namespace.map(lower), lower(name)),
        "nuget" => (namespace, lower(name)),
        "cargo" => (namespace, lower(name).replace('_', "-")),
        "pypi" => (namespace, pypi_name(&name)),
        "golang" => (None, lower(join_path(namespace, name))),
        _ => (namespace, name),
    };
    PackageKey {
        ty,
        namespace,
        name,
    }
}

fn join_path(namespace: Option<String>, name: String) -> String {
    match namespace {
        Some(namespace) => format!("{namespace}/{name}"),
        None => name,
    }
}

impl fmt::Display for PackageKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "pkg:{}/", self.ty)?;
        if let Some(namespace) = &self.namespace {
            write!(f, "{namespace}/")?;
        }
        f.write_str(&self.name)
    }
}

/// What an OSV `affected[].package` means here.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AdvisoryPackage {
    pub key: PackageKey,
    /// How the ecosystem orders versions; `None` when we cannot order them offline.
    pub scheme: Option<Scheme>,
    /// The distribution release the entry is about (`3.16` for `Alpine:v3.16`).
    pub release: Option<String>,
}

/// Maps an OSV ecosystem and package name (falling back to the entry's purl for an
/// ecosystem we do not know) to a key; `None` when neither gives one.
pub fn advisory_package(
    ecosystem: &str,
    name: &str,
    purl: Option<&str>,
) -> Option<AdvisoryPackage> {
    let (base, release) = ecosystem.split_once(':').unwrap_or((ecosystem, ""));
    match known_ecosystem(base, name) {
        Some((key, scheme)) => Some(AdvisoryPackage {
            key,
            scheme,
            release: release_of(base, release),
        }),
        None => purl_package(purl?),
    }
}

fn purl_package(purl: &str) -> Option<AdvisoryPackage> {
    let purl: Purl = purl.parse().ok()?;
    Some(AdvisoryPackage {
        key: PackageKey::of_purl(&purl),
        scheme: None,
        release: None,
    })
}

/// The key and scheme of a package of a known OSV ecosystem.
fn known_ecosystem(base: &str, name: &str) -> Option<(PackageKey, Option<Scheme>)> {
    let (ty, namespace, scheme) = match base {
        "npm" => ("npm", None, Some(Scheme::Semver)),
        "PyPI" => ("pypi", None, Some(Scheme::Pep440)),
        "Maven" => ("maven", None, Some(Scheme::Maven)),
        "Go" => ("golang", None, Some(Scheme::Semver)),
        "crates.io" => ("cargo", None, Some(Scheme::Semver)),
        "RubyGems" => ("gem", None, Some(Scheme::RubyGems)),
        "NuGet" => ("nuget", None, Some(Scheme::NuGet)),
        "Packagist" => ("composer", None, Some(Scheme::Composer)),
        "Hex" => ("hex", None, Some(Scheme::Semver)),
        "Pub" => ("pub", None, Some(Scheme::Semver)),
        _ => distribution(base).or_else(|| unordered(base))?,
    };
    let (namespace, name) = split_name(ty, namespace, name);
    Some((fold(ty.to_owned(), namespace, name), scheme))
}

type Mapping = (&'static str, Option<&'static str>, Option<Scheme>);

fn distribution(base: &str) -> Option<Mapping> {
    let (ty, namespace, scheme) = match base {
        "Debian" => ("deb", "debian", Scheme::Debian),
        "Ubuntu" => ("deb", "ubuntu", Scheme::Debian),
        "Alpine" => ("apk", "alpine", Scheme::Alpine),
        "Wolfi" => ("apk", "wolfi", Scheme::Alpine),
        "Chainguard" => ("apk", "chainguard", Scheme::Alpine),
        "Red Hat" => ("rpm", "redhat", Scheme::Rpm),
        "AlmaLinux" => ("rpm", "almalinux", Scheme::Rpm),
        "Rocky Linux" => ("rpm", "rocky", Scheme::Rpm),
        "SUSE" => ("rpm", "suse", Scheme::Rpm),
        "openSUSE" => ("rpm", "opensuse", Scheme::Rpm),
        "Mageia" => ("rpm", "mageia", Scheme::Rpm),
        "openEuler" => ("rpm", "openeuler", Scheme::Rpm),
        _ => return None,
    };
    Some((ty, Some(namespace), Some(scheme)))
}

/// Ecosystems with a purl type but no version ordering we implement.
fn unordered(base: &str) -> Option<Mapping> {
    let ty = match base {
        "Hackage" => "hackage",
        "CRAN" => "cran",
        "SwiftURL" => "swift",
        "ConanCenter" => "conan",
        "Bitnami" => "bitnami",
        "GitHub Actions" => "github",
        "Julia" => "julia",
        "opam" => "opam",
        _ => return None,
    };
    Some((ty, None, None))
}

/// Splits the OSV name where the purl has a namespace: `@scope/name` (npm),
/// `group:artifact` (Maven), `vendor/name` (Packagist, Swift, GitHub Actions).
fn split_name(ty: &str, namespace: Option<&str>, name: &str) -> (Option<String>, String) {
    let split = match ty {
        "npm" if name.starts_with('@') => name.split_once('/'),
        "maven" => name.split_once(':'),
        "composer" | "github" | "swift" => name.rsplit_once('/'),
        _ => None,
    };
    match (split, namespace) {
        (Some((ns, rest)), _) => (Some(ns.to_owned()), rest.to_owned()),
        (None, ns) => (ns.map(str::to_owned), name.to_owned()),
    }
}

/// The release number in an ecosystem suffix: `v3.16` → `3.16`, `Pro:14.04:LTS` →
/// `14.04`, `enterprise_linux:8::appstream` → `8`.
fn release_of(base: &str, suffix: &str) -> Option<String> {
    distribution(base)?;
    suffix
        .split(':')
        .map(|part| part.strip_prefix('v').unwrap_or(part))
        .find(|part| part.starts_with(|c: char| c.is_ascii_digit()))
        .map(str::to_owned)
}

/// The version scheme of a purl type, for comparing versions written in purls.
pub fn scheme_of_purl_type(ty: &str) -> Option<Scheme> {
    let scheme = match ty {
        "npm" | "cargo" | "golang" | "hex" | "pub" => Scheme::Semver,
        "pypi" => Scheme::Pep440,
        "maven" => Scheme::Maven,
        "deb" => Scheme::Debian,
        "rpm" => Scheme::Rpm,
        "apk" | "alpine" => Scheme::Alpine,
        "nuget" => Scheme::NuGet,
        "gem" => Scheme::RubyGems,
        "composer" => Scheme::Composer,
        _ => return None,
    };
    Some(scheme)
}

/// One way to look a component up: the key, the version to compare, and the release.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Lookup {
    pub key: PackageKey,
    pub version: Option<String>,
    pub release: Option<String>,
    /// The source package an `upstream` qualifier named, when this lookup is by it.
    pub source_package: bool,
}

/// The lookups for a component's purl: its own key and, for distribution packages, the
/// source package its `upstream` qualifier names. `fallback_version` is the SBOM's version
/// field, used when the purl has none.
pub fn component_lookups(purl: &Purl, fallback_version: Option<&str>) -> Vec<Lookup> {
    let version = purl.version.as_deref().or(fallback_version);
    let release = purl.qualifier("distro").and_then(distro_release);
    let own = Lookup {
        key: PackageKey::of_purl(purl),
        version: version.map(|v| with_epoch(purl, v)),
        release: release.clone(),
        source_package: false,
    };
    let mut lookups = vec![own];
    if let Some((name, source_version)) = source_package(purl) {
        let key = PackageKey::of_purl(&Purl {
            name,
            ..purl.without_version()
        });
        let version = source_version.or(version.map(str::to_owned));
        lookups.push(Lookup {
            key,
            version: version.map(|v| with_epoch(purl, &v)),
            release,
            source_package: true,
        });
    }
    lookups
}

/// RPM purls carry the epoch as a qualifier; the version text then gets `epoch:`.
fn with_epoch(purl: &Purl, version: &str) -> String {
    match purl.qualifier("epoch") {
        Some(epoch) if purl.ty == "rpm" && !version.contains(':') => format!("{epoch}:{version}"),
        _ => version.to_owned(),
    }
}

/// The source package named by `upstream`: `util-linux@2.34-0.1` (deb, with version),
/// `alpine-baselayout` (apk), `openssl-1.1.1k-5.el8.src.rpm` (rpm, syft's form).
fn source_package(purl: &Purl) -> Option<(String, Option<String>)> {
    if !matches!(purl.ty.as_str(), "deb" | "apk" | "alpine" | "rpm") {
        return None;
    }
    let upstream = purl.qualifier("upstream")?;
    let (name, version) = match upstream.strip_suffix(".src.rpm") {
        Some(nvr) => split_nvr(nvr)?,
        None => match upstream.split_once('@') {
            Some((name, version)) => (name.to_owned(), Some(version.to_owned())),
            None => (upstream.to_owned(), None),
        },
    };
    (name != purl.name).then_some((name, version))
}

/// `name-version-release` → (`name`, `version-release`).
fn split_nvr(nvr: &str) -> Option<(String, Option<String>)> {
    let (rest, release) = nvr.rsplit_once('-')?;
    let (name, version) = rest.rsplit_once('-')?;
    Some((name.to_owned(), Some(format!("{version}-{release}"))))
}

/// The release number in a purl `distro` qualifier: `alpine-3.16.2` → `3.16.2`,
/// `debian-11` → `11`, `ubuntu-20.04` → `20.04`, Debian code names → their number.
pub fn distro_release(distro: &str) -> Option<String> {
    let last = distro.rsplit('-').next().unwrap_or(distro);
    let last = last.strip_prefix('v').unwrap_or(last);
    if last.starts_with(|c: char| c.is_ascii_digit()) {
        return Some(last.to_owned());
    }
    DEBIAN_CODENAMES
        .iter()
        .find(|(codename, _)| *codename == last)
        .map(|(_, number)| (*number).to_owned())
}

const DEBIAN_CODENAMES: [(&str, &str); 8] = [
    ("wheezy", "7"),
    ("jessie", "8"),
    ("stretch", "9"),
    ("buster", "10"),
    ("bullseye", "11"),
    ("bookworm", "12"),
    ("trixie", "13"),
    ("forky", "14"),
];

/// Whether an advisory entry's release covers a component's: equal, or a point release
/// of it (`3.16.2` is in `3.16`).
pub fn release_covers(advisory: &str, component: &str) -> bool {
    component == advisory
        || component
            .strip_prefix(advisory)
            .is_some_and(|rest| rest.starts_with('.'))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    fn key(text: &str) -> String {
        PackageKey::of_purl(&text.parse().unwrap()).to_string()
    }

    #[test]
    fn osv_names_and_purls_meet() {
        let cases = [
            ("npm", "@babel/core", "pkg:npm/%40babel/core@7"),
            (
                "Maven",
                "io.netty:netty-codec-http2",
                "pkg:maven/io.netty/netty-codec-http2@4",
            ),
            ("PyPI", "Flask_Caching", "pkg:pypi/flask-caching@1"),
            (
                "Go",
                "golang.org/x/text",
                "pkg:golang/golang.org/x/text@v0.3.7",
            ),
            (
                "crates.io",
                "pretty_env_logger",
                "pkg:cargo/pretty-env-logger@0.4.0",
            ),
            ("NuGet", "Moment.js", "pkg:nuget/moment.js@2"),
            ("Alpine:v3.16", "busybox", "pkg:alpine/busybox@1.35.0-r17"),
            ("Debian:11", "curl", "pkg:deb/debian/curl@7"),
        ];
        for (ecosystem, name, purl) in cases {
            let package = advisory_package(ecosystem, name, None).unwrap();
            assert_eq!(package.key.to_string(), key(purl), "{ecosystem} {name}");
        }
    }

    #[test]
    fn releases_come_from_ecosystems_and_distro_qualifiers() {
        let release = |e| advisory_package(e, "x", None).unwrap().release;
        assert_eq!(release("Alpine:v3.16").as_deref(), Some("3.16"));
        assert_eq!(release("Ubuntu:Pro:14.04:LTS").as_deref(), Some("14.04"));
        assert_eq!(release("npm"), None);
        assert_eq!(distro_release("alpine-3.16.2").as_deref(), Some("3.16.2"));
        assert_eq!(distro_release("jessie").as_deref(), Some("8"));
        assert!(release_covers("3.16", "3.16.2") && !release_covers("3.1", "3.16"));
    }

    #[test]
    fn source_packages_are_looked_up_too() {
        let purl: Purl = concat!(
            "pkg:deb/ubuntu/bsdutils@1:2.34-0.1ubuntu9.3",
            "?upstream=util-linux%402.34-0.1ubuntu9.3&distro=ubuntu-20.04"
        )
        .parse()
        .unwrap();
        let lookups = component_lookups(&purl, None);
        assert_eq!(lookups[1].key.to_string(), "pkg:deb/ubuntu/util-linux");
        assert_eq!(lookups[1].version.as_deref(), Some("2.34-0.1ubuntu9.3"));
        assert_eq!(lookups[1].release.as_deref(), Some("20.04"));
        let rpm: Purl = concat!(
            "pkg:rpm/redhat/openssl-libs@1.1.1k-5.el8",
            "?epoch=1&upstream=openssl-1.1.1k-5.el8.src.rpm"
        )
        .parse()
        .unwrap();
        let lookups = component_lookups(&rpm, None);
        assert_eq!(lookups[0].version.as_deref(), Some("1:1.1.1k-5.el8"));
        assert_eq!(lookups[1].key.name, "openssl");
    }

    #[test]
    fn unknown_ecosystems_fall_back_to_the_purl() {
        let package = advisory_package("Linux", "kernel", Some("pkg:generic/linux")).unwrap();
        assert_eq!(
            (package.key.to_string(), package.scheme),
            ("pkg:generic/linux".into(), None)
        );
        assert!(advisory_package("Linux", "kernel", None).is_none());
        assert_eq!(advisory_package("CRAN", "A3", None).unwrap().scheme, None);
    }
}
