//! Reading a document into a JSON tree and walking it with paths.
//!
//! Every format is read into a tree first (YAML too) and walked by hand rather than
//! through derived structs: the walker knows where it stands, so each error names the
//! exact field (`affected[0].ranges[1].type`), and lenient spots (an OpenVEX
//! vulnerability that is a bare string) stay easy to express.
//!
//! The tree borrows its strings from the document bytes and keeps objects as short lists,
//! and a node's path is only spelled out when an error needs it: ingest reads hundreds
//! of thousands of documents, and building `serde_json::Value`s with a formatted path at
//! every step was most of its parse time.

use std::borrow::Cow;
use std::fmt;
use std::rc::Rc;

use serde::de::{Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Number, Value};

use super::error::Problem;
use crate::model::Timestamp;

/// A JSON value whose strings borrow from the input where they can.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Json<'a> {
    Null,
    Bool(bool),
    Number(Number),
    String(Cow<'a, str>),
    Array(Vec<Json<'a>>),
    /// Fields in document order; a repeated key reads as its last occurrence.
    Object(Vec<(Cow<'a, str>, Json<'a>)>),
}

impl<'a> Json<'a> {
    pub(crate) fn as_str(&self) -> Option<&str> {
        match self {
            Json::String(s) => Some(s),
            _ => None,
        }
    }

    pub(crate) fn is_string(&self) -> bool {
        matches!(self, Json::String(_))
    }

    pub(crate) fn as_number(&self) -> Option<&Number> {
        match self {
            Json::Number(n) => Some(n),
            _ => None,
        }
    }

    fn field(&self, key: &str) -> Option<(&str, &Json<'a>)> {
        match self {
            Json::Object(fields) => fields
                .iter()
                .rev()
                .find(|(k, _)| k == key)
                .map(|(k, v)| (k.as_ref(), v)),
            _ => None,
        }
    }

    /// The same value as a `serde_json::Value`, for blocks the model keeps raw.
    pub(crate) fn to_value(&self) -> Value {
        match self {
            Json::Null => Value::Null,
            Json::Bool(b) => Value::Bool(*b),
            Json::Number(n) => Value::Number(n.clone()),
            Json::String(s) => Value::String(s.to_string()),
            Json::Array(items) => Value::Array(items.iter().map(Json::to_value).collect()),
            Json::Object(fields) => {
                let map: Map<String, Value> = fields
                    .iter()
                    .map(|(k, v)| (k.to_string(), v.to_value()))
                    .collect();
                Value::Object(map)
            }
        }
    }
}

impl<'de> Deserialize<'de> for Json<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(JsonVisitor)
    }
}

struct JsonVisitor;

impl<'de> Visitor<'de> for JsonVisitor {
    type Value = Json<'de>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_unit<E>(self) -> Result<Json<'de>, E> {
        Ok(Json::Null)
    }

    fn visit_none<E>(self) -> Result<Json<'de>, E> {
        Ok(Json::Null)
    }

    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Json<'de>, D::Error> {
        Json::deserialize(d)
    }

    fn visit_bool<E>(self, b: bool) -> Result<Json<'de>, E> {
        Ok(Json::Bool(b))
    }

    fn visit_i64<E>(self, n: i64) -> Result<Json<'de>, E> {
        Ok(Json::Number(n.into()))
    }

    fn visit_u64<E>(self, n: u64) -> Result<Json<'de>, E> {
        Ok(Json::Number(n.into()))
    }

    fn visit_f64<E>(self, n: f64) -> Result<Json<'de>, E> {
        Ok(Number::from_f64(n).map_or(Json::Null, Json::Number))
    }

    fn visit_borrowed_str<E>(self, s: &'de str) -> Result<Json<'de>, E> {
        Ok(Json::String(Cow::Borrowed(s)))
    }

    fn visit_str<E>(self, s: &str) -> Result<Json<'de>, E> {
        Ok(Json::String(Cow::Owned(s.to_owned())))
    }

    fn visit_string<E>(self, s: String) -> Result<Json<'de>, E> {
        Ok(Json::String(Cow::Owned(s)))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Json<'de>, A::Error> {
        let mut items = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(64));
        while let Some(item) = seq.next_element()? {
            items.push(item);
        }
        Ok(Json::Array(items))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Json<'de>, A::Error> {
        let mut fields = Vec::with_capacity(map.size_hint().unwrap_or(0).min(64));
        while let Some(key) = map.next_key::<Key<'de>>()? {
            fields.push((key.0, map.next_value()?));
        }
        Ok(Json::Object(fields))
    }
}

/// An object key, borrowed when the parser can.
struct Key<'a>(Cow<'a, str>);

impl<'de> Deserialize<'de> for Key<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_str(KeyVisitor)
    }
}

struct KeyVisitor;

impl<'de> Visitor<'de> for KeyVisitor {
    type Value = Key<'de>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an object key")
    }

    fn visit_borrowed_str<E>(self, s: &'de str) -> Result<Key<'de>, E> {
        Ok(Key(Cow::Borrowed(s)))
    }

    fn visit_str<E>(self, s: &str) -> Result<Key<'de>, E> {
        Ok(Key(Cow::Owned(s.to_owned())))
    }

    fn visit_string<E>(self, s: String) -> Result<Key<'de>, E> {
        Ok(Key(Cow::Owned(s)))
    }

    // YAML allows non-string keys; OSV has none, but read them as their text.
    fn visit_i64<E>(self, n: i64) -> Result<Key<'de>, E> {
        Ok(Key(Cow::Owned(n.to_string())))
    }

    fn visit_u64<E>(self, n: u64) -> Result<Key<'de>, E> {
        Ok(Key(Cow::Owned(n.to_string())))
    }

    fn visit_bool<E>(self, b: bool) -> Result<Key<'de>, E> {
        Ok(Key(Cow::Owned(b.to_string())))
    }
}

/// Parses the bytes as YAML when the name says so (`*.yaml`, `*.yml`), else as JSON. A
/// leading UTF-8 byte order mark, which some Windows tools write, is skipped.
///
/// YAML scalars are typed by their look: an unquoted `2.10` becomes a number. OSV as
/// published quotes such strings; an unquoted one is refused later with a type error
/// rather than read as `2.1`.
pub(crate) fn load<'a>(name_hint: &str, bytes: &'a [u8]) -> Result<Json<'a>, Problem> {
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
fn type_name(value: &Json) -> &'static str {
    match value {
        Json::Null => "null",
        Json::Bool(_) => "a boolean",
        Json::Number(_) => "a number",
        Json::String(_) => "a string",
        Json::Array(_) => "an array",
        Json::Object(_) => "an object",
    }
}

/// Where a node sits, spelled out only when a message needs it.
#[derive(Clone, Debug, Default)]
struct Path<'v>(Option<Rc<Step<'v>>>);

#[derive(Debug)]
struct Step<'v> {
    parent: Path<'v>,
    segment: Segment<'v>,
}

#[derive(Debug)]
enum Segment<'v> {
    Key(&'v str),
    Index(usize),
}

impl<'v> Path<'v> {
    fn child(&self, segment: Segment<'v>) -> Self {
        Path(Some(Rc::new(Step {
            parent: self.clone(),
            segment,
        })))
    }

    /// `a.b[2].c`, or the empty string at the root.
    fn render(&self) -> String {
        let mut segments = Vec::new();
        let mut at = &self.0;
        while let Some(step) = at {
            segments.push(&step.segment);
            at = &step.parent.0;
        }
        let mut out = String::new();
        for segment in segments.into_iter().rev() {
            match segment {
                Segment::Key(k) if out.is_empty() => out.push_str(k),
                Segment::Key(k) => {
                    out.push('.');
                    out.push_str(k);
                }
                Segment::Index(i) => out.push_str(&format!("[{i}]")),
            }
        }
        out
    }
}

/// Any value in the tree, with the path that leads to it.
#[derive(Clone, Debug)]
pub(crate) struct Node<'v> {
    value: &'v Json<'v>,
    path: Path<'v>,
}

impl<'v> Node<'v> {
    pub(crate) fn root(value: &'v Json<'v>) -> Self {
        Self {
            value,
            path: Path::default(),
        }
    }

    pub(crate) fn value(&self) -> &'v Json<'v> {
        self.value
    }

    /// The path, `$` for the root.
    pub(crate) fn path(&self) -> String {
        shown(self.path.render())
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
            Json::Object(_) => Ok(Obj {
                value: self.value,
                path: self.path.clone(),
            }),
            _ => Err(self.wrong_type("an object")),
        }
    }

    pub(crate) fn str(&self) -> Result<&'v str, Problem> {
        match self.value {
            Json::String(s) => Ok(s),
            _ => Err(self.wrong_type("a string")),
        }
    }

    /// The elements of an array, each with its indexed path.
    pub(crate) fn items(&self) -> Result<Vec<Node<'v>>, Problem> {
        let Json::Array(array) = self.value else {
            return Err(self.wrong_type("an array"));
        };
        let items = array.iter().enumerate();
        Ok(items
            .map(|(i, value)| Node {
                value,
                path: self.path.child(Segment::Index(i)),
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

fn shown(path: String) -> String {
    if path.is_empty() {
        "$".to_owned()
    } else {
        path
    }
}

/// A JSON object in the tree, with its path. Absent fields and `null` read the same.
#[derive(Clone, Debug)]
pub(crate) struct Obj<'v> {
    value: &'v Json<'v>,
    path: Path<'v>,
}

impl<'v> Obj<'v> {
    pub(crate) fn path(&self) -> String {
        shown(self.path.render())
    }

    /// The path of a field of this object.
    pub(crate) fn child_path(&self, key: &str) -> String {
        let path = self.path.render();
        if path.is_empty() {
            key.to_owned()
        } else {
            format!("{path}.{key}")
        }
    }

    pub(crate) fn has(&self, key: &str) -> bool {
        self.get(key).is_some()
    }

    pub(crate) fn get(&self, key: &str) -> Option<Node<'v>> {
        match self.value.field(key) {
            None | Some((_, Json::Null)) => None,
            Some((key, value)) => Some(Node {
                value,
                path: self.path.child(Segment::Key(key)),
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
            Json::String(s) => Ok(Some(s.to_string())),
            Json::Number(n) => Ok(Some(n.to_string())),
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
        self.get(key).map(|node| node.value.to_value())
    }

    /// The fields of the object in key order (a repeated key once, as its last value).
    pub(crate) fn entries(&self) -> impl Iterator<Item = (&'v str, Node<'v>)> + '_ {
        let Json::Object(fields) = self.value else {
            unreachable!("an Obj always wraps an object");
        };
        let mut latest: Vec<(&'v str, &'v Json<'v>)> = Vec::with_capacity(fields.len());
        for (k, v) in fields.iter() {
            match latest.iter_mut().find(|(seen, _)| *seen == k.as_ref()) {
                Some(slot) => slot.1 = v,
                None => latest.push((k.as_ref(), v)),
            }
        }
        latest.sort_by(|a, b| a.0.cmp(b.0));
        latest.into_iter().map(|(k, value)| {
            (
                k,
                Node {
                    value,
                    path: self.path.child(Segment::Key(k)),
                },
            )
        })
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    fn json(text: &str) -> Json<'_> {
        serde_json::from_str(text).unwrap()
    }

    #[test]
    fn errors_name_the_full_path() {
        let tree = json(r#"{"affected": [{"ranges": [{"type": 5}]}]}"#);
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
    fn strings_borrow_from_the_input_and_the_last_duplicate_key_wins() {
        let text = r#"{"a": "x", "b": [1, 2.5, true, null], "a": "y"}"#;
        let tree = json(text);
        assert!(matches!(
            tree.field("a"),
            Some((_, Json::String(Cow::Borrowed("y"))))
        ));
        let value = tree.to_value();
        assert_eq!(value, serde_json::from_str::<Value>(text).unwrap());
        let root = Node::root(&tree).obj().unwrap();
        let keys: Vec<&str> = root.entries().map(|(k, _)| k).collect();
        assert_eq!(keys, ["a", "b"]);
    }

    #[test]
    fn null_reads_as_absent() {
        let tree = json(r#"{"withdrawn": null}"#);
        let root = Node::root(&tree).obj().unwrap();
        assert_eq!(root.opt_time("withdrawn").unwrap(), None);
        assert!(root.list("withdrawn").unwrap().is_empty());
    }

    #[test]
    fn the_root_path_is_shown_as_dollar() {
        let tree = json("[1]");
        let err = Node::root(&tree).obj().unwrap_err();
        assert_eq!(err.to_string(), "`$`: expected an object, got an array");
    }

    #[test]
    fn a_byte_order_mark_is_skipped() {
        let tree = load("a.json", b"\xEF\xBB\xBF{\"id\": 1}").unwrap();
        assert_eq!(
            tree.field("id").map(|(_, v)| v.to_value()),
            Some(Value::from(1))
        );
    }

    #[test]
    fn yaml_is_chosen_by_the_file_name() {
        let yaml = b"id: X-1\nmodified: '2020-01-01T00:00:00Z'\n";
        let tree = load("a.YML", yaml).unwrap();
        assert_eq!(tree.field("id").and_then(|(_, v)| v.as_str()), Some("X-1"));
        assert!(matches!(load("a.json", yaml), Err(Problem::Json(_))));
    }
}
