//! Naming the artifact an SBOM describes: a human name and a SHA-256 digest.
//!
//! Impact analysis indexes SBOMs by the artifact digest, so every form the corpus uses to
//! write that digest is read here: a SHA-256 hash or checksum, an OCI purl whose version is
//! the digest (`pkg:oci/name@sha256%3A…`), and syft's habit of putting the image digest in
//! a container component's `version`.

use super::error::Problem;
use crate::model::{Checksum, Digest};

/// The digest given by a SHA-256 hash, or `None` for other algorithms. A SHA-256 value
/// that is not 64 hex digits is an error at `path`.
pub(super) fn from_hash(hash: &Checksum, path: &str) -> Result<Option<Digest>, Problem> {
    if hash.alg != "sha256" {
        return Ok(None);
    }
    let text = format!("sha256:{}", hash.value);
    text.parse().map(Some).map_err(|source| Problem::BadDigest {
        path: path.to_owned(),
        value: hash.value.clone(),
        source,
    })
}

/// The digest in an OCI purl's version (`@sha256%3Ahex` or `@sha256:hex`), if any.
pub(super) fn from_oci_purl(purl: &str) -> Option<Digest> {
    let rest = purl.strip_prefix("pkg:oci/")?;
    let before_qualifiers = rest.split(['?', '#']).next()?;
    let (_, version) = before_qualifiers.rsplit_once('@')?;
    let decoded = version.replace("%3A", ":").replace("%3a", ":");
    from_text(&decoded)
}

/// A `sha256:hex` text, in any case, as a digest.
pub(super) fn from_text(text: &str) -> Option<Digest> {
    text.to_ascii_lowercase().parse().ok()
}

/// `name:version`, unless the name already carries a tag or digest, or the version is
/// itself a digest.
pub(super) fn name(name: &str, version: Option<&str>) -> String {
    match version {
        Some(v) if !v.is_empty() && !has_reference(name) && from_text(v).is_none() => {
            format!("{name}:{v}")
        }
        _ => name.to_owned(),
    }
}

/// Whether an image name has a tag (`:` in its last path segment) or a digest (`@`).
fn has_reference(name: &str) -> bool {
    let last_segment = name.rsplit('/').next().unwrap_or(name);
    last_segment.contains(':') || name.contains('@')
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    const HEX: &str = "124c7d2707904eea7431fffe91522a01e5a861a624ee31d03372cc1d138a3126";

    #[test]
    fn oci_purls_give_their_digest_encoded_or_not() {
        let expected = format!("sha256:{HEX}");
        let encoded = format!("pkg:oci/alpine@sha256%3A{HEX}?arch=amd64");
        let plain = format!("pkg:oci/a/b@sha256:{}#x", HEX.to_ascii_uppercase());
        assert_eq!(from_oci_purl(&encoded).unwrap().as_str(), expected);
        assert_eq!(from_oci_purl(&plain).unwrap().as_str(), expected);
        assert_eq!(from_oci_purl("pkg:oci/alpine@latest"), None);
        assert_eq!(from_oci_purl(&format!("pkg:npm/x@sha256:{HEX}")), None);
    }

    #[test]
    fn a_short_sha256_hash_is_an_error_naming_the_path() {
        let err = from_hash(
            &Checksum::new("SHA-256", "abc"),
            "metadata.component.hashes[0]",
        );
        let err = err.unwrap_err();
        assert!(matches!(err, Problem::BadDigest { .. }));
        assert!(
            err.to_string()
                .starts_with("`metadata.component.hashes[0]`"),
            "{err}"
        );
        assert_eq!(from_hash(&Checksum::new("MD5", "abc"), "p").unwrap(), None);
    }

    #[test]
    fn names_get_the_version_only_when_they_have_no_tag() {
        assert_eq!(name("kubectl", Some("v1.28.1")), "kubectl:v1.28.1");
        assert_eq!(
            name("docker.io/library/alpine:latest", Some("3.16")),
            "docker.io/library/alpine:latest"
        );
        assert_eq!(
            name("localhost:5000/app", Some("1")),
            "localhost:5000/app:1"
        );
        assert_eq!(name("mongo", Some(&format!("sha256:{HEX}"))), "mongo");
        assert_eq!(name("app", None), "app");
    }
}
