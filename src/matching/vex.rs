//! VEX statements: which apply to a component of an artifact, and which one wins.
//!
//! A statement applies when it names the vulnerability (or one of its aliases) and either
//! the artifact (by digest; then, if it lists subcomponents, only those) or the component
//! itself (by purl — without a version it covers every version, and its qualifiers must
//! all be present on the component — by hash, or by a CycloneDX BOM-link whose fragment is
//! a purl or the component's bom-ref).
//!
//! Precedence, per (vulnerability, component): among statements from trusted issuers the
//! latest by timestamp wins (a statement without one is older than any that has one). Two
//! different statuses at that latest time are a conflict, reported as such: nothing is
//! silently shadowed.

use std::collections::{BTreeSet, HashMap};

use super::ecosystem::{scheme_of_purl_type, PackageKey};
use super::finding::{Status, VexEvidence};
use super::purl::Purl;
use crate::model::{Checksum, Component, Digest, VexDocument, VexProduct, VexStatement, VexStatus};

/// A statement with the identity of who said it, as matching needs it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IssuedStatement {
    /// Stable id: the document's id (or the caller's key for it) and the statement index.
    pub id: String,
    /// Who issued it: the feed or author the caller's trust decision is about.
    pub issuer: String,
    pub statement: VexStatement,
}

impl IssuedStatement {
    /// Every statement of a document; `document_key` names it when it has no id.
    pub fn from_document(document: &VexDocument, document_key: &str, issuer: &str) -> Vec<Self> {
        let name = document.id.as_deref().unwrap_or(document_key);
        let issued = |(i, statement): (usize, &VexStatement)| IssuedStatement {
            id: format!("{name}#{i}"),
            issuer: issuer.to_owned(),
            statement: statement.clone(),
        };
        document.statements.iter().enumerate().map(issued).collect()
    }
}

/// Decides whether a statement's issuer is trusted for it (configured per feed).
pub trait Trust {
    fn trusts(&self, statement: &IssuedStatement) -> bool;
}

/// A set of trusted issuers.
impl Trust for BTreeSet<String> {
    fn trusts(&self, statement: &IssuedStatement) -> bool {
        self.contains(&statement.issuer)
    }
}

impl<F: Fn(&IssuedStatement) -> bool> Trust for F {
    fn trusts(&self, statement: &IssuedStatement) -> bool {
        self(statement)
    }
}

/// Statements indexed by vulnerability id and by the package keys they name.
#[derive(Debug, Default)]
pub struct VexIndex {
    statements: Vec<IssuedStatement>,
    by_vulnerability: HashMap<String, Vec<usize>>,
    by_package: HashMap<PackageKey, Vec<usize>>,
}

impl VexIndex {
    pub fn new(statements: Vec<IssuedStatement>) -> Self {
        let mut index = VexIndex::default();
        for (i, issued) in statements.iter().enumerate() {
            for id in vulnerability_ids(&issued.statement) {
                index.by_vulnerability.entry(id).or_default().push(i);
            }
            for key in named_packages(&issued.statement) {
                index.by_package.entry(key).or_default().push(i);
            }
        }
        index.statements = statements;
        index
    }

    pub fn len(&self) -> usize {
        self.statements.len()
    }

    pub fn is_empty(&self) -> bool {
        self.statements.is_empty()
    }

    /// Statements about any of `ids` (compared without case).
    pub fn about<'a>(&'a self, ids: &BTreeSet<String>) -> Vec<&'a IssuedStatement> {
        let mut found: BTreeSet<usize> = BTreeSet::new();
        for id in ids {
            let hits = self.by_vulnerability.get(&id.to_uppercase());
            found.extend(hits.into_iter().flatten());
        }
        found.into_iter().map(|i| &self.statements[i]).collect()
    }

    /// Statements whose products or subcomponents name the package `key`.
    pub fn naming<'a>(&'a self, key: &PackageKey) -> impl Iterator<Item = &'a IssuedStatement> {
        let hits = self.by_package.get(key).into_iter().flatten();
        hits.map(|&i| &self.statements[i])
    }
}

/// The statement's vulnerability name and aliases, upper-cased.
pub fn vulnerability_ids(statement: &VexStatement) -> BTreeSet<String> {
    let vulnerability = &statement.vulnerability;
    let names = std::iter::once(&vulnerability.name).chain(&vulnerability.aliases);
    names.map(|id| id.to_uppercase()).collect()
}

fn named_packages(statement: &VexStatement) -> BTreeSet<PackageKey> {
    let products = statement.products.iter();
    let all = products.flat_map(|p| std::iter::once(p).chain(&p.subcomponents));
    all.filter_map(product_purl)
        .map(|p| PackageKey::of_purl(&p))
        .collect()
}

/// The component of an artifact a statement may be about.
#[derive(Clone, Copy, Debug)]
pub struct Target<'a> {
    pub artifact: &'a Digest,
    pub component: &'a Component,
    pub purl: &'a Purl,
}

/// The status a statement gives `target`, if it applies to it.
pub fn status_for(statement: &VexStatement, target: Target<'_>) -> Option<VexStatus> {
    statement
        .products
        .iter()
        .find_map(|product| product_status(product, statement.status, target))
}

fn product_status(
    product: &VexProduct,
    status: VexStatus,
    target: Target<'_>,
) -> Option<VexStatus> {
    if is_artifact(product, target.artifact) {
        let covered = product.subcomponents.is_empty()
            || product
                .subcomponents
                .iter()
                .any(|s| names_component(s, target));
        return covered.then_some(status);
    }
    if !names_component(product, target) {
        return None;
    }
    versions_status(product, status, target)
}

/// CycloneDX `affects[].versions`: the statement covers only the listed versions, and an
/// `unaffected` entry means not affected.
fn versions_status(
    product: &VexProduct,
    status: VexStatus,
    target: Target<'_>,
) -> Option<VexStatus> {
    if product.versions.is_empty() {
        return Some(status);
    }
    let version = target
        .purl
        .version
        .as_deref()
        .or(target.component.version.as_deref())?;
    let entry = product.versions.iter().find(|v| {
        v.version
            .as_deref()
            .is_some_and(|listed| same_version(target.purl, listed, version))
    })?;
    match entry.status.as_str() {
        "unaffected" => Some(VexStatus::NotAffected),
        "affected" => Some(status),
        _ => None,
    }
}

fn is_artifact(product: &VexProduct, artifact: &Digest) -> bool {
    let by_hash = product.hashes.iter().any(|h| is_digest(h, artifact));
    let by_id = product.id == artifact.as_str();
    let by_purl = product_purl(product)
        .and_then(|p| p.version)
        .is_some_and(|v| v.eq_ignore_ascii_case(artifact.as_str()));
    by_hash || by_id || by_purl
}

fn is_digest(hash: &Checksum, artifact: &Digest) -> bool {
    hash.alg == "sha256" && hash.value == artifact.hex()
}

fn names_component(product: &VexProduct, target: Target<'_>) -> bool {
    let by_hash = product
        .hashes
        .iter()
        .any(|h| target.component.hashes.contains(h));
    let by_ref = bom_link_fragment(&product.id)
        .is_some_and(|r| target.component.bom_ref.as_deref() == Some(r));
    let by_purl = product_purl(product).is_some_and(|p| purl_covers(&p, target));
    by_hash || by_ref || by_purl
}

/// What a VEX product points at, for impact analysis.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ProductRef {
    /// An artifact, by `sha256:<hex>` (a hash, an id, or an OCI purl's digest version).
    Artifact(String),
    /// A package, in whatever artifact ships it.
    Package(PackageKey),
}

/// The artifacts and packages a product names. A product naming neither (a CPE only, a
/// bare name) yields nothing: such statements cannot be matched either.
pub fn product_refs(product: &VexProduct) -> Vec<ProductRef> {
    let mut refs = Vec::new();
    let hashes = product.hashes.iter().filter(|h| h.alg == "sha256");
    refs.extend(hashes.map(|h| ProductRef::Artifact(format!("sha256:{}", h.value))));
    if product.id.parse::<Digest>().is_ok() {
        refs.push(ProductRef::Artifact(product.id.clone()));
    }
    match product_purl(product) {
        Some(p)
            if p.version
                .as_deref()
                .is_some_and(|v| v.parse::<Digest>().is_ok()) =>
        {
            let version = p.version.unwrap_or_default().to_ascii_lowercase();
            refs.push(ProductRef::Artifact(version));
        }
        Some(p) => refs.push(ProductRef::Package(PackageKey::of_purl(&p))),
        None => {}
    }
    refs
}

/// The product's purl: its own, its id when that is a purl, or the fragment of a
/// BOM-link id (`urn:cdx:<serial>/<version>#<ref>`) when that is a purl.
fn product_purl(product: &VexProduct) -> Option<Purl> {
    let text = product.purl.as_deref().or_else(|| {
        let id = product.id.as_str();
        Some(bom_link_fragment(id).unwrap_or(id)).filter(|t| t.starts_with("pkg:"))
    })?;
    text.parse().ok()
}

fn bom_link_fragment(id: &str) -> Option<&str> {
    id.strip_prefix("urn:cdx:")?
        .split_once('#')
        .map(|(_, fragment)| fragment)
}

/// Same package; the same version when the statement gives one; every qualifier of the
/// statement present on the component with the same value.
fn purl_covers(stated: &Purl, target: Target<'_>) -> bool {
    let component = target.purl;
    if PackageKey::of_purl(stated) != PackageKey::of_purl(component) {
        return false;
    }
    let version = component
        .version
        .as_deref()
        .or(target.component.version.as_deref());
    let version_ok = match (&stated.version, version) {
        (None, _) => true,
        (Some(stated_version), Some(version)) => same_version(component, stated_version, version),
        (Some(_), None) => false,
    };
    let qualifiers_ok = stated
        .qualifiers
        .iter()
        .all(|(k, v)| component.qualifier(k) == Some(v.as_str()));
    version_ok && qualifiers_ok && (stated.subpath.is_none() || stated.subpath == component.subpath)
}

fn same_version(purl: &Purl, a: &str, b: &str) -> bool {
    if a == b {
        return true;
    }
    let Some(scheme) = scheme_of_purl_type(&purl.ty) else {
        return false;
    };
    scheme.compare(a, b).is_ok_and(|o| o.is_eq())
}

/// The decision for one (vulnerability, component).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Decision {
    /// `None` when the latest trusted statements disagree.
    pub status: Option<Status>,
    pub justification: Option<String>,
    pub evidence: Vec<VexEvidence>,
}

impl Decision {
    pub fn is_conflict(&self) -> bool {
        self.status.is_none()
    }
}

/// Applies precedence to the statements that apply (each with the status it gives the
/// target); `None` when no trusted statement applies.
pub fn decide(applying: Vec<(&IssuedStatement, VexStatus)>, trust: &dyn Trust) -> Option<Decision> {
    let mut trusted: Vec<_> = applying
        .into_iter()
        .filter(|(s, _)| trust.trusts(s))
        .collect();
    trusted.sort_by(|(a, _), (b, _)| {
        (a.statement.timestamp, &a.id).cmp(&(b.statement.timestamp, &b.id))
    });
    let latest = trusted.last()?.0.statement.timestamp;
    let statuses: BTreeSet<VexStatus> = trusted
        .iter()
        .filter(|(s, _)| s.statement.timestamp == latest)
        .map(|(_, status)| *status)
        .collect();
    let status = (statuses.len() == 1).then(|| Status::from(*statuses.first().expect("len 1")));
    let evidence = trusted
        .iter()
        .map(|(s, st)| evidence(s, *st, s.statement.timestamp == latest))
        .collect::<Vec<_>>();
    let justification = status.and_then(|_| {
        let decisive = evidence.iter().filter(|e| e.decisive);
        decisive.filter_map(|e| e.justification.clone()).next()
    });
    Some(Decision {
        status,
        justification,
        evidence,
    })
}

fn evidence(issued: &IssuedStatement, status: VexStatus, decisive: bool) -> VexEvidence {
    VexEvidence {
        statement: issued.id.clone(),
        issuer: issued.issuer.clone(),
        vulnerability: issued.statement.vulnerability.name.clone(),
        status: status.into(),
        justification: issued.statement.justification.clone(),
        timestamp: issued.statement.timestamp,
        decisive,
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;
    use crate::model::{ProductVersion, Vulnerability};

    const HEX: &str = "124c7d2707904eea7431fffe91522a01e5a861a624ee31d03372cc1d138a3126";

    fn statement(products: Vec<VexProduct>, status: VexStatus, time: &str) -> VexStatement {
        VexStatement {
            vulnerability: Vulnerability {
                name: "CVE-1".into(),
                uri: None,
                source: None,
                aliases: vec!["GHSA-x".into()],
            },
            products,
            status,
            original_status: status.to_string(),
            justification: Some("component_not_present".into()),
            impact_statement: None,
            action_statement: None,
            responses: Vec::new(),
            detail: None,
            ratings: Vec::new(),
            timestamp: Some(time.parse().unwrap()),
        }
    }

    fn component(purl: &str) -> Component {
        Component {
            bom_ref: None,
            group: None,
            name: "c".into(),
            version: None,
            purl: Some(purl.into()),
            hashes: Vec::new(),
        }
    }

    fn applies(product: VexProduct, purl: &str) -> Option<VexStatus> {
        let artifact: Digest = format!("sha256:{HEX}").parse().unwrap();
        let component = component(purl);
        let parsed: Purl = purl.parse().unwrap();
        let target = Target {
            artifact: &artifact,
            component: &component,
            purl: &parsed,
        };
        status_for(
            &statement(vec![product], VexStatus::Fixed, "2024-01-01T00:00:00Z"),
            target,
        )
    }

    #[test]
    fn purls_match_with_or_without_version_and_by_qualifier_subset() {
        let p = VexProduct::from_id;
        assert!(applies(
            p("pkg:apk/alpine/git"),
            "pkg:apk/alpine/git@2.38.1-r0?arch=x86_64"
        )
        .is_some());
        assert!(applies(
            p("pkg:apk/alpine/git@2.38.1-r0"),
            "pkg:apk/alpine/git@2.38.1-r0?arch=x86_64"
        )
        .is_some());
        assert!(applies(
            p("pkg:apk/alpine/git@2.38.1-r1"),
            "pkg:apk/alpine/git@2.38.1-r0"
        )
        .is_none());
        let arch = p("pkg:apk/alpine/git@2.38.1-r0?arch=ppc64le");
        assert!(applies(arch, "pkg:apk/alpine/git@2.38.1-r0?arch=x86_64").is_none());
        assert!(
            applies(p("pkg:maven/g/a@1.0"), "pkg:maven/g/a@1.0.0").is_some(),
            "Maven-equal"
        );
    }

    #[test]
    fn the_artifact_matches_by_digest_and_limits_to_its_subcomponents() {
        let mut image = VexProduct::from_id(&format!("pkg:oci/alpine@sha256%3A{HEX}"));
        assert!(
            applies(image.clone(), "pkg:npm/anything@1").is_some(),
            "whole artifact"
        );
        image.subcomponents = vec![VexProduct::from_id("pkg:apk/alpine/libssl3@3.0.8-r3")];
        assert!(applies(image.clone(), "pkg:apk/alpine/libssl3@3.0.8-r3").is_some());
        assert!(applies(image, "pkg:apk/alpine/busybox@1.35.0-r17").is_none());
        let mut other = VexProduct::from_id("pkg:oci/alpine@sha256%3Aabcd");
        other.subcomponents = vec![VexProduct::from_id("pkg:apk/alpine/libssl3")];
        assert!(
            applies(other, "pkg:apk/alpine/libssl3@3.0.8-r3").is_none(),
            "another image"
        );
    }

    #[test]
    fn cyclonedx_versions_limit_and_can_clear() {
        let mut product = VexProduct::from_id("urn:cdx:x/1#pkg:maven/g/a@2.9.4");
        product.versions = vec![ProductVersion {
            version: Some("2.9.4".into()),
            range: None,
            status: "unaffected".into(),
        }];
        let bare = "pkg:maven/g/a@2.9.4";
        assert_eq!(applies(product.clone(), bare), Some(VexStatus::NotAffected));
        product.versions[0].version = Some("2.9.5".into());
        assert_eq!(applies(product, bare), None);
    }

    #[test]
    fn the_latest_trusted_statement_wins_and_ties_conflict() {
        let issued = |status, time: &str, issuer: &str| IssuedStatement {
            id: format!("{issuer}-{time}"),
            issuer: issuer.into(),
            statement: statement(Vec::new(), status, time),
        };
        let early = issued(VexStatus::Affected, "2024-01-01T00:00:00Z", "a");
        let late = issued(VexStatus::NotAffected, "2024-02-01T00:00:00Z", "b");
        let tie = issued(VexStatus::Fixed, "2024-02-01T00:00:00Z", "c");
        let all = |_: &IssuedStatement| true;
        let pair = vec![
            (&early, early.statement.status),
            (&late, late.statement.status),
        ];
        let decision = decide(pair.clone(), &all).unwrap();
        assert_eq!(decision.status, Some(Status::NotAffected));
        assert_eq!(
            decision.justification.as_deref(),
            Some("component_not_present")
        );
        let only_a: BTreeSet<String> = BTreeSet::from(["a".to_owned()]);
        assert_eq!(
            decide(pair, &only_a).unwrap().status,
            Some(Status::Affected)
        );
        let three = vec![
            (&early, VexStatus::Affected),
            (&late, VexStatus::NotAffected),
            (&tie, VexStatus::Fixed),
        ];
        let conflict = decide(three, &all).unwrap();
        assert!(conflict.is_conflict() && conflict.justification.is_none());
        assert_eq!(conflict.evidence.iter().filter(|e| e.decisive).count(), 2);
        let none = |_: &IssuedStatement| false;
        assert!(decide(vec![(&early, VexStatus::Affected)], &none).is_none());
    }
}
