//! Package URLs, parsed and normalized per the purl specification.
//!
//! Advisories and SBOM components meet on purls, so two spellings of one package must come
//! out equal: the type-specific rules of the specification (lower-casing, PyPI name
//! normalization, required parts) are applied while parsing, and [`Purl`]'s `Display` writes
//! the canonical form (qualifiers sorted, empty values dropped, components percent-encoded).
//! A crate exists (`packageurl`), but at the version we could use it leaves `.` in PyPI
//! names unnormalized and needs a newer compiler than the project's minimum, so this is ours.

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

/// Why a text is not a purl.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid purl {purl:?}: {reason}")]
pub struct PurlError {
    pub purl: String,
    pub reason: String,
}

/// A parsed, normalized package URL.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Purl {
    pub ty: String,
    pub namespace: Option<String>,
    pub name: String,
    pub version: Option<String>,
    pub qualifiers: BTreeMap<String, String>,
    pub subpath: Option<String>,
}

impl Purl {
    /// The purl without version, qualifiers or subpath: what names the package.
    pub fn without_version(&self) -> Purl {
        Purl {
            version: None,
            qualifiers: BTreeMap::new(),
            subpath: None,
            ..self.clone()
        }
    }

    /// The purl with `version` (or none).
    pub fn with_version(&self, version: Option<&str>) -> Purl {
        Purl {
            version: version.map(str::to_owned),
            ..self.clone()
        }
    }

    pub fn qualifier(&self, key: &str) -> Option<&str> {
        self.qualifiers.get(key).map(String::as_str)
    }
}

impl FromStr for Purl {
    type Err = PurlError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let fail = |reason: &str| PurlError {
            purl: text.to_owned(),
            reason: reason.to_owned(),
        };
        parse(text).map_err(|reason| fail(&reason))
    }
}

/// Steps of the specification's "how to parse", right to left: subpath, qualifiers,
/// scheme, type, version, name, namespace.
fn parse(text: &str) -> Result<Purl, String> {
    let (rest, subpath) = split_right(text, '#');
    let (rest, qualifiers) = split_right(rest, '?');
    let Some((scheme, rest)) = rest.split_once(':') else {
        return Err("no `pkg:` scheme".to_owned());
    };
    if !scheme.eq_ignore_ascii_case("pkg") {
        return Err(format!("scheme is {scheme:?}, not `pkg`"));
    }
    let rest = rest.trim_start_matches('/');
    let Some((ty, rest)) = rest.split_once('/') else {
        return Err("no type".to_owned());
    };
    let ty = parse_type(ty)?;
    let (rest, version) = split_version(rest);
    let (namespace, name) = name_and_namespace(rest)?;
    let mut purl = Purl {
        ty,
        namespace,
        name,
        version: version.map(decode).transpose()?,
        qualifiers: qualifiers
            .map(parse_qualifiers)
            .transpose()?
            .unwrap_or_default(),
        subpath: subpath.map(parse_subpath).transpose()?.flatten(),
    };
    normalize(&mut purl);
    validate(&purl)?;
    Ok(purl)
}

fn split_right(text: &str, separator: char) -> (&str, Option<&str>) {
    match text.rsplit_once(separator) {
        Some((left, right)) => (left, Some(right)),
        None => (text, None),
    }
}

/// The version follows the last `@`, unless a `/` comes after it: then the `@` belongs to
/// an unencoded npm scope (`pkg:npm/@babel/core`), as many SBOM writers leave it.
fn split_version(text: &str) -> (&str, Option<&str>) {
    match text.rsplit_once('@') {
        Some((left, right)) if !right.contains('/') => (left, Some(right)),
        _ => (text, None),
    }
}

/// A type is ASCII letters, digits, `.`, `+` and `-`, not starting with a digit.
fn parse_type(ty: &str) -> Result<String, String> {
    let valid = ty
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'+' | b'-'));
    let starts_well = ty.bytes().next().is_some_and(|b| !b.is_ascii_digit());
    if ty.is_empty() || !valid || !starts_well {
        return Err(format!("invalid type {ty:?}"));
    }
    Ok(ty.to_ascii_lowercase())
}

/// The name is what follows the last `/` (it must not be empty: `pkg:swift/ns/@1` has no
/// name); the namespace is what precedes it.
fn name_and_namespace(rest: &str) -> Result<(Option<String>, String), String> {
    let (namespace, name) = match rest.rsplit_once('/') {
        Some((namespace, name)) => (Some(namespace), name),
        None => (None, rest),
    };
    let name = decode(name)?;
    if name.is_empty() {
        return Err("no name".to_owned());
    }
    let namespace = namespace.map(decode_segments).transpose()?.flatten();
    Ok((namespace, name))
}

/// Segments joined by `/`, empty ones dropped; `None` when nothing is left.
fn decode_segments(text: &str) -> Result<Option<String>, String> {
    let segments: Vec<String> = text
        .split('/')
        .filter(|s| !s.is_empty())
        .map(decode)
        .collect::<Result<_, _>>()?;
    Ok((!segments.is_empty()).then(|| segments.join("/")))
}

fn parse_subpath(text: &str) -> Result<Option<String>, String> {
    let segments: Vec<String> = text
        .split('/')
        .filter(|s| !matches!(*s, "" | "." | ".."))
        .map(decode)
        .collect::<Result<_, _>>()?;
    Ok((!segments.is_empty()).then(|| segments.join("/")))
}

/// `key=value` pairs joined by `&`; keys are lower-cased, empty values dropped.
fn parse_qualifiers(text: &str) -> Result<BTreeMap<String, String>, String> {
    let mut qualifiers = BTreeMap::new();
    for pair in text.split('&').filter(|p| !p.is_empty()) {
        let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
        let key = decode(key)?.to_ascii_lowercase();
        if !valid_qualifier_key(&key) {
            return Err(format!("invalid qualifier key {key:?}"));
        }
        let value = decode(value)?;
        if !value.is_empty() {
            qualifiers.insert(key, value);
        }
    }
    Ok(qualifiers)
}

fn valid_qualifier_key(key: &str) -> bool {
    let chars_ok = key
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'_'));
    let starts_ok = key.bytes().next().is_some_and(|b| !b.is_ascii_digit());
    chars_ok && starts_ok
}

fn decode(text: &str) -> Result<String, String> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = text.get(i + 1..i + 3).unwrap_or("");
            let byte = u8::from_str_radix(hex, 16)
                .map_err(|_| format!("bad percent-escape at byte {i} of {text:?}"))?;
            out.push(byte);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).map_err(|_| format!("{text:?} does not decode to UTF-8"))
}

/// The type-specific case and name rules of the specification.
fn normalize(purl: &mut Purl) {
    let ty = purl.ty.as_str();
    if LOWER_NAMESPACE.contains(&ty) {
        purl.namespace = purl.namespace.take().map(|n| n.to_lowercase());
    }
    if LOWER_NAME.contains(&ty) {
        purl.name = purl.name.to_lowercase();
    }
    if ty == "pypi" {
        purl.name = pypi_name(&purl.name);
    }
    if ty == "huggingface" {
        purl.version = purl.version.take().map(|v| v.to_lowercase());
    }
}

const LOWER_NAMESPACE: [&str; 11] = [
    "alpm",
    "apk",
    "bitbucket",
    "composer",
    "deb",
    "github",
    "gitlab",
    "golang",
    "hex",
    "qpkg",
    "rpm",
];

const LOWER_NAME: [&str; 9] = [
    "alpm",
    "apk",
    "bitbucket",
    "composer",
    "deb",
    "github",
    "gitlab",
    "hex",
    "pypi",
];

/// PEP 503: lower case, and every run of `-`, `_` and `.` becomes one `-`.
pub fn pypi_name(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    let mut in_run = false;
    for c in name.chars() {
        if matches!(c, '-' | '_' | '.') {
            if !in_run {
                out.push('-');
            }
            in_run = true;
        } else {
            out.extend(c.to_lowercase());
            in_run = false;
        }
    }
    out
}

/// Parts some types require (or forbid), per the type definitions.
fn validate(purl: &Purl) -> Result<(), String> {
    let has_ns = purl.namespace.is_some();
    let need = |what: &str| Err(format!("a {} purl needs {what}", purl.ty));
    match purl.ty.as_str() {
        "swift" if !has_ns => need("a namespace"),
        "swift" | "cran" | "hackage" if purl.version.is_none() => need("a version"),
        "conan" if has_ns != purl.qualifiers.contains_key("channel") => {
            need("a namespace and a channel qualifier together, or neither")
        }
        "pypi" if has_ns => Err("a pypi purl has no namespace".to_owned()),
        _ => Ok(()),
    }
}

impl fmt::Display for Purl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "pkg:{}/", self.ty)?;
        if let Some(namespace) = &self.namespace {
            for segment in namespace.split('/') {
                write!(f, "{}/", encode(segment, ""))?;
            }
        }
        f.write_str(&encode(&self.name, ""))?;
        if let Some(version) = &self.version {
            write!(f, "@{}", encode(version, ""))?;
        }
        self.fmt_qualifiers(f)?;
        if let Some(subpath) = &self.subpath {
            let segments: Vec<String> = subpath.split('/').map(|s| encode(s, "")).collect();
            write!(f, "#{}", segments.join("/"))?;
        }
        Ok(())
    }
}

impl Purl {
    fn fmt_qualifiers(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut separator = '?';
        for (key, value) in &self.qualifiers {
            write!(f, "{separator}{key}={}", encode(value, "/"))?;
            separator = '&';
        }
        Ok(())
    }
}

/// Percent-encodes all but unreserved characters, `:` and the `extra` ones.
fn encode(text: &str, extra: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for byte in text.bytes() {
        let keep = byte.is_ascii_alphanumeric()
            || matches!(byte, b'-' | b'.' | b'_' | b'~' | b':')
            || extra.as_bytes().contains(&byte);
        if keep {
            out.push(char::from(byte));
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    fn canonical(text: &str) -> String {
        text.parse::<Purl>().unwrap().to_string()
    }

    #[test]
    fn pypi_names_collapse_separator_runs() {
        assert_eq!(
            canonical("pkg:pypi/My.PyPI_.--._Package@1.0"),
            "pkg:pypi/my-pypi-package@1.0"
        );
    }

    #[test]
    fn qualifiers_are_sorted_and_empty_ones_dropped() {
        let text = "pkg:deb/debian/curl@7?distro=jessie&arch=&Arch=i386";
        assert_eq!(
            canonical(text),
            "pkg:deb/debian/curl@7?arch=i386&distro=jessie"
        );
    }

    #[test]
    fn scoped_npm_names_keep_the_at_encoded() {
        let purl: Purl = "pkg:npm/%40babel/core@7.0.0".parse().unwrap();
        assert_eq!(purl.namespace.as_deref(), Some("@babel"));
        assert_eq!(purl.to_string(), "pkg:npm/%40babel/core@7.0.0");
    }

    #[test]
    fn plus_in_a_version_is_encoded_and_decoded() {
        let purl: Purl = "pkg:golang/github.com/a/b@v2.0.0%2Bincompatible"
            .parse()
            .unwrap();
        assert_eq!(purl.version.as_deref(), Some("v2.0.0+incompatible"));
        assert!(purl.to_string().ends_with("@v2.0.0%2Bincompatible"));
    }

    #[test]
    fn errors_say_what_is_wrong() {
        let err = "pkg:npm/a?x=%zz".parse::<Purl>().unwrap_err();
        assert!(err.reason.contains("bad percent-escape"), "{err}");
        let err = "npm/a@1".parse::<Purl>().unwrap_err();
        assert_eq!(
            err.to_string(),
            "invalid purl \"npm/a@1\": no `pkg:` scheme"
        );
    }
}

#[cfg(test)]
mod spec_suite {
    #![allow(clippy::unwrap_used)]

    use super::*;
    use serde_json::Value;

    const SUITE: &str = include_str!("../../tests/data/purl-spec/test-suite-data.json");

    /// Entries whose canonical form contradicts another entry (see the SOURCES.md beside
    /// the suite); their parsed components are still checked.
    const INCONSISTENT_CANONICAL: [&str; 2] = [
        "with `qualifiers.vcs_url` as SHA512 in hex representation",
        "with `qualifiers.download_url`",
    ];

    fn text(case: &Value, key: &str) -> Option<String> {
        case[key].as_str().map(str::to_owned)
    }

    fn qualifiers(case: &Value) -> BTreeMap<String, String> {
        let Some(map) = case["qualifiers"].as_object() else {
            return BTreeMap::new();
        };
        map.iter()
            .map(|(k, v)| (k.clone(), v.as_str().unwrap().to_owned()))
            .collect()
    }

    fn check(case: &Value) -> Result<(), String> {
        let description = text(case, "description").unwrap();
        let input = text(case, "purl").unwrap();
        let parsed = input.parse::<Purl>();
        if case["is_invalid"].as_bool().unwrap() {
            return match parsed {
                Err(_) => Ok(()),
                Ok(p) => Err(format!("{description}: {input} was accepted as {p}")),
            };
        }
        let purl = parsed.map_err(|e| format!("{description}: {e}"))?;
        let expected = (
            text(case, "type").unwrap(),
            text(case, "namespace"),
            text(case, "name").unwrap(),
            text(case, "version"),
            qualifiers(case),
            text(case, "subpath"),
        );
        let got = (
            purl.ty.clone(),
            purl.namespace.clone(),
            purl.name.clone(),
            purl.version.clone(),
            purl.qualifiers.clone(),
            purl.subpath.clone(),
        );
        if got != expected {
            return Err(format!(
                "{description}: parsed {got:?}, expected {expected:?}"
            ));
        }
        let canonical = text(case, "canonical_purl").unwrap();
        if !INCONSISTENT_CANONICAL.contains(&description.as_str()) && purl.to_string() != canonical
        {
            return Err(format!("{description}: wrote {purl}, expected {canonical}"));
        }
        let again: Purl = purl
            .to_string()
            .parse()
            .map_err(|e| format!("{description}: {e}"))?;
        (again == purl)
            .then_some(())
            .ok_or(format!("{description}: no round trip"))
    }

    #[test]
    fn every_case_of_the_published_suite_passes() {
        let cases: Vec<Value> = serde_json::from_str(SUITE).unwrap();
        assert_eq!(cases.len(), 41);
        let failures: Vec<String> = cases.iter().filter_map(|c| check(c).err()).collect();
        assert!(failures.is_empty(), "{}", failures.join("\n"));
    }
}
