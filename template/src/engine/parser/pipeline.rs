//! Parsing pipelines: declarations, commands and their operands.

use super::*;

impl Parser<'_> {
    pub(super) fn pipeline(&mut self, context: &str, end: Tok) -> PResult<Pipeline> {
        let start = self.peek_non_space().pos;
        let mut pipe = Pipeline {
            pos: start,
            decl: Vec::new(),
            is_assign: false,
            cmds: Vec::new(),
        };
        self.declarations(context, &mut pipe)?;
        loop {
            let t = self.next_non_space();
            if t.tok == end {
                self.check_pipeline(&pipe, context, t.pos)?;
                return Ok(pipe);
            }
            match t.tok {
                Tok::Bool(_)
                | Tok::CharConst(_)
                | Tok::Dot
                | Tok::Field(_)
                | Tok::Ident(_)
                | Tok::Number(_)
                | Tok::Nil
                | Tok::Str(_)
                | Tok::Variable(_)
                | Tok::LeftParen => {
                    self.index -= 1;
                    let cmd = self.command()?;
                    pipe.cmds.push(cmd);
                }
                _ => return self.unexpected(&t, context),
            }
        }
    }

    pub(super) fn declarations(&mut self, context: &str, pipe: &mut Pipeline) -> PResult<()> {
        loop {
            let v = self.peek_non_space();
            let Tok::Variable(name) = &v.tok else {
                return Ok(());
            };
            let save = self.index;
            self.next();
            let next = self.peek_non_space();
            match next.tok {
                Tok::Declare | Tok::Assign => {
                    self.next_non_space();
                    pipe.is_assign = next.tok == Tok::Assign;
                    if pipe.is_assign && !self.vars.contains(name) {
                        return self.err(v.pos, format!("undefined variable {name:?}"));
                    }
                    pipe.decl.push(name.clone());
                    if !pipe.is_assign {
                        self.vars.push(name.clone());
                    }
                    return Ok(());
                }
                Tok::Comma => {
                    self.next_non_space();
                    pipe.decl.push(name.clone());
                    self.vars.push(name.clone());
                    if context == "range" && pipe.decl.len() < 2 {
                        match self.peek_non_space().tok {
                            Tok::Variable(_) => continue,
                            _ => return self.err(v.pos, "range can only initialize variables"),
                        }
                    }
                    return self.err(v.pos, format!("too many declarations in {context}"));
                }
                _ => {
                    self.index = save;
                    return Ok(());
                }
            }
        }
    }

    pub(super) fn check_pipeline(&self, pipe: &Pipeline, context: &str, pos: usize) -> PResult<()> {
        if pipe.cmds.is_empty() {
            return self.err(pos, format!("missing value for {context}"));
        }
        for (i, cmd) in pipe.cmds.iter().enumerate().skip(1) {
            if let Some(
                Arg::Bool(..) | Arg::Dot(_) | Arg::Nil(_) | Arg::Number(..) | Arg::Str(..),
            ) = cmd.args.first()
            {
                return self.err(
                    cmd.pos,
                    format!("non executable command in pipeline stage {}", i + 1),
                );
            }
        }
        Ok(())
    }

    pub(super) fn command(&mut self) -> PResult<Command> {
        let pos = self.peek_non_space().pos;
        let mut cmd = Command {
            pos,
            args: Vec::new(),
        };
        loop {
            self.skip_space();
            if let Some(operand) = self.operand()? {
                cmd.args.push(operand);
            }
            let t = self.next();
            match t.tok {
                Tok::Space => continue,
                Tok::RightDelim | Tok::RightParen => self.index -= 1,
                Tok::Pipe => {}
                _ => return self.unexpected(&t, "operand"),
            }
            break;
        }
        if cmd.args.is_empty() {
            return self.err(pos, "empty command");
        }
        Ok(cmd)
    }

    pub(super) fn operand(&mut self) -> PResult<Option<Arg>> {
        let Some(term) = self.term()? else {
            return Ok(None);
        };
        let mut chain = Vec::new();
        while let Tok::Field(f) = &self.peek().tok {
            chain.push(f.clone());
            self.next();
        }
        if chain.is_empty() {
            return Ok(Some(term));
        }
        Ok(Some(match term {
            Arg::Field(p, mut fields) => {
                fields.extend(chain);
                Arg::Field(p, fields)
            }
            Arg::Variable(p, name, mut fields) => {
                fields.extend(chain);
                Arg::Variable(p, name, fields)
            }
            Arg::Pipe(p, pipe, mut fields) => {
                fields.extend(chain);
                Arg::Pipe(p, pipe, fields)
            }
            Arg::Bool(p, _) | Arg::Str(p, _) | Arg::Number(p, _, _) | Arg::Nil(p) | Arg::Dot(p) => {
                return self.err(p, format!("unexpected . after term {:?}", term.to_string()));
            }
            Arg::Ident(p, name) => {
                return self.err(p, format!("unexpected . after function {name:?}"));
            }
        }))
    }

    pub(super) fn term(&mut self) -> PResult<Option<Arg>> {
        let t = self.next_non_space();
        let pos = t.pos;
        Ok(Some(match t.tok {
            Tok::Ident(name) => {
                if !self.funcs.has_function(&name) {
                    return self.err(pos, format!("function {name:?} not defined"));
                }
                Arg::Ident(pos, name)
            }
            Tok::Dot => Arg::Dot(pos),
            Tok::Nil => Arg::Nil(pos),
            Tok::Variable(name) => {
                if !self.vars.contains(&name) {
                    return self.err(pos, format!("undefined variable {name:?}"));
                }
                Arg::Variable(pos, name, Vec::new())
            }
            Tok::Field(f) => Arg::Field(pos, vec![f]),
            Tok::Bool(b) => Arg::Bool(pos, b),
            Tok::CharConst(c) => {
                Arg::Number(pos, super::super::lexer::Number::Int(c), format!("{c}"))
            }
            Tok::Number(text) => {
                let Some(n) = parse_number(&text) else {
                    return self.err(pos, format!("bad number syntax: {text:?}"));
                };
                Arg::Number(pos, n, text)
            }
            Tok::LeftParen => {
                let pipe = self.pipeline("parenthesized pipeline", Tok::RightParen)?;
                Arg::Pipe(pos, Box::new(pipe), Vec::new())
            }
            Tok::Str(s) => Arg::Str(pos, s),
            _ => {
                self.index -= 1;
                return Ok(None);
            }
        }))
    }
}
