//! Parser for Go `text/template`, after `text/template/parse/parse.go`: actions, pipelines,
//! variable declarations and scope, `if`/`else if`/`with`/`else with`/`range` (with `break` and
//! `continue`), `define`/`template`/`block`, parenthesised pipelines and field chains.
//! Undefined functions and variables are parse errors, as in Go.

mod pipeline;

use std::collections::BTreeMap;

use super::TemplateSyntaxError;
use super::ast::{Arg, Branch, Command, Node, Pipeline};
use super::lexer::{Tok, Token, parse_number};

/// A parsed template set: the main body and every `define`/`block` it declares.
#[derive(Clone, Debug, Default)]
pub struct ParsedSet {
    pub root: Vec<Node>,
    pub defines: BTreeMap<String, Vec<Node>>,
}

/// How the parser checks that an identifier names a function.
pub trait FunctionNames {
    fn has_function(&self, name: &str) -> bool;
}

pub fn parse(
    tokens: Vec<Token>,
    funcs: &dyn FunctionNames,
) -> Result<ParsedSet, TemplateSyntaxError> {
    let mut parser = Parser {
        tokens,
        index: 0,
        funcs,
        vars: vec!["$".into()],
        range_depth: 0,
        set: ParsedSet::default(),
    };
    parser.parse_top()?;
    Ok(parser.set)
}

/// What ended an item list.
enum ListEnd {
    End,
    Else(usize),
    Eof,
}

struct Parser<'a> {
    tokens: Vec<Token>,
    index: usize,
    funcs: &'a dyn FunctionNames,
    vars: Vec<String>,
    range_depth: usize,
    set: ParsedSet,
}

type PResult<T> = Result<T, TemplateSyntaxError>;

impl Parser<'_> {
    fn err<T>(&self, pos: usize, message: impl Into<String>) -> PResult<T> {
        Err(TemplateSyntaxError {
            pos,
            message: message.into(),
        })
    }

    fn peek(&self) -> &Token {
        &self.tokens[self.index.min(self.tokens.len() - 1)]
    }

    fn next(&mut self) -> Token {
        let t = self.peek().clone();
        if self.index < self.tokens.len() {
            self.index += 1;
        }
        t
    }

    fn skip_space(&mut self) {
        while self.peek().tok == Tok::Space {
            self.index += 1;
        }
    }

    fn peek_non_space(&mut self) -> Token {
        self.skip_space();
        self.peek().clone()
    }

    fn next_non_space(&mut self) -> Token {
        self.skip_space();
        self.next()
    }

    fn expect(&mut self, want: Tok, context: &str) -> PResult<Token> {
        let t = self.next_non_space();
        if t.tok != want {
            return self.unexpected(&t, context);
        }
        Ok(t)
    }

    fn unexpected<T>(&self, t: &Token, context: &str) -> PResult<T> {
        match &t.tok {
            Tok::Eof => self.err(t.pos, format!("unexpected EOF in {context}")),
            tok => self.err(t.pos, format!("unexpected {} in {context}", tok.describe())),
        }
    }

    fn parse_top(&mut self) -> PResult<()> {
        loop {
            let t = self.peek().clone();
            match t.tok {
                Tok::Eof => return Ok(()),
                Tok::LeftDelim => {
                    let save = self.index;
                    self.next();
                    if self.peek_non_space().tok == Tok::Define {
                        self.next_non_space();
                        self.parse_definition()?;
                        continue;
                    }
                    self.index = save;
                }
                _ => {}
            }
            match self.text_or_action()? {
                Item::Node(n) => self.set.root.push(n),
                Item::End(pos) => return self.err(pos, "unexpected {{end}}"),
                Item::Else(pos) => return self.err(pos, "unexpected {{else}}"),
            }
        }
    }

    fn parse_definition(&mut self) -> PResult<()> {
        let name_tok = self.next_non_space();
        let Tok::Str(name) = name_tok.tok else {
            return self.unexpected(&name_tok, "define clause");
        };
        self.expect(Tok::RightDelim, "define clause")?;
        let saved_vars = std::mem::replace(&mut self.vars, vec!["$".into()]);
        let (list, end) = self.item_list()?;
        self.vars = saved_vars;
        match end {
            ListEnd::End => {}
            ListEnd::Else(pos) => return self.err(pos, "unexpected {{else}} in define clause"),
            ListEnd::Eof => return self.err(name_tok.pos, "unexpected EOF in define clause"),
        }
        self.set.defines.insert(name, list);
        Ok(())
    }

    fn item_list(&mut self) -> PResult<(Vec<Node>, ListEnd)> {
        let mut list = Vec::new();
        loop {
            if self.peek_non_space_at_top().tok == Tok::Eof {
                return Ok((list, ListEnd::Eof));
            }
            match self.text_or_action()? {
                Item::Node(n) => list.push(n),
                Item::End(_) => return Ok((list, ListEnd::End)),
                Item::Else(pos) => return Ok((list, ListEnd::Else(pos))),
            }
        }
    }

    fn peek_non_space_at_top(&self) -> Token {
        self.peek().clone()
    }

    fn text_or_action(&mut self) -> PResult<Item> {
        let t = self.next();
        match t.tok {
            Tok::Text(s) => Ok(Item::Node(Node::Text(s))),
            Tok::LeftDelim => self.action(t.pos),
            _ => self.unexpected(&t, "input"),
        }
    }

    fn action(&mut self, delim_pos: usize) -> PResult<Item> {
        let t = self.next_non_space();
        match t.tok {
            Tok::Block => self.block_control(t.pos).map(Item::Node),
            Tok::Break => self.loop_control(t.pos, true).map(Item::Node),
            Tok::Continue => self.loop_control(t.pos, false).map(Item::Node),
            Tok::Else => {
                let peek = self.peek_non_space();
                if peek.tok != Tok::If && peek.tok != Tok::With {
                    self.expect(Tok::RightDelim, "else")?;
                }
                Ok(Item::Else(t.pos))
            }
            Tok::End => {
                self.expect(Tok::RightDelim, "end")?;
                Ok(Item::End(t.pos))
            }
            Tok::If => self.control(t.pos, "if").map(|b| Item::Node(Node::If(b))),
            Tok::Range => self
                .control(t.pos, "range")
                .map(|b| Item::Node(Node::Range(b))),
            Tok::With => self
                .control(t.pos, "with")
                .map(|b| Item::Node(Node::With(b))),
            Tok::Template => self.template_control(t.pos).map(Item::Node),
            Tok::Define => self.err(t.pos, "unexpected <define> in command"),
            _ => {
                self.index -= 1;
                let _ = delim_pos;
                let pipe = self.pipeline("command", Tok::RightDelim)?;
                Ok(Item::Node(Node::Action(pipe)))
            }
        }
    }

    fn loop_control(&mut self, pos: usize, is_break: bool) -> PResult<Node> {
        let word = if is_break { "break" } else { "continue" };
        let t = self.next_non_space();
        if t.tok != Tok::RightDelim {
            return self.unexpected(&t, &format!("{{{{{word}}}}}"));
        }
        if self.range_depth == 0 {
            return self.err(pos, format!("{{{{{word}}}}} outside {{{{range}}}}"));
        }
        Ok(if is_break {
            Node::Break(pos)
        } else {
            Node::Continue(pos)
        })
    }

    fn control(&mut self, pos: usize, context: &str) -> PResult<Branch> {
        let vars_len = self.vars.len();
        let result = self.control_inner(pos, context);
        self.vars.truncate(vars_len);
        result
    }

    fn control_inner(&mut self, pos: usize, context: &str) -> PResult<Branch> {
        let pipe = self.pipeline(context, Tok::RightDelim)?;
        if context == "range" {
            self.range_depth += 1;
        }
        let body = self.item_list();
        if context == "range" {
            self.range_depth -= 1;
        }
        let (list, end) = body?;
        let else_list = match end {
            ListEnd::End => None,
            ListEnd::Eof => return self.err(pos, format!("unexpected EOF in {context}")),
            ListEnd::Else(else_pos) => {
                let peek = self.peek_non_space();
                if (context == "if" && peek.tok == Tok::If)
                    || (context == "with" && peek.tok == Tok::With)
                {
                    // `{{else if ...}}` is `{{else}}{{if ...}}...{{end}}` sharing the end.
                    self.next_non_space();
                    let nested = self.control(peek.pos, context)?;
                    Some(vec![if context == "if" {
                        Node::If(nested)
                    } else {
                        Node::With(nested)
                    }])
                } else if peek.tok == Tok::If || peek.tok == Tok::With {
                    return self.unexpected(&peek, "else");
                } else {
                    let (else_list, end) = self.item_list()?;
                    match end {
                        ListEnd::End => Some(else_list),
                        ListEnd::Else(p) => {
                            return self.err(p, "expected end; found {{else}}");
                        }
                        ListEnd::Eof => {
                            return self.err(else_pos, format!("unexpected EOF in {context}"));
                        }
                    }
                }
            }
        };
        Ok(Branch {
            pipe,
            list,
            else_list,
        })
    }

    fn template_control(&mut self, pos: usize) -> PResult<Node> {
        let t = self.next_non_space();
        let Tok::Str(name) = t.tok else {
            return self.unexpected(&t, "template clause");
        };
        let pipe = if self.peek_non_space().tok != Tok::RightDelim {
            Some(self.pipeline("template clause", Tok::RightDelim)?)
        } else {
            self.next_non_space();
            None
        };
        Ok(Node::Template { pos, name, pipe })
    }

    fn block_control(&mut self, pos: usize) -> PResult<Node> {
        let t = self.next_non_space();
        let Tok::Str(name) = t.tok else {
            return self.unexpected(&t, "block clause");
        };
        let pipe = self.pipeline("block clause", Tok::RightDelim)?;
        let saved_vars = std::mem::replace(&mut self.vars, vec!["$".into()]);
        let saved_depth = std::mem::replace(&mut self.range_depth, 0);
        let body = self.item_list();
        self.vars = saved_vars;
        self.range_depth = saved_depth;
        let (list, end) = body?;
        if !matches!(end, ListEnd::End) {
            return self.err(pos, "unexpected EOF in block clause");
        }
        self.set.defines.insert(name.clone(), list);
        Ok(Node::Template {
            pos,
            name,
            pipe: Some(pipe),
        })
    }
}

enum Item {
    Node(Node),
    End(usize),
    Else(usize),
}
