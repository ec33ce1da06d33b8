//! Evaluator for parsed templates, after `text/template/exec.go`, with ESO's
//! `missingkey=error`: a missing map key in a field chain is an error, while `index` yields the
//! map's zero value. Ranges over maps visit keys in sorted order; nil prints as `<no value>`.

mod eval;

use std::collections::BTreeMap;

use super::ast::{Arg, Branch, Command, Node, Pipeline};
use super::lexer::Number;
use super::parser::ParsedSet;
use crate::functions::FunctionTable;
use crate::value::{MapKind, Value};

/// Nested `template` calls allowed before execution stops (Go allows 100000 on a goroutine
/// stack; this evaluator recurses on the Rust stack, so it stops far earlier).
const MAX_TEMPLATE_DEPTH: usize = 200;
/// Largest output one template may produce: a Secret is at most 1 MiB, so anything near this is
/// a runaway loop, not a value.
pub const MAX_OUTPUT_BYTES: usize = 16 * 1024 * 1024;
/// Nodes walked and range iterations one execution may take. A template over a whole 1 MiB
/// Secret stays far below; nested ranges that print nothing (`{{ range 1000 }}{{ range 1000 }}`)
/// would otherwise run for hours on an actor's thread.
pub const MAX_STEPS: u64 = 1_000_000;

/// An execution error before it is given the template's name and line.
#[derive(Debug)]
pub struct ExecError {
    pub pos: usize,
    /// The node's source form, e.g. `.foo` or `pkcs12cert`.
    pub node: String,
    /// Name of the `define` being executed, when not the main template.
    pub in_define: Option<String>,
    pub message: String,
}

enum Flow {
    Break,
    Continue,
    Error(ExecError),
}

impl From<ExecError> for Flow {
    fn from(e: ExecError) -> Flow {
        Flow::Error(e)
    }
}

type ExecResult<T> = Result<T, ExecError>;

pub struct Exec<'a> {
    set: &'a ParsedSet,
    funcs: &'a FunctionTable,
    vars: Vec<(String, Value)>,
    out: Vec<u8>,
    depth: usize,
    steps: u64,
    current_define: Option<String>,
}

impl<'a> Exec<'a> {
    pub fn new(set: &'a ParsedSet, funcs: &'a FunctionTable) -> Self {
        Exec {
            set,
            funcs,
            vars: Vec::new(),
            out: Vec::new(),
            depth: 0,
            steps: 0,
            current_define: None,
        }
    }

    /// Runs the main template with `data` as dot and `$`.
    pub fn run(mut self, data: Value) -> ExecResult<Vec<u8>> {
        self.vars.push(("$".into(), data.clone()));
        match self.walk_list(&data, &self.set.root) {
            Ok(()) => Ok(self.out),
            Err(Flow::Error(e)) => Err(e),
            // The parser rejects break/continue outside range.
            Err(Flow::Break | Flow::Continue) => Ok(self.out),
        }
    }

    fn error(&self, pos: usize, node: impl ToString, message: impl Into<String>) -> ExecError {
        ExecError {
            pos,
            node: node.to_string(),
            in_define: self.current_define.clone(),
            message: message.into(),
        }
    }

    fn walk_list(&mut self, dot: &Value, list: &[Node]) -> Result<(), Flow> {
        for node in list {
            self.walk(dot, node)?;
        }
        Ok(())
    }

    fn write(&mut self, bytes: &[u8], pos: usize) -> ExecResult<()> {
        if self.out.len() + bytes.len() > MAX_OUTPUT_BYTES {
            return Err(self.error(
                pos,
                "output",
                format!("template output exceeds {MAX_OUTPUT_BYTES} bytes"),
            ));
        }
        self.out.extend_from_slice(bytes);
        Ok(())
    }

    /// Counts one step of the execution's budget.
    fn step(&mut self, pos: usize, count: u64) -> ExecResult<()> {
        self.steps = self.steps.saturating_add(count);
        if self.steps > MAX_STEPS {
            return Err(self.error(
                pos,
                "template",
                format!("template execution exceeds {MAX_STEPS} steps"),
            ));
        }
        Ok(())
    }

    fn walk(&mut self, dot: &Value, node: &Node) -> Result<(), Flow> {
        self.step(0, 1)?;
        match node {
            Node::Text(t) => self.write(t.as_bytes(), 0)?,
            Node::Action(pipe) => {
                let value = self.eval_pipeline(dot, pipe)?;
                if pipe.decl.is_empty() {
                    let bytes = match &value {
                        Value::Nil => b"<no value>".to_vec(),
                        v => v.to_go_bytes(),
                    };
                    self.write(&bytes, pipe.pos)?;
                }
            }
            Node::If(branch) => self.walk_if_with(dot, branch, false)?,
            Node::With(branch) => self.walk_if_with(dot, branch, true)?,
            Node::Range(branch) => self.walk_range(dot, branch)?,
            Node::Template { pos, name, pipe } => self.walk_template(dot, *pos, name, pipe)?,
            Node::Break(_) => return Err(Flow::Break),
            Node::Continue(_) => return Err(Flow::Continue),
        }
        Ok(())
    }

    fn walk_if_with(&mut self, dot: &Value, branch: &Branch, is_with: bool) -> Result<(), Flow> {
        let mark = self.vars.len();
        let result = (|| {
            let value = self.eval_pipeline(dot, &branch.pipe)?;
            if value.is_true() {
                let new_dot = if is_with { &value } else { dot };
                self.walk_list(new_dot, &branch.list)
            } else if let Some(else_list) = &branch.else_list {
                self.walk_list(dot, else_list)
            } else {
                Ok(())
            }
        })();
        self.vars.truncate(mark);
        result
    }

    fn walk_range(&mut self, dot: &Value, branch: &Branch) -> Result<(), Flow> {
        let outer_mark = self.vars.len();
        let result = self.walk_range_inner(dot, branch);
        self.vars.truncate(outer_mark);
        result
    }

    fn walk_range_inner(&mut self, dot: &Value, branch: &Branch) -> Result<(), Flow> {
        let pipe = &branch.pipe;
        let value = self.eval_pipeline(dot, pipe)?;
        let items: Vec<(Value, Value)> = match &value {
            Value::List(list) => list
                .iter()
                .enumerate()
                .map(|(i, v)| (Value::Int(i as i64), v.clone()))
                .collect(),
            Value::Map(map) => map
                .borrow()
                .entries
                .iter()
                .map(|(k, v)| (Value::str(k), v.clone()))
                .collect(),
            Value::Int(n) => {
                if pipe.decl.len() > 1 {
                    return Err(self
                        .error(
                            pipe.pos,
                            pipe,
                            "can't use 2 iteration variables with an int",
                        )
                        .into());
                }
                // Counted up front: a huge count fails before anything is built.
                self.step(pipe.pos, (*n).max(0) as u64)?;
                (0..(*n).max(0))
                    .map(|i| (Value::Int(i), Value::Int(i)))
                    .collect()
            }
            Value::Nil => Vec::new(),
            other => {
                return Err(self
                    .error(
                        pipe.pos,
                        pipe,
                        format!(
                            "range can't iterate over a value of type {}",
                            other.type_name()
                        ),
                    )
                    .into());
            }
        };
        if items.is_empty() {
            if let Some(else_list) = &branch.else_list {
                return self.walk_list(dot, else_list);
            }
            return Ok(());
        }
        let mark = self.vars.len();
        for (index, elem) in items {
            self.step(pipe.pos, 1)?;
            if !pipe.decl.is_empty() {
                if pipe.is_assign {
                    let target = if pipe.decl.len() > 1 { &index } else { &elem };
                    self.set_var(&pipe.decl[0], target.clone());
                    if pipe.decl.len() > 1 {
                        self.set_var(&pipe.decl[1], elem.clone());
                    }
                } else {
                    let top = self.vars.len();
                    self.vars[top - 1].1 = elem.clone();
                    if pipe.decl.len() > 1 {
                        self.vars[top - 2].1 = index.clone();
                    }
                }
            }
            let result = self.walk_list(&elem, &branch.list);
            self.vars.truncate(mark);
            match result {
                Ok(()) | Err(Flow::Continue) => {}
                Err(Flow::Break) => break,
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }

    fn walk_template(
        &mut self,
        dot: &Value,
        pos: usize,
        name: &str,
        pipe: &Option<Pipeline>,
    ) -> Result<(), Flow> {
        let Some(body) = self.set.defines.get(name) else {
            return Err(self
                .error(
                    pos,
                    format!("template {name:?}"),
                    format!("no such template {name:?}"),
                )
                .into());
        };
        if self.depth >= MAX_TEMPLATE_DEPTH {
            return Err(self
                .error(
                    pos,
                    format!("template {name:?}"),
                    format!("exceeded maximum template depth ({MAX_TEMPLATE_DEPTH})"),
                )
                .into());
        }
        let new_dot = match pipe {
            Some(p) => self.eval_pipeline(dot, p)?,
            None => Value::Nil,
        };
        let saved_vars = std::mem::replace(&mut self.vars, vec![("$".into(), new_dot.clone())]);
        let saved_define = self.current_define.replace(name.to_string());
        self.depth += 1;
        let result = self.walk_list(&new_dot, body);
        self.depth -= 1;
        self.current_define = saved_define;
        self.vars = saved_vars;
        match result {
            Err(Flow::Break | Flow::Continue) => Ok(()),
            other => other,
        }
    }
}

/// The template data ESO passes: `map[string]string` of the secret's keys and raw values.
pub fn data_value(data: &BTreeMap<String, Vec<u8>>) -> Value {
    Value::map_of_kind(
        data.iter()
            .map(|(k, v)| (k.clone(), Value::str(v)))
            .collect(),
        MapKind::Strings,
    )
}
