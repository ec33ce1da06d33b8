//! sprig lists and dicts: `tuple list dict get set unset hasKey pluck keys pick omit merge
//! mergeOverwrite mustMerge mustMergeOverwrite values append mustAppend prepend mustPrepend first
//! mustFirst rest mustRest last mustLast initial mustInitial reverse mustReverse uniq mustUniq
//! without mustWithout has mustHas slice mustSlice concat dig chunk mustChunk`.
//!
//! `keys` and `values` come out sorted by key (Go's order is random; sorted is one of its
//! possible outcomes and keeps rendered Secrets stable).

use std::collections::BTreeMap;

use super::args::{int, list, list_arg, text, to_int64, to_string};
use super::defaults::is_empty;
use super::{FuncResult, Registry};
use crate::value::{MapData, Value};

pub fn register(r: &mut Registry<'_>) {
    r.range("list", 0, None, |a| Ok(Value::list(a.to_vec())));
    r.range("tuple", 0, None, |a| Ok(Value::list(a.to_vec())));
    r.range("dict", 0, None, |a| {
        let mut entries = BTreeMap::new();
        for pair in a.chunks(2) {
            let value = pair.get(1).cloned().unwrap_or_else(|| Value::str(""));
            entries.insert(to_string(&pair[0]), value);
        }
        Ok(Value::map(entries))
    });
    r.fixed("get", 2, |a| {
        let key = text(a, 1)?;
        with_map(&a[0], |m| {
            m.entries
                .get(&key)
                .cloned()
                .unwrap_or_else(|| Value::str(""))
        })
    });
    r.fixed("set", 3, |a| {
        let key = text(a, 1)?;
        with_map_mut(&a[0], |m| {
            m.entries.insert(key, a[2].clone());
        })?;
        Ok(a[0].clone())
    });
    r.fixed("unset", 2, |a| {
        let key = text(a, 1)?;
        with_map_mut(&a[0], |m| {
            m.entries.remove(&key);
        })?;
        Ok(a[0].clone())
    });
    r.fixed("hasKey", 2, |a| {
        let key = text(a, 1)?;
        with_map(&a[0], |m| Value::Bool(m.entries.contains_key(&key)))
    });
    r.range("pluck", 1, None, |a| {
        let key = text(a, 0)?;
        let mut out = Vec::new();
        for d in &a[1..] {
            if let Value::Map(m) = d
                && let Some(v) = m.borrow().entries.get(&key)
            {
                out.push(v.clone());
            }
        }
        Ok(Value::list(out))
    });
    r.range("keys", 0, None, |a| {
        let mut out = Vec::new();
        for d in a {
            let Value::Map(m) = d else {
                return Err(not_a_dict(d));
            };
            out.extend(m.borrow().entries.keys().map(Value::str));
        }
        Ok(Value::list(out))
    });
    r.range("pick", 1, None, |a| {
        let wanted: Vec<String> = a[1..].iter().map(to_string).collect();
        with_map(&a[0], |m| {
            Value::map(
                m.entries
                    .iter()
                    .filter(|(k, _)| wanted.contains(k))
                    .map(|(k, v)| (k.clone(), v.clone()))
                    .collect(),
            )
        })
    });
    r.range("omit", 1, None, |a| {
        let unwanted: Vec<String> = a[1..].iter().map(to_string).collect();
        with_map(&a[0], |m| {
            Value::map(
                m.entries
                    .iter()
                    .filter(|(k, _)| !unwanted.contains(k))
                    .map(|(k, v)| (k.clone(), v.clone()))
                    .collect(),
            )
        })
    });
    r.range("merge", 1, None, |a| merge(a, false));
    r.range("mustMerge", 1, None, |a| merge(a, false));
    r.range("mergeOverwrite", 1, None, |a| merge(a, true));
    r.range("mustMergeOverwrite", 1, None, |a| merge(a, true));
    r.fixed("values", 1, |a| {
        with_map(&a[0], |m| {
            Value::list(m.entries.values().cloned().collect())
        })
    });
    let push: fn(&[Value]) -> FuncResult = |a| {
        let mut l = list_arg(a, 0, "push")?;
        l.push(a[1].clone());
        Ok(Value::list(l))
    };
    r.fixed("append", 2, push);
    r.fixed("mustAppend", 2, push);
    let prepend: fn(&[Value]) -> FuncResult = |a| {
        let mut l = list_arg(a, 0, "prepend")?;
        l.insert(0, a[1].clone());
        Ok(Value::list(l))
    };
    r.fixed("prepend", 2, prepend);
    r.fixed("mustPrepend", 2, prepend);
    let first: fn(&[Value]) -> FuncResult = |a| {
        Ok(list_arg(a, 0, "find first")?
            .first()
            .cloned()
            .unwrap_or_default())
    };
    r.fixed("first", 1, first);
    r.fixed("mustFirst", 1, first);
    let last: fn(&[Value]) -> FuncResult = |a| {
        Ok(list_arg(a, 0, "find last")?
            .last()
            .cloned()
            .unwrap_or_default())
    };
    r.fixed("last", 1, last);
    r.fixed("mustLast", 1, last);
    let rest: fn(&[Value]) -> FuncResult = |a| {
        let l = list_arg(a, 0, "find rest")?;
        Ok(if l.is_empty() {
            Value::Nil
        } else {
            Value::list(l[1..].to_vec())
        })
    };
    r.fixed("rest", 1, rest);
    r.fixed("mustRest", 1, rest);
    let initial: fn(&[Value]) -> FuncResult = |a| {
        let l = list_arg(a, 0, "find initial")?;
        Ok(if l.is_empty() {
            Value::Nil
        } else {
            Value::list(l[..l.len() - 1].to_vec())
        })
    };
    r.fixed("initial", 1, initial);
    r.fixed("mustInitial", 1, initial);
    let reverse: fn(&[Value]) -> FuncResult = |a| {
        let mut l = list_arg(a, 0, "find reverse")?;
        l.reverse();
        Ok(Value::list(l))
    };
    r.fixed("reverse", 1, reverse);
    r.fixed("mustReverse", 1, reverse);
    let uniq: fn(&[Value]) -> FuncResult = |a| {
        let mut out: Vec<Value> = Vec::new();
        for v in list_arg(a, 0, "find uniq")? {
            if !out.iter().any(|x| x.deep_equal(&v)) {
                out.push(v);
            }
        }
        Ok(Value::list(out))
    };
    r.fixed("uniq", 1, uniq);
    r.fixed("mustUniq", 1, uniq);
    let without: fn(&[Value]) -> FuncResult = |a| {
        let l = list_arg(a, 0, "find without")?;
        Ok(Value::list(
            l.into_iter()
                .filter(|v| !a[1..].iter().any(|o| o.deep_equal(v)))
                .collect(),
        ))
    };
    r.range("without", 1, None, without);
    r.range("mustWithout", 1, None, without);
    let has: fn(&[Value]) -> FuncResult = |a| match &a[1] {
        Value::Nil => Ok(Value::Bool(false)),
        _ => {
            let l = list_arg(a, 1, "find has")?;
            Ok(Value::Bool(l.iter().any(|v| v.deep_equal(&a[0]))))
        }
    };
    r.fixed("has", 2, has);
    r.fixed("mustHas", 2, has);
    r.range("slice", 1, Some(3), slice);
    r.range("mustSlice", 1, Some(3), slice);
    r.range("concat", 0, None, |a| {
        let mut out = Vec::new();
        for v in a {
            let Some(l) = list(v) else {
                return Err(format!("cannot concat type {} as list", v.type_name()));
            };
            out.extend(l);
        }
        Ok(Value::list(out))
    });
    r.range("dig", 3, None, dig);
    let chunk: fn(&[Value]) -> FuncResult = |a| {
        let size = int(a, 0)?;
        let l = list_arg(a, 1, "chunk")?;
        if size <= 0 {
            return Ok(Value::list(Vec::new()));
        }
        Ok(Value::list(
            l.chunks(size as usize)
                .map(|c| Value::list(c.to_vec()))
                .collect(),
        ))
    };
    r.fixed("chunk", 2, chunk);
    r.fixed("mustChunk", 2, chunk);
}

fn not_a_dict(v: &Value) -> String {
    format!(
        "wrong type for value; expected map[string]interface {{}}; got {}",
        v.type_name()
    )
}

fn with_map(v: &Value, f: impl FnOnce(&MapData) -> Value) -> FuncResult {
    match v {
        Value::Map(m) => Ok(f(&m.borrow())),
        other => Err(not_a_dict(other)),
    }
}

fn with_map_mut(v: &Value, f: impl FnOnce(&mut MapData)) -> Result<(), String> {
    match v {
        Value::Map(m) => {
            f(&mut m.borrow_mut());
            Ok(())
        }
        other => Err(not_a_dict(other)),
    }
}

/// mergo-style deep merge into the first dict (which is changed and returned).
fn merge(a: &[Value], overwrite: bool) -> FuncResult {
    let Value::Map(dst) = &a[0] else {
        return Err(not_a_dict(&a[0]));
    };
    for src in &a[1..] {
        let Value::Map(src) = src else {
            return Err(not_a_dict(src));
        };
        if std::rc::Rc::ptr_eq(dst, src) {
            continue;
        }
        let src = src.borrow().entries.clone();
        merge_into(&mut dst.borrow_mut().entries, &src, overwrite);
    }
    Ok(a[0].clone())
}

fn merge_into(dst: &mut BTreeMap<String, Value>, src: &BTreeMap<String, Value>, overwrite: bool) {
    for (k, v) in src {
        match (dst.get(k), v) {
            (Some(Value::Map(d)), Value::Map(s)) if !std::rc::Rc::ptr_eq(d, s) => {
                let s = s.borrow().entries.clone();
                merge_into(&mut d.borrow_mut().entries, &s, overwrite);
            }
            (Some(existing), _) if !overwrite && !is_empty(existing) => {}
            (Some(_), v) if overwrite && is_empty(v) && !matches!(v, Value::Bool(_)) => {}
            _ => {
                dst.insert(k.clone(), v.clone());
            }
        }
    }
}

/// sprig's `slice` (which replaces Go's builtin in ESO's function map): lists only.
fn slice(a: &[Value]) -> FuncResult {
    let Some(l) = list(&a[0]) else {
        return Err(format!(
            "list should be type of slice or array but {}",
            a[0].kind_name()
        ));
    };
    if l.is_empty() {
        return Ok(Value::Nil);
    }
    let start = a.get(1).map(to_int64).unwrap_or(0);
    let end = a.get(2).map(to_int64).unwrap_or(l.len() as i64);
    if start < 0 || end < start || end as usize > l.len() {
        return Err(format!("slice bounds out of range [{start}:{end}]"));
    }
    Ok(Value::list(l[start as usize..end as usize].to_vec()))
}

/// `dig "a" "b" default dict`.
fn dig(a: &[Value]) -> FuncResult {
    let dict = &a[a.len() - 1];
    let default = &a[a.len() - 2];
    let keys: Vec<String> = a[..a.len() - 2]
        .iter()
        .enumerate()
        .map(|(i, _)| text(a, i))
        .collect::<Result<_, _>>()?;
    let mut cur = dict.clone();
    for key in keys {
        let Value::Map(m) = &cur else {
            return Err(not_a_dict(&cur));
        };
        let next = m.borrow().entries.get(&key).cloned();
        match next {
            Some(v) => cur = v,
            None => return Ok(default.clone()),
        }
    }
    Ok(cur)
}
