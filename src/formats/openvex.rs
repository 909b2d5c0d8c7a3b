//! OpenVEX documents: the 0.2.0 shape, and the older vexctl shape still found in the wild.
//!
//! The pre-0.2 shape writes the vulnerability as a bare string and may list products as
//! bare strings with statement-level `subcomponents`; both are read into the same model.
//! A status outside the four OpenVEX statuses is refused: guessing it would change which
//! findings get suppressed.

use super::error::Problem;
use super::tree::{Node, Obj};
use crate::model::{Checksum, Timestamp, VexDocument, VexProduct, VexStatement, Vulnerability};

pub(super) fn parse(root: &Obj) -> Result<VexDocument, Problem> {
    let timestamp = root.opt_time("timestamp")?;
    let statements = root.field("statements")?.items()?;
    let statements = statements
        .iter()
        .map(|node| statement(&node.obj()?, timestamp));
    Ok(VexDocument {
        id: root.opt_string("@id")?,
        version: root.opt_scalar("version")?,
        author: root.opt_string("author")?,
        timestamp,
        statements: statements.collect::<Result<_, _>>()?,
        recommended: Vec::new(),
    })
}

fn statement(obj: &Obj, document_time: Option<Timestamp>) -> Result<VexStatement, Problem> {
    let status_text = obj.str("status")?;
    let status = status_text
        .parse()
        .map_err(|value| Problem::UnknownStatus {
            path: obj.child_path("status"),
            value,
            expected: "affected, not_affected, fixed, under_investigation",
        })?;
    Ok(VexStatement {
        vulnerability: vulnerability(&obj.field("vulnerability")?)?,
        products: products(obj)?,
        status,
        original_status: status_text.to_owned(),
        justification: obj.opt_string("justification")?,
        impact_statement: obj.opt_string("impact_statement")?,
        action_statement: obj.opt_string("action_statement")?,
        responses: Vec::new(),
        detail: None,
        ratings: Vec::new(),
        timestamp: obj.opt_time("timestamp")?.or(document_time),
    })
}

/// A vulnerability object (`name`, `@id`, `aliases`), or the bare name of the old shape.
fn vulnerability(node: &Node) -> Result<Vulnerability, Problem> {
    if let Some(name) = node.value().as_str() {
        return Ok(Vulnerability {
            name: name.to_owned(),
            uri: None,
            source: None,
            aliases: vec![],
        });
    }
    let obj = node.obj()?;
    let uri = obj.opt_string("@id")?;
    let name = match obj.opt_string("name")? {
        Some(name) => name,
        None => uri.clone().ok_or_else(|| Problem::Missing {
            path: obj.child_path("name"),
        })?,
    };
    Ok(Vulnerability {
        name,
        uri,
        source: None,
        aliases: obj.strings("aliases")?,
    })
}

/// The statement's products; old-shape statement-level subcomponents go under each one.
fn products(statement: &Obj) -> Result<Vec<VexProduct>, Problem> {
    let mut products = read_all(&statement.list("products")?)?;
    let shared = read_all(&statement.list("subcomponents")?)?;
    for product in &mut products {
        product.subcomponents.extend(shared.iter().cloned());
    }
    Ok(products)
}

fn read_all(nodes: &[Node]) -> Result<Vec<VexProduct>, Problem> {
    nodes.iter().map(product).collect()
}

/// A product or subcomponent: a bare identifier, or an object with `@id` and/or
/// `identifiers`.
fn product(node: &Node) -> Result<VexProduct, Problem> {
    if let Some(id) = node.value().as_str() {
        return Ok(VexProduct::from_id(id));
    }
    let obj = node.obj()?;
    let identifiers = obj.opt_obj("identifiers")?;
    let identifier = |key| {
        identifiers
            .as_ref()
            .map_or(Ok(None), |ids| ids.opt_string(key))
    };
    let purl = identifier("purl")?;
    let cpe = identifier("cpe23")?.or(identifier("cpe22")?);
    let id = obj
        .opt_string("@id")?
        .or_else(|| purl.clone())
        .or_else(|| cpe.clone());
    let id = id.ok_or_else(|| Problem::Missing {
        path: obj.child_path("@id"),
    })?;
    let mut product = VexProduct::from_id(&id);
    product.purl = purl.or(product.purl);
    product.cpe = cpe;
    product.hashes = hashes(&obj)?;
    product.subcomponents = read_all(&obj.list("subcomponents")?)?;
    Ok(product)
}

/// OpenVEX writes hashes as an object from algorithm to value.
fn hashes(product: &Obj) -> Result<Vec<Checksum>, Problem> {
    let Some(hashes) = product.opt_obj("hashes")? else {
        return Ok(Vec::new());
    };
    let entries = hashes.entries();
    entries
        .map(|(alg, value)| Ok(Checksum::new(alg, value.str()?)))
        .collect()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;
    use crate::formats::tree;
    use crate::model::VexStatus;

    fn parse_json(text: &str) -> Result<VexDocument, Problem> {
        let tree = tree::load("v.json", text.as_bytes())?;
        parse(&Node::root(&tree).obj()?)
    }

    #[test]
    fn an_unknown_status_names_the_statement_and_the_value() {
        let doc = r#"{"@id": "x", "statements": [
            {"vulnerability": {"name": "CVE-1"}, "status": "fixed"},
            {"vulnerability": {"name": "CVE-2"}, "status": "patched"}]}"#;
        let err = parse_json(doc).unwrap_err();
        let Problem::UnknownStatus { path, value, .. } = &err else {
            panic!("{err}")
        };
        assert_eq!(
            (path.as_str(), value.as_str()),
            ("statements[1].status", "patched")
        );
    }

    #[test]
    fn statements_fall_back_to_the_document_time() {
        let doc = r#"{"@id": "x", "timestamp": "2023-01-01T00:00:00-06:00", "statements": [
            {"vulnerability": "CVE-1", "status": "affected"},
            {"vulnerability": "CVE-2", "status": "fixed", "timestamp": "2023-02-01T00:00:00Z"}]}"#;
        let vex = parse_json(doc).unwrap();
        let times: Vec<String> = vex
            .statements
            .iter()
            .map(|s| s.timestamp.unwrap().to_string())
            .collect();
        assert_eq!(times, ["2023-01-01T06:00:00Z", "2023-02-01T00:00:00Z"]);
        assert_eq!(vex.statements[0].status, VexStatus::Affected);
    }

    #[test]
    fn old_shape_products_and_subcomponents_are_read() {
        let doc = r#"{"@id": "x", "statements": [{"vulnerability": "CVE-1", "status": "fixed",
            "products": ["pkg:oci/app@sha256%3Aab"], "subcomponents": ["pkg:apk/wolfi/git@2"]}]}"#;
        let product = &parse_json(doc).unwrap().statements[0].products[0];
        assert_eq!(product.purl.as_deref(), Some("pkg:oci/app@sha256%3Aab"));
        assert_eq!(
            product.subcomponents[0].purl.as_deref(),
            Some("pkg:apk/wolfi/git@2")
        );
    }

    #[test]
    fn identifiers_and_hashes_are_read() {
        let doc = r#"{"@id": "x", "statements": [{"vulnerability": {"name": "CVE-1"},
            "status": "not_affected", "justification": "component_not_present",
            "products": [{"identifiers": {"purl": "pkg:npm/a@1", "cpe23": "cpe:2.3:a"},
                          "hashes": {"sha-256": "AB"}}]}]}"#;
        let product = &parse_json(doc).unwrap().statements[0].products[0];
        assert_eq!(product.id, "pkg:npm/a@1");
        assert_eq!(product.cpe.as_deref(), Some("cpe:2.3:a"));
        assert_eq!(product.hashes, [Checksum::new("sha256", "ab")]);
    }

    #[test]
    fn a_product_without_any_identifier_is_refused() {
        let doc = r#"{"statements": [{"vulnerability": "CVE-1", "status": "fixed",
            "products": [{"hashes": {}}]}]}"#;
        let err = parse_json(doc).unwrap_err();
        assert_eq!(
            err.to_string(),
            "`statements[0].products[0].@id` is missing"
        );
    }
}
