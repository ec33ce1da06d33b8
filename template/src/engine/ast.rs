//! Parse tree of a template, after `text/template/parse/node.go`. Nodes keep the byte offset
//! they start at so execution errors can name line, column and the node's source form.

use std::fmt;

use super::lexer::Number;

#[derive(Clone, Debug)]
pub enum Node {
    Text(String),
    Action(Pipeline),
    If(Branch),
    With(Branch),
    Range(Branch),
    Template {
        pos: usize,
        name: String,
        pipe: Option<Pipeline>,
    },
    Break(usize),
    Continue(usize),
}

/// `if`, `with` and `range` share this shape: a pipeline, a body and an optional else body.
#[derive(Clone, Debug)]
pub struct Branch {
    pub pipe: Pipeline,
    pub list: Vec<Node>,
    pub else_list: Option<Vec<Node>>,
}

#[derive(Clone, Debug)]
pub struct Pipeline {
    pub pos: usize,
    /// Variables declared (`:=`) or assigned (`=`), e.g. `$i, $v := ...` in a range.
    pub decl: Vec<String>,
    pub is_assign: bool,
    pub cmds: Vec<Command>,
}

#[derive(Clone, Debug)]
pub struct Command {
    pub pos: usize,
    pub args: Vec<Arg>,
}

#[derive(Clone, Debug)]
pub enum Arg {
    /// `.a.b` (fields relative to dot).
    Field(usize, Vec<String>),
    Dot(usize),
    Nil(usize),
    Bool(usize, bool),
    Number(usize, Number, String),
    Str(usize, String),
    /// `$x.a.b`: a variable and optional field chain.
    Variable(usize, String, Vec<String>),
    /// A function name.
    Ident(usize, String),
    /// `(pipeline).a.b`.
    Pipe(usize, Box<Pipeline>, Vec<String>),
}

impl Arg {
    pub fn pos(&self) -> usize {
        match self {
            Arg::Field(p, _)
            | Arg::Dot(p)
            | Arg::Nil(p)
            | Arg::Bool(p, _)
            | Arg::Number(p, _, _)
            | Arg::Str(p, _)
            | Arg::Variable(p, _, _)
            | Arg::Ident(p, _)
            | Arg::Pipe(p, _, _) => *p,
        }
    }
}

fn write_fields(f: &mut fmt::Formatter<'_>, fields: &[String]) -> fmt::Result {
    for field in fields {
        write!(f, ".{field}")?;
    }
    Ok(())
}

impl fmt::Display for Arg {
    /// The source form, as Go's `executing "x" at <...>` shows it.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Arg::Field(_, fields) => write_fields(f, fields),
            Arg::Dot(_) => f.write_str("."),
            Arg::Nil(_) => f.write_str("nil"),
            Arg::Bool(_, b) => write!(f, "{b}"),
            Arg::Number(_, _, text) => f.write_str(text),
            Arg::Str(_, s) => write!(f, "{s:?}"),
            Arg::Variable(_, name, fields) => {
                f.write_str(name)?;
                write_fields(f, fields)
            }
            Arg::Ident(_, name) => f.write_str(name),
            Arg::Pipe(_, pipe, fields) => {
                write!(f, "({pipe})")?;
                write_fields(f, fields)
            }
        }
    }
}

impl fmt::Display for Command {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, arg) in self.args.iter().enumerate() {
            if i > 0 {
                f.write_str(" ")?;
            }
            write!(f, "{arg}")?;
        }
        Ok(())
    }
}

impl fmt::Display for Pipeline {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if !self.decl.is_empty() {
            f.write_str(&self.decl.join(", "))?;
            f.write_str(if self.is_assign { " = " } else { " := " })?;
        }
        for (i, cmd) in self.cmds.iter().enumerate() {
            if i > 0 {
                f.write_str(" | ")?;
            }
            write!(f, "{cmd}")?;
        }
        Ok(())
    }
}
