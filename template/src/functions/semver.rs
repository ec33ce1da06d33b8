//! Masterminds semver, as sprig's `semver` and `semverCompare` use it.

use std::collections::BTreeMap;

use crate::value::Value;

/// A Masterminds semver version (lenient: `v` prefix and missing parts allowed).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Version {
    major: u64,
    minor: u64,
    patch: u64,
    pre: String,
    meta: String,
    original: String,
}

impl Version {
    pub fn parse(s: &str) -> Result<Version, String> {
        let invalid = || "Invalid Semantic Version".to_string();
        let body = s.trim().strip_prefix('v').unwrap_or(s.trim());
        let (body, meta) = body.split_once('+').unwrap_or((body, ""));
        let (core, pre) = body.split_once('-').unwrap_or((body, ""));
        let nums: Vec<&str> = core.split('.').collect();
        if nums.is_empty() || nums.len() > 3 {
            return Err(invalid());
        }
        let mut parts = [0u64; 3];
        for (i, n) in nums.iter().enumerate() {
            if n.is_empty() || !n.chars().all(|c| c.is_ascii_digit()) {
                return Err(invalid());
            }
            parts[i] = n.parse().map_err(|_| invalid())?;
        }
        Ok(Version {
            major: parts[0],
            minor: parts[1],
            patch: parts[2],
            pre: pre.to_string(),
            meta: meta.to_string(),
            original: s.to_string(),
        })
    }

    pub fn to_value(&self) -> Value {
        let entries: BTreeMap<String, Value> = [
            ("Major", Value::Int(self.major as i64)),
            ("Minor", Value::Int(self.minor as i64)),
            ("Patch", Value::Int(self.patch as i64)),
            ("Prerelease", Value::str(&self.pre)),
            ("Metadata", Value::str(&self.meta)),
            ("Original", Value::str(&self.original)),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect();
        Value::map(entries)
    }

    fn cmp(&self, other: &Version) -> std::cmp::Ordering {
        (self.major, self.minor, self.patch)
            .cmp(&(other.major, other.minor, other.patch))
            .then_with(|| match (self.pre.is_empty(), other.pre.is_empty()) {
                (true, true) => std::cmp::Ordering::Equal,
                (true, false) => std::cmp::Ordering::Greater,
                (false, true) => std::cmp::Ordering::Less,
                (false, false) => cmp_prerelease(&self.pre, &other.pre),
            })
    }
}

fn cmp_prerelease(a: &str, b: &str) -> std::cmp::Ordering {
    let (pa, pb): (Vec<&str>, Vec<&str>) = (a.split('.').collect(), b.split('.').collect());
    for (x, y) in pa.iter().zip(pb.iter()) {
        let ord = match (x.parse::<u64>(), y.parse::<u64>()) {
            (Ok(i), Ok(j)) => i.cmp(&j),
            (Ok(_), Err(_)) => std::cmp::Ordering::Less,
            (Err(_), Ok(_)) => std::cmp::Ordering::Greater,
            (Err(_), Err(_)) => x.cmp(y),
        };
        if ord.is_ne() {
            return ord;
        }
    }
    pa.len().cmp(&pb.len())
}

/// Masterminds constraint syntax: `||` of comma/space-separated AND terms, operators
/// `= != > < >= <= ~ ^`, wildcards `x X *`, missing parts as wildcards, hyphen ranges.
pub fn constraint_matches(constraint: &str, v: &Version) -> Result<bool, String> {
    let operator_space =
        regex::Regex::new(r"(>=|=>|<=|=<|!=|>|<|=|~|\^)\s+").map_err(|e| e.to_string())?;
    for alternative in constraint.split("||") {
        let mut ok = true;
        let normalized = alternative.replace(" - ", " HYPHEN ");
        let normalized = operator_space.replace_all(&normalized, "$1");
        let terms: Vec<&str> = normalized
            .split([',', ' '])
            .filter(|t| !t.trim().is_empty())
            .collect();
        if terms.is_empty() {
            return Err(format!("improper constraint: {constraint}"));
        }
        let mut i = 0;
        while i < terms.len() {
            let matched = if terms.get(i + 1) == Some(&"HYPHEN") && i + 2 < terms.len() {
                let low = term_matches(&format!(">={}", terms[i]), v)?;
                let high = term_matches(&format!("<={}", terms[i + 2]), v)?;
                i += 3;
                low && high
            } else {
                let m = term_matches(terms[i], v)?;
                i += 1;
                m
            };
            ok &= matched;
        }
        if ok {
            return Ok(true);
        }
    }
    Ok(false)
}

fn term_matches(term: &str, v: &Version) -> Result<bool, String> {
    let term = term.trim();
    let ops = [">=", "=>", "<=", "=<", "!=", ">", "<", "=", "~", "^"];
    let (op, rest) = ops
        .iter()
        .find_map(|op| term.strip_prefix(op).map(|r| (*op, r.trim())))
        .unwrap_or(("=", term));
    let rest = rest.strip_prefix('v').unwrap_or(rest);
    let (core, pre) = rest.split_once('-').unwrap_or((rest, ""));
    let fields: Vec<&str> = core.split('.').collect();
    let is_wild = |s: Option<&&str>| s.is_none_or(|x| matches!(*x, "x" | "X" | "*"));
    let num = |s: Option<&&str>| -> Result<u64, String> {
        match s {
            Some(x) if !matches!(*x, "x" | "X" | "*") => x
                .parse()
                .map_err(|_| format!("improper constraint: {term}")),
            _ => Ok(0),
        }
    };
    let (major, minor, patch) = (
        num(fields.first())?,
        num(fields.get(1))?,
        num(fields.get(2))?,
    );
    let wild_major = is_wild(fields.first());
    let wild_minor = is_wild(fields.get(1));
    let wild_patch = is_wild(fields.get(2));
    let base = Version {
        major,
        minor,
        patch,
        pre: pre.to_string(),
        meta: String::new(),
        original: String::new(),
    };
    // Pre-releases only match constraints that name a pre-release.
    if !v.pre.is_empty() && pre.is_empty() {
        return Ok(false);
    }
    let upper = |bump: usize| -> Version {
        let mut u = base.clone();
        u.pre.clear();
        match bump {
            0 => (u.major, u.minor, u.patch) = (u.major + 1, 0, 0),
            1 => (u.minor, u.patch) = (u.minor + 1, 0),
            _ => u.patch += 1,
        }
        u
    };
    use std::cmp::Ordering::*;
    let in_range = |lo: &Version, hi: &Version| v.cmp(lo) != Less && v.cmp(hi) == Less;
    Ok(match op {
        "=" | "!=" => {
            let eq = if wild_major {
                true
            } else if wild_minor {
                in_range(&base, &upper(0))
            } else if wild_patch {
                in_range(&base, &upper(1))
            } else {
                v.cmp(&base) == Equal
            };
            if op == "=" { eq } else { !eq }
        }
        ">" => {
            if wild_major {
                false
            } else if wild_minor {
                v.cmp(&upper(0)) != Less
            } else if wild_patch {
                v.cmp(&upper(1)) != Less
            } else {
                v.cmp(&base) == Greater
            }
        }
        ">=" | "=>" => v.cmp(&base) != Less,
        "<" => v.cmp(&base) == Less,
        "<=" | "=<" => {
            if wild_major {
                true
            } else if wild_minor {
                v.cmp(&upper(0)) == Less
            } else if wild_patch {
                v.cmp(&upper(1)) == Less
            } else {
                v.cmp(&base) != Greater
            }
        }
        "~" => {
            if wild_minor {
                in_range(&base, &upper(0))
            } else {
                in_range(&base, &upper(1))
            }
        }
        "^" => {
            if major > 0 || wild_minor {
                in_range(&base, &upper(0))
            } else if minor > 0 || wild_patch {
                in_range(&base, &upper(1))
            } else {
                in_range(&base, &upper(2))
            }
        }
        _ => return Err(format!("improper constraint: {term}")),
    })
}
