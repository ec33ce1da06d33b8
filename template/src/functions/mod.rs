//! ESO's template v2 function map: Go's builtins, the sprig functions ESO registers, and ESO's
//! own helpers. Each function takes already-evaluated arguments (the engine appends a pipeline's
//! value as the last one) and returns a value or a message the engine wraps as
//! `error calling NAME: ...`. Messages never include argument values.

mod args;
mod builtins;
mod dates;
mod defaults;
mod encoding;
mod eso;
mod json;
mod lists;
mod math;
mod misc;
mod regexes;
mod semver;
mod strings;

use std::collections::HashMap;
use std::fmt;

use crate::value::Value;

pub use args::{to_float64, to_int64, to_string};

/// Go's `base64.StdEncoding`, shared with the PEM codec.
pub(crate) fn encoding_engine() -> &'static base64::engine::GeneralPurpose {
    &encoding::GO_STD_BASE64
}

/// Functions whose result differs from call to call with the same arguments: the clock, random
/// values, and encryption with a random IV. A template calling one renders anew each time.
pub const VOLATILE: &[&str] = &[
    "now",
    "ago",
    "uuidv4",
    "randBytes",
    "randAlphaNum",
    "randAlpha",
    "randNumeric",
    "randAscii",
    "randInt",
    "shuffle",
    "encryptAES",
];

/// What a function returns: a value, or an error message (no values in it).
pub type FuncResult = Result<Value, String>;

/// A registered function: its arity bounds and implementation.
#[derive(Clone, Copy)]
pub struct FuncSpec {
    pub min: usize,
    /// `None` for variadic functions.
    pub max: Option<usize>,
    pub call: fn(&[Value]) -> FuncResult,
}

/// Name → function, as `template.FuncMap`.
#[derive(Clone)]
pub struct FunctionTable {
    map: HashMap<&'static str, FuncSpec>,
}

impl fmt::Debug for FunctionTable {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "FunctionTable({} functions)", self.map.len())
    }
}

/// Registration helper used by each function module.
pub(crate) struct Registry<'a>(&'a mut HashMap<&'static str, FuncSpec>);

impl Registry<'_> {
    /// A function with exactly `n` arguments.
    pub fn fixed(&mut self, name: &'static str, n: usize, call: fn(&[Value]) -> FuncResult) {
        self.0.insert(
            name,
            FuncSpec {
                min: n,
                max: Some(n),
                call,
            },
        );
    }

    /// A function with `min..=max` arguments (`max` `None` = variadic).
    pub fn range(
        &mut self,
        name: &'static str,
        min: usize,
        max: Option<usize>,
        call: fn(&[Value]) -> FuncResult,
    ) {
        self.0.insert(name, FuncSpec { min, max, call });
    }
}

impl FunctionTable {
    /// Exactly the functions ESO's `engineVersion: v2` registers.
    pub fn eso_v2() -> Self {
        let mut map = HashMap::new();
        {
            let mut r = Registry(&mut map);
            builtins::register(&mut r);
            strings::register(&mut r);
            encoding::register(&mut r);
            math::register(&mut r);
            defaults::register(&mut r);
            lists::register(&mut r);
            regexes::register(&mut r);
            dates::register(&mut r);
            misc::register(&mut r);
            eso::register(&mut r);
        }
        FunctionTable { map }
    }

    pub fn get(&self, name: &str) -> Option<&FuncSpec> {
        self.map.get(name)
    }

    /// Registered names, sorted.
    pub fn names(&self) -> Vec<&'static str> {
        let mut names: Vec<_> = self.map.keys().copied().collect();
        names.sort_unstable();
        names
    }
}
