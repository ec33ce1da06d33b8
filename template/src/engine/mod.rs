//! Go `text/template` engine: lexer → parser → evaluator, plus the parsed-template cache.
//!
//! This is our own implementation rather than `gtmpl` 0.7: gtmpl's value model has no byte
//! strings, ranges over maps in hash order, renders a missing key as `<no value>` instead of
//! failing as ESO's `missingkey=error` does, and its `printf` ignores verbs such as `%q`. Closing
//! those gaps meant replacing its evaluator and value type, which is most of the crate.

pub mod ast;
mod cache;
pub mod exec;
pub mod lexer;
mod literal;
pub mod parser;

pub use cache::{Engine, Template};
pub use lexer::Delimiters;

/// A lexer or parser error at a byte offset of the template text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TemplateSyntaxError {
    pub pos: usize,
    pub message: String,
}

/// 1-based line and 0-based byte column of `pos` (Go's `ErrorContext` convention).
pub fn line_col(text: &str, pos: usize) -> (usize, usize) {
    let pos = pos.min(text.len());
    let before = &text.as_bytes()[..pos];
    let line = 1 + before.iter().filter(|b| **b == b'\n').count();
    let col = match before.iter().rposition(|b| *b == b'\n') {
        Some(nl) => pos - nl - 1,
        None => pos,
    };
    (line, col)
}
