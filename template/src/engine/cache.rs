//! Parsed templates and the engine that parses them once and caches them by content.

use std::collections::{HashMap, VecDeque};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::{Arc, Mutex};

use super::exec::{Exec, ExecError, data_value};
use super::lexer::{Delimiters, Tok, lex};
use super::parser::{FunctionNames, ParsedSet, parse};
use super::{TemplateSyntaxError, line_col};
use crate::Values;
use crate::error::TemplateError;
use crate::functions::FunctionTable;
use crate::value::Value;

/// Default number of parsed templates kept: ESO installations reuse a handful of templates
/// across thousands of ExternalSecrets, so a few thousand entries covers them at a few KiB each.
pub const DEFAULT_CACHE_CAPACITY: usize = 4096;

/// A parsed template, ready to execute any number of times (and from any thread).
#[derive(Debug, Clone)]
pub struct Template {
    name: String,
    text: Arc<str>,
    set: Arc<ParsedSet>,
    funcs: Arc<FunctionTable>,
}

impl Template {
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Executes with ESO's template data: each secret key maps to its raw bytes as a string.
    pub fn execute(&self, data: &Values) -> Result<Vec<u8>, TemplateError> {
        self.execute_value(data_value(data))
    }

    /// Executes with an arbitrary dot (e.g. `.value` for rewrite templates).
    pub fn execute_value(&self, dot: Value) -> Result<Vec<u8>, TemplateError> {
        let run = AssertUnwindSafe(|| Exec::new(&self.set, &self.funcs).run(dot));
        match catch_unwind(run) {
            Ok(Ok(bytes)) => Ok(bytes),
            Ok(Err(e)) => Err(self.exec_error(e)),
            Err(_) => Err(TemplateError::Internal {
                name: self.name.clone(),
            }),
        }
    }

    /// Executes and returns text; binary output is an error (use [`Template::execute`]).
    pub fn execute_string(&self, data: &Values) -> Result<String, TemplateError> {
        String::from_utf8(self.execute(data)?).map_err(|_| TemplateError::OutputNotUtf8 {
            name: self.name.clone(),
        })
    }

    fn exec_error(&self, e: ExecError) -> TemplateError {
        let (line, column) = line_col(&self.text, e.pos);
        TemplateError::Execute {
            name: self.name.clone(),
            executing: e.in_define.unwrap_or_else(|| self.name.clone()),
            line,
            column,
            node: e.node,
            message: e.message,
        }
    }
}

impl FunctionNames for FunctionTable {
    fn has_function(&self, name: &str) -> bool {
        self.get(name).is_some()
    }
}

#[derive(Debug, Default)]
struct Cache {
    map: HashMap<CacheKey, Arc<ParsedSet>>,
    order: VecDeque<CacheKey>,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct CacheKey {
    text: Arc<str>,
    delims: Delimiters,
}

/// Parses templates with ESO's function set and caches parse trees by template content.
#[derive(Debug)]
pub struct Engine {
    funcs: Arc<FunctionTable>,
    delims: Delimiters,
    capacity: usize,
    cache: Mutex<Cache>,
}

impl Default for Engine {
    fn default() -> Self {
        Engine::new()
    }
}

impl Engine {
    pub fn new() -> Self {
        Engine::with_options(Delimiters::default(), DEFAULT_CACHE_CAPACITY)
    }

    /// An engine with custom delimiters (ESO's `--template-left/right-delimiter`) and cache size.
    pub fn with_options(delims: Delimiters, capacity: usize) -> Self {
        Engine {
            funcs: Arc::new(FunctionTable::eso_v2()),
            delims,
            capacity: capacity.max(1),
            cache: Mutex::new(Cache::default()),
        }
    }

    /// The process-wide engine with default delimiters.
    pub fn global() -> &'static Engine {
        static GLOBAL: std::sync::OnceLock<Engine> = std::sync::OnceLock::new();
        GLOBAL.get_or_init(Engine::new)
    }

    /// Whether `text` renders the same output from the same data every time: it calls no
    /// [`VOLATILE`](crate::functions::VOLATILE) function. Text that does not lex is not.
    pub fn is_repeatable(&self, text: &str) -> bool {
        lex(text, &self.delims).is_ok_and(|tokens| {
            !tokens.iter().any(|token| {
                matches!(&token.tok, Tok::Ident(name) if crate::functions::VOLATILE.contains(&name.as_str()))
            })
        })
    }

    /// Number of parse trees currently cached.
    pub fn cached(&self) -> usize {
        self.cache.lock().map(|c| c.map.len()).unwrap_or(0)
    }

    /// Parses `text` as the template `name` (ESO names each template after its secret key),
    /// reusing a cached parse of identical text.
    pub fn parse(&self, name: &str, text: &str) -> Result<Template, TemplateError> {
        let key = CacheKey {
            text: Arc::from(text),
            delims: self.delims.clone(),
        };
        let cached = self
            .cache
            .lock()
            .ok()
            .and_then(|c| c.map.get(&key).cloned());
        let set = match cached {
            Some(set) => set,
            None => {
                let set = Arc::new(self.parse_uncached(text).map_err(|e| {
                    let (line, _) = line_col(text, e.pos);
                    TemplateError::Parse {
                        name: name.to_string(),
                        line,
                        message: e.message,
                    }
                })?);
                if let Ok(mut cache) = self.cache.lock() {
                    if cache.map.len() >= self.capacity
                        && let Some(oldest) = cache.order.pop_front()
                    {
                        cache.map.remove(&oldest);
                    }
                    if cache.map.insert(key.clone(), set.clone()).is_none() {
                        cache.order.push_back(key.clone());
                    }
                }
                set
            }
        };
        Ok(Template {
            name: name.to_string(),
            text: key.text,
            set,
            funcs: self.funcs.clone(),
        })
    }

    fn parse_uncached(&self, text: &str) -> Result<ParsedSet, TemplateSyntaxError> {
        let run = AssertUnwindSafe(|| {
            let tokens = lex(text, &self.delims)?;
            parse(tokens, &*self.funcs)
        });
        catch_unwind(run).unwrap_or_else(|_| {
            Err(TemplateSyntaxError {
                pos: 0,
                message: "internal parser error".into(),
            })
        })
    }

    /// Parses (or reuses) and renders in one step, returning raw bytes.
    pub fn render_bytes(
        &self,
        name: &str,
        text: &str,
        data: &Values,
    ) -> Result<Vec<u8>, TemplateError> {
        self.parse(name, text)?.execute(data)
    }
}
