//! Telling a document's kind, format and identity from its content alone.
//!
//! `bundle create` is handed bare files; the manifest it writes must say what each one is
//! and by which id it is known. Detection looks at the few fields that set each format
//! apart; the document is then parsed in full, so a file that would be refused at ingest is
//! refused here first.

use super::error::{FormatError, Problem};
use super::tree::{self, Node, Obj};
use super::{parse_tree, ParsedDocument};
use crate::model::{DocumentFormat, DocumentKind, Sbom, Subject, VexDocument};

/// What a document is and how it is known.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Classified {
    pub kind: DocumentKind,
    pub format: DocumentFormat,
    /// OSV `id`; OpenVEX `@id`; CycloneDX VEX `serialNumber`; CSAF `document.tracking.id`;
    /// for an SBOM, its subject digest when it has one (see [`sbom_id`] otherwise).
    pub id: String,
    /// The artifact an SBOM describes, when it names one by SHA-256; `None` otherwise.
    pub subject: Option<Subject>,
    /// The whole document, parsed, so the caller need not parse it again.
    pub document: ParsedDocument,
}

/// Classifies and parses a document. `name_hint` (its file name) is used in errors and to
/// read `*.yaml`/`*.yml` as YAML.
pub fn classify(name_hint: &str, bytes: &[u8]) -> Result<Classified, FormatError> {
    classify_tree(name_hint, bytes).map_err(|problem| FormatError::new(name_hint, problem))
}

fn classify_tree(name_hint: &str, bytes: &[u8]) -> Result<Classified, Problem> {
    let tree = tree::load(name_hint, bytes)?;
    let root = Node::root(&tree).obj()?;
    let (kind, format) = detect(&root)?;
    let document = parse_tree(kind, format, &root)?;
    let id = identify(kind, format, &document, bytes)?;
    let subject = match &document {
        ParsedDocument::Sbom(sbom) => sbom.subject.clone(),
        _ => None,
    };
    Ok(Classified {
        kind,
        format,
        id,
        subject,
        document,
    })
}

/// The id a parsed document is known by in the store (docs/bundle-format.md): OSV `id`,
/// the VEX document's own id (or its content digest for a CycloneDX VEX without one).
/// An SBOM is known by the subject its bundle declares, which the caller holds.
pub fn document_id(
    name_hint: &str,
    document: &ParsedDocument,
    format: DocumentFormat,
    bytes: &[u8],
) -> Result<String, FormatError> {
    identify(document.kind(), format, document, bytes).map_err(|p| FormatError::new(name_hint, p))
}

/// The kind and format the content shows.
pub(super) fn detect(root: &Obj) -> Result<(DocumentKind, DocumentFormat), Problem> {
    use DocumentFormat as F;
    use DocumentKind as K;
    if let Some(bom_format) = root.get("bomFormat") {
        return cyclonedx_kind(root, &bom_format);
    }
    if root.has("spdxVersion") {
        return Ok((K::Sbom, F::Spdx));
    }
    if is_csaf(root)? {
        return Ok((K::Vex, F::Csaf));
    }
    if is_openvex(root)? {
        return Ok((K::Vex, F::Openvex));
    }
    if is_osv(root) {
        return Ok((K::Advisory, F::Osv));
    }
    Err(Problem::Unrecognized {
        reason: "found no `bomFormat`, `spdxVersion`, `document.csaf_version`, OpenVEX \
                 `@context`, nor an OSV string `id` with `modified` or `affected`"
            .to_owned(),
    })
}

/// CycloneDX carries VEX in `vulnerabilities`; a BOM without any is an SBOM.
fn cyclonedx_kind(
    root: &Obj,
    bom_format: &Node,
) -> Result<(DocumentKind, DocumentFormat), Problem> {
    let value = bom_format.str()?;
    if value != "CycloneDX" {
        let reason = format!("`bomFormat` is {value:?}, expected \"CycloneDX\"");
        return Err(Problem::Unrecognized { reason });
    }
    let has_vulnerabilities = !root.list("vulnerabilities")?.is_empty();
    let kind = if has_vulnerabilities {
        DocumentKind::Vex
    } else {
        DocumentKind::Sbom
    };
    Ok((kind, DocumentFormat::Cyclonedx))
}

fn is_csaf(root: &Obj) -> Result<bool, Problem> {
    let Some(document) = root.get("document") else {
        return Ok(false);
    };
    Ok(document.obj()?.has("csaf_version"))
}

const OPENVEX_CONTEXT: &str = "https://openvex.dev/ns";

/// An OpenVEX `@context` starts with the OpenVEX namespace. GUAC's test data also writes an
/// empty `@context`; with a `statements` array beside it, that is read as OpenVEX too.
fn is_openvex(root: &Obj) -> Result<bool, Problem> {
    let Some(context) = root.opt_str("@context")? else {
        return Ok(false);
    };
    let empty_with_statements = context.is_empty() && root.has("statements");
    Ok(context.starts_with(OPENVEX_CONTEXT) || empty_with_statements)
}

fn is_osv(root: &Obj) -> bool {
    let has_string_id = root.get("id").is_some_and(|id| id.value().is_string());
    has_string_id && (root.has("affected") || root.has("modified"))
}

/// The id a document is known by; see [`Classified::id`].
fn identify(
    kind: DocumentKind,
    format: DocumentFormat,
    document: &ParsedDocument,
    bytes: &[u8],
) -> Result<String, Problem> {
    let missing = |field| Problem::MissingId {
        kind,
        format,
        field,
    };
    match document {
        ParsedDocument::Advisory(advisory) => Ok(advisory.id.clone()),
        ParsedDocument::Vex(vex) => match (vex_id(vex), format) {
            (Some(id), _) => Ok(id),
            (None, DocumentFormat::Cyclonedx) => Ok(content_id(bytes)),
            (None, _) => Err(missing(vex_id_field(format))),
        },
        ParsedDocument::Sbom(sbom) => sbom_id(sbom).ok_or_else(|| missing(sbom_id_field(format))),
    }
}

/// `serialNumber` is optional in CycloneDX and real VEX documents omit it; such a
/// document is named by its content, `sha256:<hex of its bytes>` (docs/bundle-format.md).
fn content_id(bytes: &[u8]) -> String {
    use sha2::Digest as _;
    format!("sha256:{}", hex::encode(sha2::Sha256::digest(bytes)))
}

fn vex_id(vex: &VexDocument) -> Option<String> {
    vex.id.clone().filter(|id| !id.is_empty())
}

fn vex_id_field(format: DocumentFormat) -> &'static str {
    match format {
        DocumentFormat::Openvex => "@id",
        DocumentFormat::Csaf => "document.tracking.id",
        _ => "serialNumber",
    }
}

/// An SBOM is known by its subject's digest; without one, by its serial number (SPDX: its
/// namespace); without that, by what it describes: the root component's purl, else its
/// `name@version`. Five of the corpus SBOMs have neither subject nor serial number.
pub(super) fn sbom_id(sbom: &Sbom) -> Option<String> {
    if let Some(subject) = &sbom.subject {
        return Some(subject.digest.to_string());
    }
    if let Some(serial) = sbom.serial_number.as_ref().filter(|s| !s.is_empty()) {
        return Some(serial.clone());
    }
    let root = sbom.root.as_ref()?;
    let name_version = root.version.as_ref().map(|v| format!("{}@{v}", root.name));
    root.purl.clone().or(name_version)
}

fn sbom_id_field(format: DocumentFormat) -> &'static str {
    match format {
        DocumentFormat::Spdx => "documentNamespace",
        _ => "serialNumber",
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    fn problem(name: &str, text: &str) -> Problem {
        classify(name, text.as_bytes()).unwrap_err().problem
    }

    #[test]
    fn an_unknown_object_is_refused_with_the_reason() {
        let err = classify("notes.json", br#"{"title": "hello"}"#).unwrap_err();
        assert!(matches!(err.problem, Problem::Unrecognized { .. }));
        let message = err.to_string();
        assert!(message.starts_with("notes.json: cannot tell"), "{message}");
        assert!(message.contains("bomFormat"), "{message}");
    }

    #[test]
    fn a_top_level_array_is_refused() {
        let p = problem("list.json", "[1, 2]");
        assert_eq!(p.to_string(), "`$`: expected an object, got an array");
    }

    #[test]
    fn a_foreign_bom_format_is_refused() {
        let p = problem("x.json", r#"{"bomFormat": "SPDX"}"#);
        assert!(
            p.to_string().contains(r#""SPDX", expected "CycloneDX""#),
            "{p}"
        );
    }

    #[test]
    fn an_openvex_document_without_id_is_refused_naming_the_field() {
        let doc = r#"{"@context": "https://openvex.dev/ns/v0.2.0",
            "statements": [{"vulnerability": {"name": "CVE-1"}, "status": "fixed"}]}"#;
        let p = problem("v.json", doc);
        assert!(matches!(p, Problem::MissingId { field: "@id", .. }), "{p}");
    }

    #[test]
    fn a_cyclonedx_vex_without_serial_number_is_named_by_its_content() {
        let doc = r#"{"bomFormat": "CycloneDX", "specVersion": "1.4",
            "vulnerabilities": [{"id": "CVE-1", "analysis": {"state": "not_affected"}}]}"#;
        let found = classify("v.json", doc.as_bytes()).expect("classified");
        assert_eq!(found.id, content_id(doc.as_bytes()));
        assert!(found.id.starts_with("sha256:") && found.id.len() == 71);
    }

    #[test]
    fn a_csaf_document_without_tracking_id_is_refused_naming_the_field() {
        let doc = r#"{"document": {"csaf_version": "2.0", "tracking": {}},
            "vulnerabilities": []}"#;
        let p = problem("c.json", doc);
        assert!(
            matches!(
                p,
                Problem::MissingId {
                    field: "document.tracking.id",
                    ..
                }
            ),
            "{p}"
        );
    }

    #[test]
    fn a_cyclonedx_sbom_without_any_name_is_refused() {
        let doc = r#"{"bomFormat": "CycloneDX", "specVersion": "1.5", "components": []}"#;
        let p = problem("s.json", doc);
        assert!(
            matches!(
                p,
                Problem::MissingId {
                    field: "serialNumber",
                    ..
                }
            ),
            "{p}"
        );
    }

    #[test]
    fn a_sha256_hash_on_the_root_component_names_the_sbom() {
        let hex = "AB".repeat(32);
        let doc = format!(
            r#"{{"bomFormat": "CycloneDX", "specVersion": "1.5", "serialNumber": "urn:uuid:1",
            "metadata": {{"component": {{"name": "app", "version": "2",
            "hashes": [{{"alg": "SHA-256", "content": "{hex}"}}]}}}}}}"#
        );
        let c = classify("s.json", doc.as_bytes()).unwrap();
        let digest = format!("sha256:{}", hex.to_ascii_lowercase());
        assert_eq!(
            (c.kind, c.format, c.id.as_str()),
            (
                DocumentKind::Sbom,
                DocumentFormat::Cyclonedx,
                digest.as_str()
            )
        );
        assert_eq!(c.subject.unwrap().name, "app:2");
    }

    #[test]
    fn json_syntax_errors_carry_line_and_column() {
        let p = problem("bad.json", "{\n  \"id\": 1,,\n}");
        let Problem::Json(source) = p else {
            panic!("expected a JSON error, got {p}")
        };
        assert_eq!((source.line(), source.column()), (2, 11));
    }
}
