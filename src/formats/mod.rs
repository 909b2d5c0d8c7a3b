//! From document bytes to the normalized `model`: OSV advisories, OpenVEX, CycloneDX and
//! CSAF VEX, CycloneDX and SPDX SBOMs.
//!
//! This room is pure: it never sees the store, the bundle or the clock. The caller keeps the
//! raw bytes; what comes out of here is the meaning ingest and matching work with.
//! [`classify`] tells what a document is (for `bundle create`), [`parse`] reads a document
//! whose kind and format were declared (for ingest) and refuses one whose content says
//! otherwise.

mod csaf;
mod cyclonedx;
mod detect;
mod error;
mod openvex;
mod osv;
mod spdx;
mod subject;
mod tree;

pub use detect::{classify, document_id, Classified};
pub use error::{FormatError, Problem};

use crate::model::{Advisory, DocumentFormat, DocumentKind, Sbom, VexDocument};
use tree::Obj;

/// A parsed document, one variant per kind.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(tag = "kind", content = "document", rename_all = "lowercase")]
pub enum ParsedDocument {
    Advisory(Advisory),
    Vex(VexDocument),
    Sbom(Sbom),
}

impl ParsedDocument {
    pub fn kind(&self) -> DocumentKind {
        match self {
            Self::Advisory(_) => DocumentKind::Advisory,
            Self::Vex(_) => DocumentKind::Vex,
            Self::Sbom(_) => DocumentKind::Sbom,
        }
    }
}

/// Parses a document declared as `kind`/`format`.
///
/// `name_hint` names the document in errors and picks YAML for `*.yaml`/`*.yml`. The
/// content must be what was declared: a CycloneDX VEX declared as an SBOM is refused, not
/// read as a component list that silently drops its statements.
pub fn parse(
    name_hint: &str,
    kind: DocumentKind,
    format: DocumentFormat,
    bytes: &[u8],
) -> Result<ParsedDocument, FormatError> {
    let at = |problem| FormatError::new(name_hint, problem);
    if !kind.is_input() {
        return Err(at(Problem::OutputKind { kind }));
    }
    if !kind.allows(format) {
        return Err(at(Problem::NotAllowed { kind, format }));
    }
    let tree = tree::load(name_hint, bytes).map_err(at)?;
    let root = tree::Node::root(&tree).obj().map_err(at)?;
    let (found_kind, found_format) = detect::detect(&root).map_err(at)?;
    if (found_kind, found_format) != (kind, format) {
        return Err(at(Problem::Mismatch {
            declared_kind: kind,
            declared_format: format,
            kind: found_kind,
            format: found_format,
        }));
    }
    parse_tree(kind, format, &root).map_err(at)
}

/// Reads a tree whose kind and format are known to match its content.
fn parse_tree(
    kind: DocumentKind,
    format: DocumentFormat,
    root: &Obj,
) -> Result<ParsedDocument, Problem> {
    use DocumentFormat as F;
    use DocumentKind as K;
    match (kind, format) {
        (K::Advisory, F::Osv) => osv::parse(root).map(ParsedDocument::Advisory),
        (K::Vex, F::Openvex) => openvex::parse(root).map(ParsedDocument::Vex),
        (K::Vex, F::Cyclonedx) => cyclonedx::parse_vex(root).map(ParsedDocument::Vex),
        (K::Vex, F::Csaf) => csaf::parse(root).map(ParsedDocument::Vex),
        (K::Sbom, F::Cyclonedx) => cyclonedx::parse_sbom(root).map(ParsedDocument::Sbom),
        (K::Sbom, F::Spdx) => spdx::parse(root).map(ParsedDocument::Sbom),
        _ => Err(Problem::NotAllowed { kind, format }),
    }
}
