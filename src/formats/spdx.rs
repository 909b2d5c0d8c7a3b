//! SPDX 2.x JSON SBOMs: packages with their purls and checksums.
//!
//! What the document describes comes from `documentDescribes` and from `DESCRIBES` /
//! `DESCRIBED_BY` relationships with the document itself. The first described package is
//! the root; the subject is the first described package or file with a SHA-256 checksum
//! (a built binary is as much an artifact as a container image).

use super::error::Problem;
use super::subject;
use super::tree::Obj;
use crate::model::{Checksum, Component, Sbom, Subject};

pub(super) fn parse(root: &Obj) -> Result<Sbom, Problem> {
    let creation = root.opt_obj("creationInfo")?;
    let packages = root.objects("packages")?;
    let described = described_ids(root)?;
    let root_index = described.iter().find_map(|id| index_of(&packages, id));
    let components = packages
        .iter()
        .enumerate()
        .filter(|(i, _)| Some(*i) != root_index);
    Ok(Sbom {
        spec_version: root.str("spdxVersion")?.to_owned(),
        serial_number: root.opt_string("documentNamespace")?,
        timestamp: creation
            .as_ref()
            .map_or(Ok(None), |c| c.opt_time("created"))?,
        subject: subject_of(root, &packages, &described)?,
        root: root_index.map(|i| package(&packages[i])).transpose()?,
        components: components
            .map(|(_, p)| package(p))
            .collect::<Result<_, _>>()?,
    })
}

fn index_of(elements: &[Obj], id: &str) -> Option<usize> {
    elements
        .iter()
        .position(|e| e.opt_str("SPDXID").ok().flatten() == Some(id))
}

fn package(obj: &Obj) -> Result<Component, Problem> {
    Ok(Component {
        bom_ref: obj.opt_string("SPDXID")?,
        group: None,
        name: obj.str("name")?.to_owned(),
        version: obj.opt_string("versionInfo")?,
        purl: purl(obj)?,
        hashes: checksums(obj)?,
    })
}

/// The locator of the first external reference of type `purl`.
fn purl(package: &Obj) -> Result<Option<String>, Problem> {
    for reference in package.objects("externalRefs")? {
        if reference.str("referenceType")? == "purl" {
            return Ok(Some(reference.str("referenceLocator")?.to_owned()));
        }
    }
    Ok(None)
}

fn checksums(element: &Obj) -> Result<Vec<Checksum>, Problem> {
    let checksums = element.objects("checksums")?;
    let read = |c: &Obj| Ok(Checksum::new(c.str("algorithm")?, c.str("checksumValue")?));
    checksums.iter().map(read).collect()
}

/// The ids of what the document describes, in document order, without repeats.
fn described_ids(root: &Obj) -> Result<Vec<String>, Problem> {
    let document_id = root.opt_str("SPDXID")?.unwrap_or("SPDXRef-DOCUMENT");
    let mut ids = root.strings("documentDescribes")?;
    for relationship in root.objects("relationships")? {
        let from = relationship.str("spdxElementId")?;
        let to = relationship.str("relatedSpdxElement")?;
        let described = match relationship.str("relationshipType")? {
            "DESCRIBES" if from == document_id => to,
            "DESCRIBED_BY" if to == document_id => from,
            _ => continue,
        };
        if !ids.iter().any(|id| id == described) {
            ids.push(described.to_owned());
        }
    }
    Ok(ids)
}

/// The first described package or file with a SHA-256 checksum.
fn subject_of(
    root: &Obj,
    packages: &[Obj],
    described: &[String],
) -> Result<Option<Subject>, Problem> {
    let files = root.objects("files")?;
    for id in described {
        let element = index_of(packages, id)
            .map(|i| (&packages[i], "name"))
            .or_else(|| index_of(&files, id).map(|i| (&files[i], "fileName")));
        let Some((element, name_key)) = element else {
            continue;
        };
        if let Some(subject) = element_subject(element, name_key)? {
            return Ok(Some(subject));
        }
    }
    Ok(None)
}

fn element_subject(element: &Obj, name_key: &str) -> Result<Option<Subject>, Problem> {
    for (i, hash) in checksums(element)?.iter().enumerate() {
        let path = format!("{}[{i}].checksumValue", element.child_path("checksums"));
        if let Some(digest) = subject::from_hash(hash, &path)? {
            let version = element.opt_str("versionInfo")?;
            let name = subject::name(element.str(name_key)?, version);
            return Ok(Some(Subject { name, digest }));
        }
    }
    Ok(None)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;
    use crate::formats::tree::{self, Node};

    fn sbom(text: &str) -> Result<Sbom, Problem> {
        let tree = tree::load("s.json", text.as_bytes())?;
        parse(&Node::root(&tree).obj()?)
    }

    const HEX: &str = "ee398c1e436e28bb57d16e3fed395657e877890295483bf21c016acbab6b7fd1";

    #[test]
    fn a_described_by_relationship_names_the_root_and_subject() {
        let doc = format!(
            r#"{{"spdxVersion": "SPDX-2.3", "SPDXID": "SPDXRef-DOCUMENT", "packages": [
            {{"SPDXID": "SPDXRef-a", "name": "lib", "externalRefs": [
                {{"referenceType": "cpe23Type", "referenceLocator": "cpe:x"}},
                {{"referenceType": "purl", "referenceLocator": "pkg:npm/lib@1"}}]}},
            {{"SPDXID": "SPDXRef-img", "name": "img", "versionInfo": "v1",
              "checksums": [{{"algorithm": "SHA256", "checksumValue": "{HEX}"}}]}}],
            "relationships": [{{"spdxElementId": "SPDXRef-img",
              "relationshipType": "DESCRIBED_BY", "relatedSpdxElement": "SPDXRef-DOCUMENT"}}]}}"#
        );
        let sbom = sbom(&doc).unwrap();
        assert_eq!(sbom.root.unwrap().name, "img");
        let subject = sbom.subject.unwrap();
        assert_eq!(
            (subject.name.as_str(), subject.digest.hex()),
            ("img:v1", HEX)
        );
        assert_eq!(sbom.components.len(), 1);
        assert_eq!(sbom.components[0].purl.as_deref(), Some("pkg:npm/lib@1"));
    }

    #[test]
    fn a_bad_sha256_checksum_on_the_subject_is_refused() {
        let doc = r#"{"spdxVersion": "SPDX-2.3", "documentDescribes": ["SPDXRef-a"],
            "packages": [{"SPDXID": "SPDXRef-a", "name": "a",
              "checksums": [{"algorithm": "SHA256", "checksumValue": "xyz"}]}]}"#;
        let err = sbom(doc).unwrap_err();
        assert!(
            matches!(err, Problem::BadDigest { ref path, .. }
            if path == "packages[0].checksums[0].checksumValue"),
            "{err}"
        );
    }
}
