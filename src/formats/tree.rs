//! Reading a document into a JSON tree and walking it with paths.
//!
//! Every format is read into a `serde_json::Value` first (YAML too) and walked by hand
//! rather than through derived structs: the walker knows where it stands, so each error
//! names the exact field (`affected[0].ranges[1].type`), and lenient spots (an OpenVEX
//! vulnerability that is a bare string) stay easy to express.

use serde_json::{Map, Value};

use super::error::Problem;
use crate::model::Timestamp;

/// Parses the bytes as YAML when the name says so (`*.yaml`, `*.yml`), else as JSON. A
/// leading UTF-8 byte order mark, which some Windows tools write, is skipped.
///
/// YAML scalars are typed by their look: an unquoted `2.10` becomes a number. OSV as
/// published quotes such strings; an unquoted one is refused later with a type error
/// rather than read as `2.1`.
pub(crate) fn load(name_hint: &str, bytes: &[u8]) -> Result<Value, Problem> {
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    if is_yaml_name(name_hint) {
        serde_norway::from_slice(bytes).map_err(Problem::Yaml)
    } else {
        serde_json::from_slice(bytes).map_err(Problem::Json)
    }
}

fn is_yaml_name(name: &str) -> bool {
    let lower = name.to_ascii_lowercase();
    lower.ends_with(".yaml") || lower.ends_with(".yml")
}

/// The JSON type name of a value, for error messages.
fn type_name(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// Any value in the tree, with the path that leads to it.
#[derive(Clone, Debug)]
pub(crate) struct Node<'v> {
    value: &'v Value,
    path: String,
}

impl<'v> Node<'v> {
    pub(crate) fn root(value: &'v Value) -> Self {
        Self {
            value,
            path: String::new(),
        }
    }

    pub(crate) fn value(&self) -> &'v Value {
        self.value
    }

    /// The path, `$` for the root.
    pub(crate) fn path(&self) -> String {
        shown(&self.path)
    }

    pub(crate) fn wrong_type(&self, expected: &'static str) -> Problem {
        Problem::WrongType {
            path: self.path(),
            expected,
            got: type_name(self.value),
        }
    }

    pub(crate) fn obj(&self) -> Result<Obj<'v>, Problem> {
        match self.value {
            Value::Object(map) => Ok(Obj {
                map,
                path: self.path.clone(),
            }),
            _ => Err(self.wrong_type("an object")),
        }
    }

    pub(crate) fn str(&self) -> Result<&'v str, Problem> {
        self.value
            .as_str()
            .ok_or_else(|| self.wrong_type("a string"))
    }

    /// The elements of an array, each with its indexed path.
    pub(crate) fn items(&self) -> Result<Vec<Node<'v>>, Problem> {
        let array = self
            .value
            .as_array()
            .ok_or_else(|| self.wrong_type("an array"))?;
        let items = array.iter().enumerate();
        Ok(items
            .map(|(i, value)| Node {
                value,
                path: format!("{}[{i}]", self.path),
            })
            .collect())
    }

    pub(crate) fn time(&self) -> Result<Timestamp, Problem> {
        let text = self.str()?;
        text.parse().map_err(|source| Problem::BadTimestamp {
            path: self.path(),
            value: text.to_owned(),
            source,
        })
    }
}

fn shown(path: &str) -> String {
    if path.is_empty() {
        "$".to_owned()
    } else {
        path.to_owned()
    }
}

/// A JSON object in the tree, with its path. Absent fields and `null` read the same.
#[derive(Clone, Debug)]
pub(crate) struct Obj<'v> {
    map: &'v Map<String, Value>,
    path: String,
}

impl<'v> Obj<'v> {
    pub(crate) fn path(&self) -> String {
        shown(&self.path)
    }

    /// The path of a field of this object.
    pub(crate) fn child_path(&self, key: &str) -> String {
        if self.path.is_empty() {
            key.to_owned()
        } else {
            format!("{}.{key}", self.path)
        }
    }

    pub(crate) fn has(&self, key: &str) -> bool {
        self.get(key).is_some()
    }

    pub(crate) fn get(&self, key: &str) -> Option<Node<'v>> {
        match self.map.get(key) {
            None | Some(Value::Null) => None,
            Some(value) => Some(Node {
                value,
                path: self.child_path(key),
            }),
        }
    }

    pub(crate) fn field(&self, key: &str) -> Result<Node<'v>, Problem> {
        self.get(key).ok_or_else(|| Problem::Missing {
            path: self.child_path(key),
        })
    }

    pub(crate) fn str(&self, key: &str) -> Result<&'v str, Problem> {
        self.field(key)?.str()
    }

    pub(crate) fn opt_str(&self, key: &str) -> Result<Option<&'v str>, Problem> {
        self.get(key).map(|node| node.str()).transpose()
    }

    pub(crate) fn opt_string(&self, key: &str) -> Result<Option<String>, Problem> {
        Ok(self.opt_str(key)?.map(str::to_owned))
    }

    /// A string or a number, as text (document versions are written both ways).
    pub(crate) fn opt_scalar(&self, key: &str) -> Result<Option<String>, Problem> {
        let Some(node) = self.get(key) else {
            return Ok(None);
        };
        match node.value {
            Value::String(s) => Ok(Some(s.clone())),
            Value::Number(n) => Ok(Some(n.to_string())),
            _ => Err(node.wrong_type("a string or a number")),
        }
    }

    pub(crate) fn obj(&self, key: &str) -> Result<Obj<'v>, Problem> {
        self.field(key)?.obj()
    }

    pub(crate) fn opt_obj(&self, key: &str) -> Result<Option<Obj<'v>>, Problem> {
        self.get(key).map(|node| node.obj()).transpose()
    }

    /// The elements of an array field; an absent field is an empty array.
    pub(crate) fn list(&self, key: &str) -> Result<Vec<Node<'v>>, Problem> {
        self.get(key).map_or(Ok(Vec::new()), |node| node.items())
    }

    /// The elements of an array field that must hold objects.
    pub(crate) fn objects(&self, key: &str) -> Result<Vec<Obj<'v>>, Problem> {
        self.list(key)?.iter().map(Node::obj).collect()
    }

    /// The elements of an array field that must hold strings.
    pub(crate) fn strings(&self, key: &str) -> Result<Vec<String>, Problem> {
        let items = self.list(key)?;
        items
            .iter()
            .map(|node| node.str().map(str::to_owned))
            .collect()
    }

    pub(crate) fn time(&self, key: &str) -> Result<Timestamp, Problem> {
        self.field(key)?.time()
    }

    pub(crate) fn opt_time(&self, key: &str) -> Result<Option<Timestamp>, Problem> {
        self.get(key).map(|node| node.time()).transpose()
    }

    /// A field kept as raw JSON, for blocks whose shape belongs to someone else.
    pub(crate) fn raw(&self, key: &str) -> Option<Value> {
        self.get(key).map(|node| node.value.clone())
    }

    /// The fields of the object, each as a node.
    pub(crate) fn entries(&self) -> impl Iterator<Item = (&'v str, Node<'v>)> + '_ {
        self.map.iter().map(|(key, value)| {
            (
                key.as_str(),
                Node {
                    value,
                    path: self.child_path(key),
                },
            )
        })
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;
    use serde_json::json;

    #[test]
    fn errors_name_the_full_path() {
        let tree = json!({"affected": [{"ranges": [{"type": 5}]}]});
        let root = Node::root(&tree).obj().unwrap();
        let range = &root.objects("affected").unwrap()[0]
            .objects("ranges")
            .unwrap()[0];
        let err = range.str("type").unwrap_err();
        assert_eq!(
            err.to_string(),
            "`affected[0].ranges[0].type`: expected a string, got a number"
        );
        let err = range.str("events").unwrap_err();
        assert_eq!(err.to_string(), "`affected[0].ranges[0].events` is missing");
    }

    #[test]
    fn null_reads_as_absent() {
        let tree = json!({"withdrawn": null});
        let root = Node::root(&tree).obj().unwrap();
        assert_eq!(root.opt_time("withdrawn").unwrap(), None);
        assert!(root.list("withdrawn").unwrap().is_empty());
    }

    #[test]
    fn the_root_path_is_shown_as_dollar() {
        let tree = json!([1]);
        let err = Node::root(&tree).obj().unwrap_err();
        assert_eq!(err.to_string(), "`$`: expected an object, got an array");
    }

    #[test]
    fn a_byte_order_mark_is_skipped() {
        assert_eq!(load("a.json", b"\xEF\xBB\xBF{\"id\": 1}").unwrap()["id"], 1);
    }

    #[test]
    fn yaml_is_chosen_by_the_file_name() {
        let yaml = b"id: X-1\nmodified: '2020-01-01T00:00:00Z'\n";
        assert_eq!(load("a.YML", yaml).unwrap()["id"], "X-1");
        assert!(matches!(load("a.json", yaml), Err(Problem::Json(_))));
    }
}
