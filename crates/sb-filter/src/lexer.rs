//! Tokens of the filter language (spec §4.1).
//!
//! The rules follow PocketBase's scanner (`github.com/ganigeorgiev/fexpr`) byte for byte, because
//! clients and stored API rules depend on exactly what it accepts:
//!
//! * whitespace is only space, tab and newline (`\r` is an error);
//! * a number may start with `-` and contain one `.`, but must not be a lone `-` or end in `.`
//!   (so `-.5` is a number while `.5` and `1.` are not);
//! * in a text a backslash escapes the next character: `\\`, `\'` and `\"` stand for the
//!   character itself and `\n`, `\t`, `\r` for newline, tab and carriage return, while any other
//!   backslash pair is kept as written (`\d` stays `\d`); a quote closes the text unless escaped.
//!   (Checked against the PocketBase 0.40.6 binary; older fexpr versions only knew `\` + quote.)
//! * an identifier directly followed by `(` is a function call, scanned here together with its
//!   arguments (at most [`MAX_FUNC_DEPTH`] nested calls);
//! * `(` starts a group that extends to the matching `)`, counting parentheses and skipping quoted
//!   texts but nothing else: a `)` inside a `//` comment still closes the group, as in PocketBase.
//!   The parser then lexes the inside of the group on its own, so a comment inside a group ends at
//!   the group's end.
//!
//! The lexer works on a byte range of the source so that spans stay offsets into the original
//! text. Every byte it branches on is ASCII, so slicing at those positions never splits a char.

use crate::{Op, Operand, ParseError, Span};

/// Maximum nesting of function calls (`f(g(h(x)))` is the deepest allowed).
pub const MAX_FUNC_DEPTH: usize = 3;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Join {
    And,
    Or,
}

#[derive(Debug)]
pub(crate) enum TokenKind {
    /// An identifier, number, text or function call.
    Operand(Operand),
    Sign(Op),
    Join(Join),
    /// A parenthesised group; `inner` is the byte range between the parentheses.
    Group {
        inner: (usize, usize),
    },
}

#[derive(Debug)]
pub(crate) struct Token {
    pub kind: TokenKind,
    pub span: Span,
}

pub(crate) struct Lexer<'a> {
    src: &'a str,
    pos: usize,
    end: usize,
}

pub(crate) fn span(start: usize, end: usize) -> Span {
    // Filters are limited to a few KiB long before lexing, so offsets always fit.
    Span {
        start: u32::try_from(start).unwrap_or(u32::MAX),
        end: u32::try_from(end).unwrap_or(u32::MAX),
    }
}

pub(crate) fn error(message: impl Into<String>, start: usize, end: usize) -> ParseError {
    ParseError { message: message.into(), span: span(start, end) }
}

pub(crate) fn is_whitespace(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\n')
}

fn is_ident_start(b: u8) -> bool {
    b.is_ascii_alphabetic() || matches!(b, b'@' | b'_' | b'#')
}

fn is_ident_continue(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b':')
}

fn is_number_start(b: u8) -> bool {
    b == b'-' || b.is_ascii_digit()
}

fn is_sign_char(b: u8) -> bool {
    matches!(b, b'=' | b'?' | b'!' | b'>' | b'<' | b'~')
}

fn is_quote(b: u8) -> bool {
    b == b'\'' || b == b'"'
}

/// Whether `s` is a complete identifier: `[A-Za-z@_#][A-Za-z0-9_.:]*`, not ending with `.` or
/// `:`, and not a lone `@`, `_` or `#`.
pub fn is_identifier(s: &str) -> bool {
    let bytes = s.as_bytes();
    let (Some(&first), Some(&last)) = (bytes.first(), bytes.last()) else {
        return false;
    };
    let lone_special = bytes.len() == 1 && !first.is_ascii_alphabetic();
    is_ident_start(first)
        && bytes.iter().skip(1).all(|&b| is_ident_continue(b))
        && last != b'.'
        && last != b':'
        && !lone_special
}

/// Resolves the escapes of a text's content (see the module docs).
fn unescape(raw: &str) -> String {
    let mut out = String::with_capacity(raw.len());
    let mut chars = raw.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some(escaped @ ('\\' | '\'' | '"')) => out.push(escaped),
            Some('n') => out.push('\n'),
            Some('t') => out.push('\t'),
            Some('r') => out.push('\r'),
            Some(other) => {
                out.push('\\');
                out.push(other);
            }
            None => out.push('\\'),
        }
    }
    out
}

fn op_from_str(s: &str) -> Option<Op> {
    Some(match s {
        "=" => Op::Eq,
        "!=" => Op::Neq,
        "~" => Op::Like,
        "!~" => Op::NotLike,
        "<" => Op::Lt,
        "<=" => Op::Lte,
        ">" => Op::Gt,
        ">=" => Op::Gte,
        "?=" => Op::AnyEq,
        "?!=" => Op::AnyNeq,
        "?~" => Op::AnyLike,
        "?!~" => Op::AnyNotLike,
        "?<" => Op::AnyLt,
        "?<=" => Op::AnyLte,
        "?>" => Op::AnyGt,
        "?>=" => Op::AnyGte,
        _ => return None,
    })
}

impl<'a> Lexer<'a> {
    /// A lexer over `src[start..end]`; `start` and `end` must be char boundaries.
    pub fn new(src: &'a str, start: usize, end: usize) -> Self {
        Lexer { src, pos: start, end: end.min(src.len()) }
    }

    fn byte(&self, i: usize) -> Option<u8> {
        if i < self.end { self.src.as_bytes().get(i).copied() } else { None }
    }

    /// The position of the end of the range (for "unexpected end" errors).
    pub fn end(&self) -> usize {
        self.end
    }

    /// The next token, skipping whitespace and comments; `None` at the end of the range.
    pub fn next_token(&mut self) -> Result<Option<Token>, ParseError> {
        loop {
            let start = self.pos;
            let Some(b) = self.byte(start) else {
                return Ok(None);
            };
            let kind = if is_whitespace(b) {
                self.pos += 1;
                continue;
            } else if b == b'/' {
                self.skip_comment()?;
                continue;
            } else if b == b'(' {
                let close = self.find_group_end(start)?;
                self.pos = close + 1;
                TokenKind::Group { inner: (start + 1, close) }
            } else if is_ident_start(b) {
                TokenKind::Operand(self.scan_identifier(MAX_FUNC_DEPTH)?)
            } else if is_number_start(b) {
                TokenKind::Operand(self.scan_number()?)
            } else if is_quote(b) {
                TokenKind::Operand(self.scan_text()?)
            } else if is_sign_char(b) {
                let end = self.run_end(start, is_sign_char);
                self.pos = end;
                let text = self.slice(start, end);
                let op = op_from_str(text)
                    .ok_or_else(|| error(format!("invalid sign operator {text:?}"), start, end))?;
                TokenKind::Sign(op)
            } else if b == b'&' || b == b'|' {
                let end = self.run_end(start, |b| b == b'&' || b == b'|');
                self.pos = end;
                match self.slice(start, end) {
                    "&&" => TokenKind::Join(Join::And),
                    "||" => TokenKind::Join(Join::Or),
                    text => {
                        return Err(error(format!("invalid join operator {text:?}"), start, end));
                    }
                }
            } else {
                return Err(self.unexpected_char(start));
            };
            return Ok(Some(Token { kind, span: span(start, self.pos) }));
        }
    }

    fn slice(&self, start: usize, end: usize) -> &'a str {
        self.src.get(start..end).unwrap_or_default()
    }

    fn unexpected_char(&self, at: usize) -> ParseError {
        let ch = self.src.get(at..).and_then(|s| s.chars().next()).unwrap_or('\0');
        error(format!("unexpected character {ch:?}"), at, at + ch.len_utf8())
    }

    /// The end of the run of bytes matching `pred` that starts at `start`.
    fn run_end(&self, start: usize, pred: impl Fn(u8) -> bool) -> usize {
        let mut end = start;
        while self.byte(end).is_some_and(&pred) {
            end += 1;
        }
        end
    }

    /// Skips a `//` comment up to and including the next newline (or the end of the range).
    fn skip_comment(&mut self) -> Result<(), ParseError> {
        let start = self.pos;
        if self.byte(start + 1) != Some(b'/') {
            return Err(error("invalid comment (expected //)", start, start + 1));
        }
        let mut i = start + 2;
        while let Some(b) = self.byte(i) {
            i += 1;
            if b == b'\n' {
                break;
            }
        }
        self.pos = i;
        Ok(())
    }

    /// Given a quote at `start`, returns the position of the closing quote: the first matching
    /// quote that is not escaped by a backslash.
    fn find_text_end(&self, start: usize) -> Result<usize, ParseError> {
        let quote = self.byte(start).unwrap_or(b'\'');
        let mut i = start + 1;
        while let Some(b) = self.byte(i) {
            if b == quote {
                return Ok(i);
            }
            // The escaped byte may start a multi-byte char; its other bytes are never quotes or
            // backslashes, so stepping over one byte is enough.
            i += if b == b'\\' { 2 } else { 1 };
        }
        Err(error("unterminated quoted text", start, self.end))
    }

    /// Given `(` at `start`, returns the position of its matching `)`.
    fn find_group_end(&self, start: usize) -> Result<usize, ParseError> {
        let mut depth = 1usize;
        let mut i = start + 1;
        while let Some(b) = self.byte(i) {
            match b {
                b'(' => depth += 1,
                b')' => {
                    depth -= 1;
                    if depth == 0 {
                        return Ok(i);
                    }
                }
                b if is_quote(b) => i = self.find_text_end(i)?,
                _ => {}
            }
            i += 1;
        }
        Err(error(format!("missing {depth} closing bracket(s)"), start, self.end))
    }

    fn scan_text(&mut self) -> Result<Operand, ParseError> {
        let start = self.pos;
        let close = self.find_text_end(start)?;
        self.pos = close + 1;
        let value = unescape(self.slice(start + 1, close));
        Ok(Operand::Text { value, span: span(start, self.pos) })
    }

    fn scan_number(&mut self) -> Result<Operand, ParseError> {
        let start = self.pos;
        let mut had_dot = false;
        let mut i = start;
        while let Some(b) = self.byte(i) {
            let ok = b.is_ascii_digit() || (b == b'-' && i == start) || (b == b'.' && !had_dot);
            if !ok {
                break;
            }
            had_dot |= b == b'.';
            i += 1;
        }
        self.pos = i;
        let raw = self.slice(start, i);
        if raw == "-" || raw.ends_with('.') {
            return Err(error(format!("invalid number {raw:?}"), start, i));
        }
        // PocketBase converts with `cast.ToFloat64`, which yields 0 when the value overflows.
        let value = raw.parse::<f64>().ok().filter(|v| v.is_finite()).unwrap_or(0.0);
        Ok(Operand::Number { value, raw: raw.to_owned(), span: span(start, i) })
    }

    /// Scans an identifier, or a function call when it is directly followed by `(`.
    /// `func_depth` is how many more nested calls are allowed.
    fn scan_identifier(&mut self, func_depth: usize) -> Result<Operand, ParseError> {
        let start = self.pos;
        let end = self.run_end(start + 1, is_ident_continue);
        self.pos = end;
        let name = self.slice(start, end);
        if self.byte(end) == Some(b'(') {
            if func_depth == 0 {
                return Err(error(
                    format!("max nested function calls reached (max: {MAX_FUNC_DEPTH})"),
                    start,
                    end + 1,
                ));
            }
            if !is_identifier(name) {
                return Err(error(format!("invalid function name {name:?}"), start, end));
            }
            let args = self.scan_function_args(name, func_depth)?;
            return Ok(Operand::Func { name: name.to_owned(), args, span: span(start, self.pos) });
        }
        if !is_identifier(name) {
            return Err(error(format!("invalid identifier {name:?}"), start, end));
        }
        Ok(Operand::Ident { name: name.to_owned(), span: span(start, end) })
    }

    /// Scans `(arg, ...)` starting at the `(`; a trailing comma is accepted like in PocketBase.
    fn scan_function_args(
        &mut self,
        name: &str,
        func_depth: usize,
    ) -> Result<Vec<Operand>, ParseError> {
        let open = self.pos;
        self.pos += 1;
        let mut args = Vec::new();
        let mut expect_comma = false;
        loop {
            let at = self.pos;
            let Some(b) = self.byte(at) else {
                return Err(error(
                    format!("incomplete function call {name:?} (expected ')')"),
                    open,
                    self.end,
                ));
            };
            if b == b')' {
                self.pos += 1;
                return Ok(args);
            }
            if is_whitespace(b) {
                self.pos += 1;
                continue;
            }
            if b == b'/' {
                self.skip_comment()?;
                continue;
            }
            let is_comma = b == b',';
            if expect_comma && !is_comma {
                return Err(error(
                    format!("expected comma after the last argument in function {name:?}"),
                    at,
                    at + 1,
                ));
            }
            if !expect_comma && is_comma {
                return Err(error(format!("unexpected comma in function {name:?}"), at, at + 1));
            }
            if is_comma {
                expect_comma = false;
                self.pos += 1;
                continue;
            }
            let arg = if is_ident_start(b) {
                self.scan_identifier(func_depth.saturating_sub(1))?
            } else if is_number_start(b) {
                self.scan_number()?
            } else if is_quote(b) {
                self.scan_text()?
            } else {
                let err = self.unexpected_char(at);
                return Err(ParseError {
                    message: format!("unsupported argument in function {name:?}: {}", err.message),
                    span: err.span,
                });
            };
            args.push(arg);
            expect_comma = true;
        }
    }
}
