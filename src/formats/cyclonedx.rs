//! CycloneDX 1.x JSON: an SBOM (components) or, when it lists `vulnerabilities`, VEX.
//!
//! Analysis states are mapped onto the four VEX statuses and kept as written. A
//! vulnerability with no analysis state (scanner output, a VDR) claims the component is
//! affected without assessing it; it is read as `affected` with the original status
//! `unspecified`, so it can never suppress a finding.

use std::collections::HashMap;

use super::error::Problem;
use super::subject;
use super::tree::Obj;
use crate::model::{
    Checksum, Component, ProductVersion, Rating, Sbom, Subject, Timestamp, VexDocument, VexProduct,
    VexStatement, VexStatus, Vulnerability,
};

pub(super) fn parse_sbom(root: &Obj) -> Result<Sbom, Problem> {
    let metadata = root.opt_obj("metadata")?;
    let described = match &metadata {
        Some(metadata) => metadata.opt_obj("component")?,
        None => None,
    };
    Ok(Sbom {
        spec_version: root.str("specVersion")?.to_owned(),
        serial_number: root.opt_string("serialNumber")?,
        timestamp: metadata
            .as_ref()
            .map_or(Ok(None), |m| m.opt_time("timestamp"))?,
        subject: described.as_ref().map_or(Ok(None), described_subject)?,
        root: described.as_ref().map(component).transpose()?,
        components: components(root)?,
    })
}

/// Every component, nested ones included, parents before their children.
fn components(parent: &Obj) -> Result<Vec<Component>, Problem> {
    let mut flat = Vec::new();
    for obj in parent.objects("components")? {
        flat.push(component(&obj)?);
        flat.extend(components(&obj)?);
    }
    Ok(flat)
}

fn component(obj: &Obj) -> Result<Component, Problem> {
    Ok(Component {
        bom_ref: obj.opt_string("bom-ref")?,
        group: obj.opt_string("group")?,
        name: obj.str("name")?.to_owned(),
        version: obj.opt_string("version")?,
        purl: obj.opt_string("purl")?,
        hashes: hashes(obj)?,
    })
}

fn hashes(obj: &Obj) -> Result<Vec<Checksum>, Problem> {
    let hashes = obj.objects("hashes")?;
    hashes
        .iter()
        .map(|h| Ok(Checksum::new(h.str("alg")?, h.str("content")?)))
        .collect()
}

/// The artifact `metadata.component` names by digest: a SHA-256 hash, an OCI purl with a
/// digest, or (syft) a digest written as the version.
fn described_subject(described: &Obj) -> Result<Option<Subject>, Problem> {
    let name = described.str("name")?;
    let version = described.opt_str("version")?;
    let digest = match hash_digest(described)? {
        Some(digest) => Some(digest),
        None => {
            let purl = described.opt_str("purl")?;
            purl.and_then(subject::from_oci_purl)
                .or_else(|| version.and_then(subject::from_text))
        }
    };
    Ok(digest.map(|digest| Subject {
        name: subject::name(name, version),
        digest,
    }))
}

fn hash_digest(described: &Obj) -> Result<Option<crate::model::Digest>, Problem> {
    let hashes = hashes(described)?;
    for (i, hash) in hashes.iter().enumerate() {
        let path = format!("{}[{i}].content", described.child_path("hashes"));
        if let Some(digest) = subject::from_hash(hash, &path)? {
            return Ok(Some(digest));
        }
    }
    Ok(None)
}

pub(super) fn parse_vex(root: &Obj) -> Result<VexDocument, Problem> {
    let metadata = root.opt_obj("metadata")?;
    let timestamp = metadata
        .as_ref()
        .map_or(Ok(None), |m| m.opt_time("timestamp"))?;
    let refs = BomRefs::new(root, metadata.as_ref())?;
    let vulnerabilities = root.objects("vulnerabilities")?;
    let statements = vulnerabilities
        .iter()
        .map(|v| statement(v, &refs, timestamp));
    Ok(VexDocument {
        id: root.opt_string("serialNumber")?,
        version: root.opt_scalar("version")?,
        author: metadata.as_ref().map_or(Ok(None), author)?,
        timestamp,
        statements: statements.collect::<Result<_, _>>()?,
        recommended: Vec::new(),
    })
}

/// The first of `metadata.authors`, by name.
fn author(metadata: &Obj) -> Result<Option<String>, Problem> {
    let authors = metadata.objects("authors")?;
    authors.first().map_or(Ok(None), |a| a.opt_string("name"))
}

fn statement(
    vuln: &Obj,
    refs: &BomRefs,
    document_time: Option<Timestamp>,
) -> Result<VexStatement, Problem> {
    let analysis = vuln.opt_obj("analysis")?;
    let analysis = analysis.as_ref();
    let (status, original_status) = state(analysis)?;
    let text = |key| analysis.map_or(Ok(None), |a| a.opt_string(key));
    Ok(VexStatement {
        vulnerability: vulnerability(vuln)?,
        products: affects(vuln, refs)?,
        status,
        original_status,
        justification: text("justification")?,
        impact_statement: None,
        action_statement: None,
        responses: analysis.map_or(Ok(Vec::new()), |a| a.strings("response"))?,
        detail: text("detail")?,
        ratings: ratings(vuln)?,
        timestamp: statement_time(vuln, analysis)?.or(document_time),
    })
}

const STATES: &str =
    "resolved, resolved_with_pedigree, exploitable, in_triage, false_positive, not_affected";

/// The VEX status of an analysis state, and the state as written.
fn state(analysis: Option<&Obj>) -> Result<(VexStatus, String), Problem> {
    let Some(analysis) = analysis else {
        return Ok(unspecified());
    };
    let Some(state) = analysis.opt_str("state")? else {
        return Ok(unspecified());
    };
    let status = match state {
        "exploitable" => VexStatus::Affected,
        "in_triage" => VexStatus::UnderInvestigation,
        "resolved" | "resolved_with_pedigree" => VexStatus::Fixed,
        "not_affected" | "false_positive" => VexStatus::NotAffected,
        other => {
            let path = analysis.child_path("state");
            let value = other.to_owned();
            return Err(Problem::UnknownStatus {
                path,
                value,
                expected: STATES,
            });
        }
    };
    Ok((status, state.to_owned()))
}

fn unspecified() -> (VexStatus, String) {
    (VexStatus::Affected, "unspecified".to_owned())
}

/// The analysis' last update, else the vulnerability's.
fn statement_time(vuln: &Obj, analysis: Option<&Obj>) -> Result<Option<Timestamp>, Problem> {
    let updated = analysis.map_or(Ok(None), |a| a.opt_time("lastUpdated"))?;
    Ok(updated.or(vuln.opt_time("updated")?))
}

/// `id` and `source`; the ids of `references` are other names for the same flaw.
fn vulnerability(vuln: &Obj) -> Result<Vulnerability, Problem> {
    let source = vuln.opt_obj("source")?;
    let source_text = |key| source.as_ref().map_or(Ok(None), |s| s.opt_string(key));
    let references = vuln.objects("references")?;
    let aliases = references.iter().map(|r| Ok(r.str("id")?.to_owned()));
    Ok(Vulnerability {
        name: vuln.str("id")?.to_owned(),
        uri: source_text("url")?,
        source: source_text("name")?,
        aliases: aliases.collect::<Result<_, Problem>>()?,
    })
}

fn ratings(vuln: &Obj) -> Result<Vec<Rating>, Problem> {
    vuln.objects("ratings")?.iter().map(rating).collect()
}

fn rating(obj: &Obj) -> Result<Rating, Problem> {
    let source = obj.opt_obj("source")?;
    let score = match obj.get("score") {
        Some(node) => Some(
            node.value()
                .as_number()
                .cloned()
                .ok_or_else(|| node.wrong_type("a number"))?,
        ),
        None => None,
    };
    Ok(Rating {
        source: source.map_or(Ok(None), |s| s.opt_string("name"))?,
        score,
        severity: obj.opt_string("severity")?,
        method: obj.opt_string("method")?,
        vector: obj.opt_string("vector")?,
    })
}

fn affects(vuln: &Obj, refs: &BomRefs) -> Result<Vec<VexProduct>, Problem> {
    let affects = vuln.objects("affects")?;
    affects.iter().map(|a| affected_product(a, refs)).collect()
}

fn affected_product(affect: &Obj, refs: &BomRefs) -> Result<VexProduct, Problem> {
    let reference = affect.str("ref")?;
    let mut product = match refs.resolve(reference) {
        Some(component) => product_of(reference, component),
        None => VexProduct::from_id(reference),
    };
    let versions = affect.objects("versions")?;
    product.versions = versions
        .iter()
        .map(product_version)
        .collect::<Result<_, _>>()?;
    Ok(product)
}

fn product_of(reference: &str, component: &Component) -> VexProduct {
    let mut product = VexProduct::from_id(reference);
    product.name = Some(component.name.clone());
    product.purl = component.purl.clone().or(product.purl);
    product.hashes = component.hashes.clone();
    product
}

fn product_version(obj: &Obj) -> Result<ProductVersion, Problem> {
    Ok(ProductVersion {
        version: obj.opt_string("version")?,
        range: obj.opt_string("range")?,
        status: obj
            .opt_string("status")?
            .unwrap_or_else(|| "affected".to_owned()),
    })
}

/// The components of this document by `bom-ref`, to resolve `affects[].ref`.
struct BomRefs {
    by_ref: HashMap<String, Component>,
    /// The UUID of this document's serial number, to recognize BOM-links into itself.
    own_uuid: Option<String>,
}

impl BomRefs {
    fn new(root: &Obj, metadata: Option<&Obj>) -> Result<Self, Problem> {
        let mut all = components(root)?;
        if let Some(described) = metadata
            .map(|m| m.opt_obj("component"))
            .transpose()?
            .flatten()
        {
            all.push(component(&described)?);
        }
        let keyed = all
            .into_iter()
            .filter_map(|c| Some((c.bom_ref.clone()?, c)));
        let serial = root.opt_str("serialNumber")?;
        let own_uuid = serial
            .and_then(|s| s.strip_prefix("urn:uuid:"))
            .map(str::to_owned);
        Ok(Self {
            by_ref: keyed.collect(),
            own_uuid,
        })
    }

    /// A plain bom-ref, or a BOM-link (`urn:cdx:<uuid>/<version>#<bom-ref>`) into this
    /// document. Links into other documents are left for matching to resolve.
    fn resolve(&self, reference: &str) -> Option<&Component> {
        if let Some(component) = self.by_ref.get(reference) {
            return Some(component);
        }
        let (document, fragment) = reference.split_once('#')?;
        let uuid = document
            .strip_prefix("urn:cdx:")
            .or(document.strip_prefix("urn:uuid:"))?;
        let uuid = uuid.split('/').next()?;
        (self.own_uuid.as_deref() == Some(uuid))
            .then(|| self.by_ref.get(fragment))
            .flatten()
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;
    use crate::formats::tree::{self, Node};

    fn vex(text: &str) -> Result<VexDocument, Problem> {
        let tree = tree::load("c.json", text.as_bytes())?;
        parse_vex(&Node::root(&tree).obj()?)
    }

    fn one_vuln(vuln: &str) -> Result<VexStatement, Problem> {
        let doc = format!(r#"{{"bomFormat": "CycloneDX", "vulnerabilities": [{vuln}]}}"#);
        Ok(vex(&doc)?.statements.remove(0))
    }

    #[test]
    fn analysis_states_map_onto_the_vex_statuses() {
        let cases = [
            ("exploitable", VexStatus::Affected),
            ("in_triage", VexStatus::UnderInvestigation),
            ("resolved", VexStatus::Fixed),
            ("resolved_with_pedigree", VexStatus::Fixed),
            ("not_affected", VexStatus::NotAffected),
            ("false_positive", VexStatus::NotAffected),
        ];
        for (state, status) in cases {
            let s = one_vuln(&format!(
                r#"{{"id": "CVE-1", "analysis": {{"state": "{state}"}}}}"#
            ));
            let s = s.unwrap();
            assert_eq!((s.status, s.original_status.as_str()), (status, state));
        }
    }

    #[test]
    fn an_unknown_state_is_refused_with_its_path() {
        let err = one_vuln(r#"{"id": "CVE-1", "analysis": {"state": "wontfix"}}"#).unwrap_err();
        let expected = "`vulnerabilities[0].analysis.state`: unknown status \"wontfix\"";
        assert!(err.to_string().starts_with(expected), "{err}");
    }

    #[test]
    fn no_analysis_reads_as_an_unassessed_affected_claim() {
        let s = one_vuln(r#"{"id": "CVE-1", "affects": [{"ref": "pkg:npm/a@1"}]}"#).unwrap();
        assert_eq!(
            (s.status, s.original_status.as_str()),
            (VexStatus::Affected, "unspecified")
        );
        assert_eq!(s.products[0].purl.as_deref(), Some("pkg:npm/a@1"));
        assert_eq!(s.products[0].versions, []);
    }

    #[test]
    fn bom_links_into_the_same_document_resolve() {
        let doc = r#"{"bomFormat": "CycloneDX", "serialNumber": "urn:uuid:u-1",
            "components": [{"bom-ref": "c1", "name": "a", "purl": "pkg:npm/a@1"}],
            "vulnerabilities": [{"id": "CVE-1", "affects": [
                {"ref": "urn:cdx:u-1/1#c1", "versions": [{"range": "vers:npm/<2"}]},
                {"ref": "urn:cdx:other/1#c1"}]}]}"#;
        let products = vex(doc).unwrap().statements.remove(0).products;
        assert_eq!(products[0].purl.as_deref(), Some("pkg:npm/a@1"));
        assert_eq!(products[0].versions[0].status, "affected");
        assert_eq!(products[1].purl, None);
    }

    #[test]
    fn a_rating_score_must_be_a_number() {
        let err = one_vuln(r#"{"id": "CVE-1", "ratings": [{"score": "high"}]}"#).unwrap_err();
        let expected = "`vulnerabilities[0].ratings[0].score`: expected a number, got a string";
        assert_eq!(err.to_string(), expected);
    }

    #[test]
    fn nested_components_are_flattened_parent_first() {
        let doc = r#"{"specVersion": "1.5", "components": [{"name": "a", "components": [
            {"name": "b", "components": [{"name": "c"}]}]}, {"name": "d"}]}"#;
        let tree = tree::load("s.json", doc.as_bytes()).unwrap();
        let sbom = parse_sbom(&Node::root(&tree).obj().unwrap()).unwrap();
        let names: Vec<&str> = sbom.components.iter().map(|c| c.name.as_str()).collect();
        assert_eq!(names, ["a", "b", "c", "d"]);
    }
}
