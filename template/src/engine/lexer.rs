//! Lexer for Go `text/template`: text, delimiters with `{{-`/`-}}` trimming, comments, and the
//! tokens inside actions. Mirrors `text/template/parse/lex.go`; errors carry byte offsets.

use super::TemplateSyntaxError;
pub use super::literal::{Number, parse_number, unquote};

#[derive(Clone, Debug, PartialEq)]
pub enum Tok {
    Text(String),
    LeftDelim,
    RightDelim,
    Space,
    /// `.name` (without the dot).
    Field(String),
    /// `$name` or `$` (with the dollar).
    Variable(String),
    Ident(String),
    Dot,
    /// Interpreted (unquoted) string.
    Str(String),
    CharConst(i64),
    Number(String),
    Pipe,
    LeftParen,
    RightParen,
    Declare,
    Assign,
    Comma,
    // Keywords.
    If,
    Else,
    End,
    Range,
    With,
    Define,
    Template,
    Block,
    Break,
    Continue,
    Nil,
    Bool(bool),
    Eof,
}

impl Tok {
    /// How the token is named in parse errors.
    pub fn describe(&self) -> String {
        match self {
            Tok::Text(_) => "text".into(),
            Tok::LeftDelim => "<left delimiter>".into(),
            Tok::RightDelim => "<right delimiter>".into(),
            Tok::Space => "space".into(),
            Tok::Field(f) => format!("<.{f}>"),
            Tok::Variable(v) => format!("<{v}>"),
            Tok::Ident(i) => format!("<{i}>"),
            Tok::Dot => "<.>".into(),
            Tok::Str(_) => "string".into(),
            Tok::CharConst(_) => "character constant".into(),
            Tok::Number(n) => format!("number {n:?}"),
            Tok::Pipe => "\"|\"".into(),
            Tok::LeftParen => "\"(\"".into(),
            Tok::RightParen => "\")\"".into(),
            Tok::Declare => "\":=\"".into(),
            Tok::Assign => "\"=\"".into(),
            Tok::Comma => "\",\"".into(),
            Tok::If => "<if>".into(),
            Tok::Else => "<else>".into(),
            Tok::End => "<end>".into(),
            Tok::Range => "<range>".into(),
            Tok::With => "<with>".into(),
            Tok::Define => "<define>".into(),
            Tok::Template => "<template>".into(),
            Tok::Block => "<block>".into(),
            Tok::Break => "<break>".into(),
            Tok::Continue => "<continue>".into(),
            Tok::Nil => "<nil>".into(),
            Tok::Bool(b) => format!("<{b}>"),
            Tok::Eof => "EOF".into(),
        }
    }
}

#[derive(Clone, Debug)]
pub struct Token {
    pub tok: Tok,
    pub pos: usize,
}

/// Action delimiters (ESO lets the controller configure them).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Delimiters {
    pub left: String,
    pub right: String,
}

impl Default for Delimiters {
    fn default() -> Self {
        Delimiters {
            left: "{{".into(),
            right: "}}".into(),
        }
    }
}

fn is_space(c: u8) -> bool {
    matches!(c, b' ' | b'\t' | b'\r' | b'\n')
}

fn is_alnum(c: char) -> bool {
    c == '_' || c.is_alphanumeric()
}

struct Lexer<'a> {
    src: &'a str,
    pos: usize,
    delims: &'a Delimiters,
    tokens: Vec<Token>,
    paren_depth: usize,
}

/// Splits a template into tokens.
pub fn lex(src: &str, delims: &Delimiters) -> Result<Vec<Token>, TemplateSyntaxError> {
    let mut lexer = Lexer {
        src,
        pos: 0,
        delims,
        tokens: Vec::new(),
        paren_depth: 0,
    };
    lexer.run()?;
    Ok(lexer.tokens)
}

impl Lexer<'_> {
    fn err<T>(&self, pos: usize, message: impl Into<String>) -> Result<T, TemplateSyntaxError> {
        Err(TemplateSyntaxError {
            pos,
            message: message.into(),
        })
    }

    fn emit(&mut self, tok: Tok, pos: usize) {
        self.tokens.push(Token { tok, pos });
    }

    fn rest(&self) -> &str {
        &self.src[self.pos..]
    }

    fn run(&mut self) -> Result<(), TemplateSyntaxError> {
        let mut trim_next_text = false;
        loop {
            let start = self.pos;
            let next = self.rest().find(self.delims.left.as_str());
            let text_end = next.map(|i| start + i).unwrap_or(self.src.len());
            let mut text = &self.src[start..text_end];
            if trim_next_text {
                text = text.trim_start_matches(|c: char| c.is_ascii() && is_space(c as u8));
            }
            let Some(_) = next else {
                if !text.is_empty() {
                    self.emit(Tok::Text(text.to_string()), start);
                }
                self.emit(Tok::Eof, self.src.len());
                return Ok(());
            };
            let after_delim = text_end + self.delims.left.len();
            let bytes = self.src.as_bytes();
            let left_trim = bytes.get(after_delim) == Some(&b'-')
                && bytes.get(after_delim + 1).is_some_and(|c| is_space(*c));
            if left_trim {
                text = text.trim_end_matches(|c: char| c.is_ascii() && is_space(c as u8));
            }
            if !text.is_empty() {
                self.emit(Tok::Text(text.to_string()), start);
            }
            self.pos = after_delim + if left_trim { 2 } else { 0 };
            if self.rest().starts_with("/*") {
                trim_next_text = self.comment(text_end)?;
                continue;
            }
            self.emit(Tok::LeftDelim, text_end);
            trim_next_text = self.inside_action(text_end)?;
        }
    }

    /// Lexes a comment; returns whether the closing delimiter trims the following text.
    fn comment(&mut self, delim_pos: usize) -> Result<bool, TemplateSyntaxError> {
        let Some(end) = self.rest().find("*/") else {
            return self.err(delim_pos, "unclosed comment");
        };
        self.pos += end + 2;
        let right = &self.delims.right;
        if self.rest().starts_with(&format!(" -{right}")) {
            self.pos += 2 + right.len();
            Ok(true)
        } else if self.rest().starts_with(right.as_str()) {
            self.pos += right.len();
            Ok(false)
        } else {
            self.err(delim_pos, "comment ends before closing delimiter")
        }
    }

    /// Lexes tokens up to the right delimiter; returns whether it trims the following text.
    fn inside_action(&mut self, delim_pos: usize) -> Result<bool, TemplateSyntaxError> {
        let right = self.delims.right.clone();
        // Go's `hasRightTrimMarker`: any space character, then `-`, then the delimiter.
        let trims_at = |rest: &str| {
            let bytes = rest.as_bytes();
            bytes.len() >= 2
                && is_space(bytes[0])
                && bytes[1] == b'-'
                && rest[2..].starts_with(right.as_str())
        };
        loop {
            let rest = self.rest();
            if trims_at(rest) || rest.starts_with(right.as_str()) {
                let trims = trims_at(rest);
                if self.paren_depth > 0 {
                    return self.err(self.pos, "unclosed left paren");
                }
                if trims {
                    self.emit(Tok::Space, self.pos);
                    self.pos += 2;
                }
                self.emit(Tok::RightDelim, self.pos);
                self.pos += right.len();
                return Ok(trims);
            }
            let Some(c) = rest.chars().next() else {
                return self.err(delim_pos, "unclosed action");
            };
            let start = self.pos;
            match c {
                '\n' | '\r' | ' ' | '\t' => {
                    let len = rest.bytes().take_while(|b| is_space(*b)).count();
                    // A space that starts " -}}" belongs to the trim marker.
                    let len =
                        if self.src[start + len..].starts_with(&format!("-{right}")) && len > 0 {
                            len - 1
                        } else {
                            len
                        };
                    if len == 0 {
                        continue;
                    }
                    self.pos += len;
                    self.emit(Tok::Space, start);
                }
                '=' => {
                    self.pos += 1;
                    self.emit(Tok::Assign, start);
                }
                ':' => {
                    if !rest.starts_with(":=") {
                        return self.err(start, "expected :=");
                    }
                    self.pos += 2;
                    self.emit(Tok::Declare, start);
                }
                '|' => {
                    self.pos += 1;
                    self.emit(Tok::Pipe, start);
                }
                ',' => {
                    self.pos += 1;
                    self.emit(Tok::Comma, start);
                }
                '"' => self.quoted_string(delim_pos)?,
                '`' => {
                    let Some(end) = rest[1..].find('`') else {
                        return self.err(start, "unterminated raw quoted string");
                    };
                    let body = rest[1..1 + end].to_string();
                    self.pos += end + 2;
                    self.emit(Tok::Str(body), start);
                }
                '\'' => self.char_constant()?,
                '$' => {
                    let len = 1 + rest[1..]
                        .char_indices()
                        .find(|(_, c)| !is_alnum(*c))
                        .map(|(i, _)| i)
                        .unwrap_or(rest.len() - 1);
                    let name = rest[..len].to_string();
                    self.pos += len;
                    self.emit(Tok::Variable(name), start);
                }
                '.' => {
                    let next = rest[1..].chars().next();
                    if next.is_some_and(|c| c.is_ascii_digit()) {
                        self.number()?;
                    } else if next.is_some_and(is_alnum) {
                        let len = rest[1..]
                            .char_indices()
                            .find(|(_, c)| !is_alnum(*c))
                            .map(|(i, _)| i)
                            .unwrap_or(rest.len() - 1);
                        let name = rest[1..1 + len].to_string();
                        self.pos += 1 + len;
                        self.emit(Tok::Field(name), start);
                    } else {
                        self.pos += 1;
                        self.emit(Tok::Dot, start);
                    }
                }
                '+' | '-' | '0'..='9' => self.number()?,
                '(' => {
                    self.pos += 1;
                    self.paren_depth += 1;
                    self.emit(Tok::LeftParen, start);
                }
                ')' => {
                    if self.paren_depth == 0 {
                        return self.err(start, "unexpected right paren");
                    }
                    self.paren_depth -= 1;
                    self.pos += 1;
                    self.emit(Tok::RightParen, start);
                }
                c if is_alnum(c) => {
                    let len = rest
                        .char_indices()
                        .find(|(_, c)| !is_alnum(*c))
                        .map(|(i, _)| i)
                        .unwrap_or(rest.len());
                    let word = &rest[..len];
                    let tok = match word {
                        "if" => Tok::If,
                        "else" => Tok::Else,
                        "end" => Tok::End,
                        "range" => Tok::Range,
                        "with" => Tok::With,
                        "define" => Tok::Define,
                        "template" => Tok::Template,
                        "block" => Tok::Block,
                        "break" => Tok::Break,
                        "continue" => Tok::Continue,
                        "nil" => Tok::Nil,
                        "true" => Tok::Bool(true),
                        "false" => Tok::Bool(false),
                        _ => Tok::Ident(word.to_string()),
                    };
                    self.pos += len;
                    self.emit(tok, start);
                }
                c => return self.err(start, format!("unrecognized character in action: {c:?}")),
            }
        }
    }

    fn quoted_string(&mut self, delim_pos: usize) -> Result<(), TemplateSyntaxError> {
        let start = self.pos;
        let bytes = self.src.as_bytes();
        let mut i = start + 1;
        loop {
            match bytes.get(i) {
                None | Some(b'\n') => {
                    let _ = delim_pos;
                    return self.err(start, "unterminated quoted string");
                }
                Some(b'\\') => i += 2,
                Some(b'"') => break,
                Some(_) => i += 1,
            }
        }
        let raw = &self.src[start + 1..i];
        let value = unquote(raw).map_err(|message| TemplateSyntaxError {
            pos: start,
            message,
        })?;
        self.pos = i + 1;
        self.emit(Tok::Str(value), start);
        Ok(())
    }

    fn char_constant(&mut self) -> Result<(), TemplateSyntaxError> {
        let start = self.pos;
        let bytes = self.src.as_bytes();
        let mut i = start + 1;
        loop {
            match bytes.get(i) {
                None | Some(b'\n') => return self.err(start, "unterminated character constant"),
                Some(b'\\') => i += 2,
                Some(b'\'') => break,
                Some(_) => i += 1,
            }
        }
        let raw = &self.src[start + 1..i.min(self.src.len())];
        let value = unquote(raw).map_err(|message| TemplateSyntaxError {
            pos: start,
            message,
        })?;
        let mut chars = value.chars();
        let (Some(c), None) = (chars.next(), chars.next()) else {
            return self.err(start, format!("malformed character constant: '{raw}'"));
        };
        self.pos = i + 1;
        self.emit(Tok::CharConst(c as i64), start);
        Ok(())
    }

    fn number(&mut self) -> Result<(), TemplateSyntaxError> {
        let start = self.pos;
        let rest = self.rest();
        let len = rest
            .char_indices()
            .find(|(i, c)| {
                let prev = rest[..*i].chars().last();
                let sign_ok = (*c == '+' || *c == '-')
                    && (*i == 0 || matches!(prev, Some('e' | 'E' | 'p' | 'P')));
                !(sign_ok || c.is_ascii_alphanumeric() || *c == '.' || *c == '_')
            })
            .map(|(i, _)| i)
            .unwrap_or(rest.len());
        let text = rest[..len].to_string();
        if parse_number(&text).is_none() {
            return self.err(start, format!("bad number syntax: {text:?}"));
        }
        self.pos += len;
        self.emit(Tok::Number(text), start);
        Ok(())
    }
}
