//! CSAF 2.0 (`csaf_vex` and other profiles that carry `product_status`).
//!
//! CSAF names products by ids defined in a product tree, so the tree is read first: its
//! branches (recursively), `full_product_names` and `relationships`, each id resolved to a
//! product with its purl or CPE. A relationship (`X default_component_of Y`) becomes
//! product Y with X as its subcomponent, as OpenVEX would say it.
//!
//! Flags, threats and remediations are given per product, so each product of a status list
//! gets a statement of its own carrying exactly what was said about it.

use std::collections::HashMap;

use super::error::Problem;
use super::tree::{Node, Obj};
use crate::model::{
    Recommendation, VexDocument, VexProduct, VexStatement, VexStatus, Vulnerability,
};

pub(super) fn parse(root: &Obj) -> Result<VexDocument, Problem> {
    let document = root.obj("document")?;
    let tracking = document.opt_obj("tracking")?;
    let tracking_text = |key| tracking.as_ref().map_or(Ok(None), |t| t.opt_string(key));
    let publisher = document.opt_obj("publisher")?;
    let mut vex = VexDocument {
        id: tracking_text("id")?,
        version: tracking_text("version")?,
        author: publisher.map_or(Ok(None), |p| p.opt_string("name"))?,
        timestamp: tracking.map_or(Ok(None), |t| t.opt_time("current_release_date"))?,
        statements: Vec::new(),
        recommended: Vec::new(),
    };
    let tree = ProductTree::read(root.opt_obj("product_tree")?.as_ref())?;
    for vulnerability in root.objects("vulnerabilities")? {
        read_vulnerability(&vulnerability, &tree, &mut vex)?;
    }
    Ok(vex)
}

/// The product ids a document defines, and its product groups.
#[derive(Default)]
struct ProductTree {
    products: HashMap<String, VexProduct>,
    groups: HashMap<String, Vec<String>>,
}

impl ProductTree {
    fn read(tree: Option<&Obj>) -> Result<Self, Problem> {
        let mut this = Self::default();
        let Some(tree) = tree else { return Ok(this) };
        this.walk_branches(tree)?;
        for name in tree.objects("full_product_names")? {
            this.define(&name, full_product_name(&name)?)?;
        }
        for relationship in tree.objects("relationships")? {
            this.relate(&relationship)?;
        }
        for group in tree.objects("product_groups")? {
            let id = group.str("group_id")?.to_owned();
            this.groups.insert(id, group.strings("product_ids")?);
        }
        Ok(this)
    }

    fn walk_branches(&mut self, parent: &Obj) -> Result<(), Problem> {
        for branch in parent.objects("branches")? {
            if let Some(name) = branch.opt_obj("product")? {
                self.define(&name, full_product_name(&name)?)?;
            }
            self.walk_branches(&branch)?;
        }
        Ok(())
    }

    /// Adds a product; an id defined twice would make every reference to it ambiguous.
    fn define(&mut self, at: &Obj, product: VexProduct) -> Result<(), Problem> {
        if self.products.contains_key(&product.id) {
            let reason = format!("product id {:?} is defined twice", product.id);
            return Err(Problem::Invalid {
                path: at.child_path("product_id"),
                reason,
            });
        }
        self.products.insert(product.id.clone(), product);
        Ok(())
    }

    /// `product_reference` is part of `relates_to_product_reference`: the platform is the
    /// product, the component its subcomponent.
    fn relate(&mut self, relationship: &Obj) -> Result<(), Problem> {
        let component = self.reference(relationship, "product_reference")?.clone();
        let platform = self.reference(relationship, "relates_to_product_reference")?;
        let name = relationship.obj("full_product_name")?;
        let mut product = full_product_name(&name)?;
        product.purl = product.purl.or_else(|| platform.purl.clone());
        product.cpe = product.cpe.or_else(|| platform.cpe.clone());
        product.subcomponents = vec![component];
        self.define(&name, product)
    }

    fn reference(&self, obj: &Obj, key: &str) -> Result<&VexProduct, Problem> {
        self.lookup(&obj.field(key)?)
    }

    fn lookup(&self, id: &Node) -> Result<&VexProduct, Problem> {
        let text = id.str()?;
        let unknown = || Problem::UnknownProduct {
            path: id.path(),
            id: text.to_owned(),
        };
        self.products.get(text).ok_or_else(unknown)
    }

    /// The products a flag, threat or remediation names: `product_ids` plus the members of
    /// its `group_ids`.
    fn named_by(&self, obj: &Obj) -> Result<Vec<String>, Problem> {
        let mut ids = obj.strings("product_ids")?;
        for group in obj.list("group_ids")? {
            let members = self
                .groups
                .get(group.str()?)
                .ok_or_else(|| Problem::Invalid {
                    path: group.path(),
                    reason: format!("product group {:?} is not defined", group.value()),
                })?;
            ids.extend(members.iter().cloned());
        }
        Ok(ids)
    }
}

fn full_product_name(obj: &Obj) -> Result<VexProduct, Problem> {
    let mut product = VexProduct::from_id(obj.str("product_id")?);
    product.name = obj.opt_string("name")?;
    if let Some(helper) = obj.opt_obj("product_identification_helper")? {
        product.purl = helper.opt_string("purl")?;
        product.cpe = helper.opt_string("cpe")?;
    }
    Ok(product)
}

/// The product status categories of CSAF 2.0, in the order statements are written, with
/// the VEX status each one means; `recommended` is advice and has none.
const CATEGORIES: [(&str, Option<VexStatus>); 8] = [
    ("first_affected", Some(VexStatus::Affected)),
    ("known_affected", Some(VexStatus::Affected)),
    ("last_affected", Some(VexStatus::Affected)),
    ("known_not_affected", Some(VexStatus::NotAffected)),
    ("first_fixed", Some(VexStatus::Fixed)),
    ("fixed", Some(VexStatus::Fixed)),
    ("under_investigation", Some(VexStatus::UnderInvestigation)),
    ("recommended", None),
];

const CATEGORY_NAMES: &str = "first_affected, known_affected, last_affected, \
    known_not_affected, first_fixed, fixed, under_investigation, recommended";

fn read_vulnerability(
    vuln: &Obj,
    tree: &ProductTree,
    vex: &mut VexDocument,
) -> Result<(), Problem> {
    let Some(status) = vuln.opt_obj("product_status")? else {
        return Ok(());
    };
    check_categories(&status)?;
    let vulnerability = vulnerability(vuln)?;
    let notes = Notes::read(vuln, tree)?;
    for (category, vex_status) in CATEGORIES {
        for id in status.list(category)? {
            let product = tree.lookup(&id)?.clone();
            let Some(vex_status) = vex_status else {
                let vulnerability = vulnerability.clone();
                vex.recommended.push(Recommendation {
                    vulnerability,
                    product,
                });
                continue;
            };
            let said = notes.about(&product.id);
            let statement = said.statement(&vulnerability, product, vex_status, category);
            vex.statements.push(VexStatement {
                timestamp: vex.timestamp,
                ..statement
            });
        }
    }
    Ok(())
}

fn check_categories(status: &Obj) -> Result<(), Problem> {
    for (key, node) in status.entries() {
        if !CATEGORIES.iter().any(|(name, _)| *name == key) {
            let (path, value) = (node.path(), key.to_owned());
            return Err(Problem::UnknownStatus {
                path,
                value,
                expected: CATEGORY_NAMES,
            });
        }
    }
    Ok(())
}

/// `cve`, else the first of `ids`; every other id is an alias.
fn vulnerability(vuln: &Obj) -> Result<Vulnerability, Problem> {
    let ids = vuln.objects("ids")?;
    let names = ids.iter().map(|id| Ok(id.str("text")?.to_owned()));
    let mut names = names.collect::<Result<Vec<_>, Problem>>()?;
    let name = match vuln.opt_string("cve")? {
        Some(cve) => cve,
        None if !names.is_empty() => names.remove(0),
        None => {
            return Err(Problem::Missing {
                path: vuln.child_path("cve"),
            })
        }
    };
    names.retain(|alias| *alias != name);
    Ok(Vulnerability {
        name,
        uri: None,
        source: None,
        aliases: names,
    })
}

/// What flags, threats and remediations say, per product id.
#[derive(Default)]
struct Notes {
    by_product: HashMap<String, Said>,
}

#[derive(Clone, Default)]
struct Said {
    justification: Option<String>,
    impacts: Vec<String>,
    actions: Vec<String>,
    responses: Vec<String>,
}

impl Notes {
    fn read(vuln: &Obj, tree: &ProductTree) -> Result<Self, Problem> {
        let mut notes = Self::default();
        for flag in vuln.objects("flags")? {
            let label = flag.str("label")?;
            for id in tree.named_by(&flag)? {
                notes
                    .entry(id)
                    .justification
                    .get_or_insert_with(|| label.to_owned());
            }
        }
        for threat in vuln.objects("threats")? {
            notes.read_threat(&threat, tree)?;
        }
        for remediation in vuln.objects("remediations")? {
            notes.read_remediation(&remediation, tree)?;
        }
        Ok(notes)
    }

    fn entry(&mut self, id: String) -> &mut Said {
        self.by_product.entry(id).or_default()
    }

    /// Only `impact` threats say why a product is (not) affected.
    fn read_threat(&mut self, threat: &Obj, tree: &ProductTree) -> Result<(), Problem> {
        if threat.str("category")? != "impact" {
            return Ok(());
        }
        let details = threat.str("details")?;
        for id in tree.named_by(threat)? {
            self.entry(id).impacts.push(details.to_owned());
        }
        Ok(())
    }

    fn read_remediation(&mut self, remediation: &Obj, tree: &ProductTree) -> Result<(), Problem> {
        let category = remediation.str("category")?;
        let details = remediation.str("details")?;
        for id in tree.named_by(remediation)? {
            let said = self.entry(id);
            said.responses.push(category.to_owned());
            said.actions.push(details.to_owned());
        }
        Ok(())
    }

    fn about(&self, product_id: &str) -> Said {
        self.by_product.get(product_id).cloned().unwrap_or_default()
    }
}

impl Said {
    fn statement(
        self,
        vulnerability: &Vulnerability,
        product: VexProduct,
        status: VexStatus,
        category: &str,
    ) -> VexStatement {
        let joined = |texts: Vec<String>| (!texts.is_empty()).then(|| texts.join("\n\n"));
        VexStatement {
            vulnerability: vulnerability.clone(),
            products: vec![product],
            status,
            original_status: category.to_owned(),
            justification: self.justification,
            impact_statement: joined(self.impacts),
            action_statement: joined(self.actions),
            responses: self.responses,
            detail: None,
            ratings: Vec::new(),
            // The caller sets the document's time: CSAF dates no single statement.
            timestamp: None,
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;
    use crate::formats::tree;

    fn vex(text: &str) -> Result<VexDocument, Problem> {
        let tree = tree::load("c.json", text.as_bytes())?;
        parse(&Node::root(&tree).obj()?)
    }

    fn document(product_tree: &str, vulnerabilities: &str) -> String {
        format!(
            r#"{{"document": {{"csaf_version": "2.0", "tracking": {{"id": "T-1",
            "current_release_date": "2024-01-01T00:00:00Z"}}}},
            "product_tree": {product_tree}, "vulnerabilities": {vulnerabilities}}}"#
        )
    }

    const TREE: &str = r#"{"full_product_names": [
        {"product_id": "P1", "name": "app 1",
         "product_identification_helper": {"purl": "pkg:npm/app@1"}},
        {"product_id": "P2", "name": "app 2"}],
        "product_groups": [{"group_id": "G", "product_ids": ["P1", "P2"]}]}"#;

    #[test]
    fn group_flags_and_threats_reach_each_product() {
        let vulns = r#"[{"cve": "CVE-1", "product_status": {"known_not_affected": ["P1", "P2"]},
            "flags": [{"label": "component_not_present", "group_ids": ["G"]}],
            "threats": [{"category": "impact", "details": "no", "product_ids": ["P2"]}]}]"#;
        let statements = vex(&document(TREE, vulns)).unwrap().statements;
        assert_eq!(statements.len(), 2);
        assert!(statements
            .iter()
            .all(|s| s.justification.as_deref() == Some("component_not_present")));
        assert_eq!(statements[0].impact_statement, None);
        assert_eq!(statements[1].impact_statement.as_deref(), Some("no"));
        assert_eq!(
            statements[0].products[0].purl.as_deref(),
            Some("pkg:npm/app@1")
        );
        assert_eq!(
            statements[0].timestamp.unwrap().to_string(),
            "2024-01-01T00:00:00Z"
        );
    }

    #[test]
    fn an_undefined_product_id_is_refused_with_its_path() {
        let vulns = r#"[{"cve": "CVE-1", "product_status": {"fixed": ["P1", "P9"]}}]"#;
        let err = vex(&document(TREE, vulns)).unwrap_err();
        let Problem::UnknownProduct { path, id } = &err else {
            panic!("{err}")
        };
        assert_eq!(
            (path.as_str(), id.as_str()),
            ("vulnerabilities[0].product_status.fixed[1]", "P9")
        );
    }

    #[test]
    fn an_unknown_status_category_is_refused() {
        let vulns = r#"[{"cve": "CVE-1", "product_status": {"patched": ["P1"]}}]"#;
        let err = vex(&document(TREE, vulns)).unwrap_err();
        assert!(
            matches!(err, Problem::UnknownStatus { ref value, .. } if value == "patched"),
            "{err}"
        );
    }

    #[test]
    fn a_product_id_defined_twice_is_refused() {
        let tree = r#"{"full_product_names": [{"product_id": "P1", "name": "a"}],
            "branches": [{"category": "vendor", "name": "v",
                          "product": {"product_id": "P1", "name": "b"}}]}"#;
        let err = vex(&document(tree, "[]")).unwrap_err();
        assert!(err.to_string().contains("\"P1\" is defined twice"), "{err}");
    }

    #[test]
    fn without_cve_the_first_id_names_the_vulnerability() {
        let vulns = r#"[{"ids": [{"system_name": "a", "text": "A-1"},
            {"system_name": "b", "text": "B-1"}], "product_status": {"fixed": ["P1"]}}]"#;
        let v = &vex(&document(TREE, vulns)).unwrap().statements[0].vulnerability;
        assert_eq!(
            (v.name.as_str(), v.aliases.as_slice()),
            ("A-1", ["B-1".to_owned()].as_slice())
        );
        let err = vex(&document(TREE, r#"[{"product_status": {}}]"#)).unwrap_err();
        assert_eq!(err.to_string(), "`vulnerabilities[0].cve` is missing");
    }
}
