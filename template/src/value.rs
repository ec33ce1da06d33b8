//! The value model templates evaluate over: Go's `interface{}` as ESO sees it.
//!
//! Strings are byte strings, as in Go: ESO hands secret data to templates as `string(bytes)`, so a
//! PKCS#12 blob or any other binary value travels through pipelines unchanged. Maps are shared and
//! mutable (sprig's `set`/`unset` change a dict in place, as Go maps are references) and always
//! iterate in sorted key order, which is the order Go's `range` and `fmt` use.

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::fmt;
use std::rc::Rc;

use chrono::{DateTime, FixedOffset};

/// What a missing key yields through `index`: Go returns the map's element zero value.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MapKind {
    /// `map[string]string` (the template data ESO passes): a missing key is `""`.
    Strings,
    /// `map[string]interface{}` (dicts, parsed JSON/YAML): a missing key is nil.
    Any,
}

/// A Go map value: sorted entries and the element type that decides its zero value.
#[derive(Clone, Debug)]
pub struct MapData {
    pub entries: BTreeMap<String, Value>,
    pub kind: MapKind,
}

/// A template value.
#[derive(Clone, Default)]
pub enum Value {
    /// Go's untyped nil (an unset `interface{}`).
    #[default]
    Nil,
    Bool(bool),
    /// Every Go signed integer kind (`int`, `int64`, runes, bytes from `index` on a string).
    Int(i64),
    Float(f64),
    /// A Go string: arbitrary bytes, usually UTF-8.
    Str(Rc<[u8]>),
    List(Rc<Vec<Value>>),
    Map(Rc<RefCell<MapData>>),
    /// A `time.Time` from `now`, `toDate` and friends.
    Time(DateTime<FixedOffset>),
}

impl fmt::Debug for Value {
    /// Never prints content: values are secret material.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Value::{}(<redacted>)", self.type_name())
    }
}

impl Value {
    pub fn str(s: impl AsRef<[u8]>) -> Value {
        Value::Str(Rc::from(s.as_ref()))
    }

    pub fn list(items: Vec<Value>) -> Value {
        Value::List(Rc::new(items))
    }

    pub fn map(entries: BTreeMap<String, Value>) -> Value {
        Value::map_of_kind(entries, MapKind::Any)
    }

    pub fn map_of_kind(entries: BTreeMap<String, Value>, kind: MapKind) -> Value {
        Value::Map(Rc::new(RefCell::new(MapData { entries, kind })))
    }

    /// The Go type name, as `typeOf` and error messages print it.
    pub fn type_name(&self) -> &'static str {
        match self {
            Value::Nil => "<nil>",
            Value::Bool(_) => "bool",
            Value::Int(_) => "int",
            Value::Float(_) => "float64",
            Value::Str(_) => "string",
            Value::List(_) => "[]interface {}",
            Value::Map(m) => match m.borrow().kind {
                MapKind::Strings => "map[string]string",
                MapKind::Any => "map[string]interface {}",
            },
            Value::Time(_) => "time.Time",
        }
    }

    /// Go's `reflect.Kind` name, as `kindOf` prints it.
    pub fn kind_name(&self) -> &'static str {
        match self {
            Value::Nil => "invalid",
            Value::Bool(_) => "bool",
            Value::Int(_) => "int",
            Value::Float(_) => "float64",
            Value::Str(_) => "string",
            Value::List(_) => "slice",
            Value::Map(_) => "map",
            Value::Time(_) => "struct",
        }
    }

    /// Go template truth: zero values and empty containers are false.
    pub fn is_true(&self) -> bool {
        match self {
            Value::Nil => false,
            Value::Bool(b) => *b,
            Value::Int(i) => *i != 0,
            Value::Float(f) => *f != 0.0,
            Value::Str(s) => !s.is_empty(),
            Value::List(l) => !l.is_empty(),
            Value::Map(m) => !m.borrow().entries.is_empty(),
            Value::Time(_) => true,
        }
    }

    pub fn as_bytes(&self) -> Option<&[u8]> {
        match self {
            Value::Str(s) => Some(s),
            _ => None,
        }
    }

    /// The string as UTF-8, replacing invalid sequences (for functions that work on text).
    pub fn as_text(&self) -> Option<String> {
        self.as_bytes()
            .map(|b| String::from_utf8_lossy(b).into_owned())
    }

    /// Go's `fmt.Sprint` of a single value (`%v`).
    pub fn to_go_string(&self) -> String {
        String::from_utf8_lossy(&self.to_go_bytes()).into_owned()
    }

    /// Go's `fmt.Sprint` of a single value, keeping string bytes as they are.
    pub fn to_go_bytes(&self) -> Vec<u8> {
        let mut out = Vec::new();
        crate::gofmt::write_value(&mut out, self, false);
        out
    }

    /// Deep copy (sprig `deepCopy`): maps are no longer shared.
    pub fn deep_copy(&self) -> Value {
        match self {
            Value::List(l) => Value::list(l.iter().map(Value::deep_copy).collect()),
            Value::Map(m) => {
                let m = m.borrow();
                Value::map_of_kind(
                    m.entries
                        .iter()
                        .map(|(k, v)| (k.clone(), v.deep_copy()))
                        .collect(),
                    m.kind,
                )
            }
            other => other.clone(),
        }
    }

    /// Structural equality (`reflect.DeepEqual`), used by sprig's list helpers.
    pub fn deep_equal(&self, other: &Value) -> bool {
        match (self, other) {
            (Value::Nil, Value::Nil) => true,
            (Value::Bool(a), Value::Bool(b)) => a == b,
            (Value::Int(a), Value::Int(b)) => a == b,
            (Value::Float(a), Value::Float(b)) => a == b,
            (Value::Str(a), Value::Str(b)) => a == b,
            (Value::Time(a), Value::Time(b)) => a == b,
            (Value::List(a), Value::List(b)) => {
                a.len() == b.len() && a.iter().zip(b.iter()).all(|(x, y)| x.deep_equal(y))
            }
            (Value::Map(a), Value::Map(b)) => {
                if Rc::ptr_eq(a, b) {
                    return true;
                }
                let (a, b) = (a.borrow(), b.borrow());
                a.kind == b.kind
                    && a.entries.len() == b.entries.len()
                    && a.entries
                        .iter()
                        .zip(b.entries.iter())
                        .all(|((ka, va), (kb, vb))| ka == kb && va.deep_equal(vb))
            }
            _ => false,
        }
    }

    /// Converts parsed JSON into template values the way `encoding/json` fills an
    /// `interface{}`: numbers become float64, objects `map[string]interface{}`.
    pub fn from_json(json: &serde_json::Value) -> Value {
        match json {
            serde_json::Value::Null => Value::Nil,
            serde_json::Value::Bool(b) => Value::Bool(*b),
            serde_json::Value::Number(n) => Value::Float(n.as_f64().unwrap_or(f64::NAN)),
            serde_json::Value::String(s) => Value::str(s),
            serde_json::Value::Array(a) => Value::list(a.iter().map(Value::from_json).collect()),
            serde_json::Value::Object(o) => Value::map(
                o.iter()
                    .map(|(k, v)| (k.clone(), Value::from_json(v)))
                    .collect(),
            ),
        }
    }
}

impl From<&str> for Value {
    fn from(s: &str) -> Value {
        Value::str(s)
    }
}

impl From<String> for Value {
    fn from(s: String) -> Value {
        Value::str(s)
    }
}

impl From<Vec<u8>> for Value {
    fn from(s: Vec<u8>) -> Value {
        Value::Str(Rc::from(s))
    }
}

impl From<bool> for Value {
    fn from(b: bool) -> Value {
        Value::Bool(b)
    }
}

impl From<i64> for Value {
    fn from(i: i64) -> Value {
        Value::Int(i)
    }
}
