//! HTML to plain-text excerpt, for the `excerpt(max, withEllipsis?)` field modifier.
//!
//! PocketBase parses the value with a full HTML5 parser and walks the tree: text is kept with
//! runs of ASCII whitespace collapsed to one space, the content of some elements (script, style,
//! img, svg, form controls, `<head>` …) is dropped, every element that is not inline is surrounded
//! by spaces, and the result is trimmed and cut to `max` characters. We tokenize the HTML by hand
//! and keep a stack of open elements, which gives the same text for ordinary markup without a
//! parser dependency. What we do not reproduce is the HTML5 tree repair for broken markup (for
//! example text inside `<table>` moved before it) and the less common named character
//! references (the table below has Latin-1 and common punctuation).
//!
//! One quirk is reproduced on purpose because it is visible in responses: PocketBase stops
//! descending into elements once it has collected more than `max + 2` bytes (not characters),
//! so with multi-byte text the excerpt can be shorter than `max` characters and lack the
//! ellipsis (`<p>éééééé</p><p>ééééééé</p>` with `excerpt(10)` gives `éééééé`).

const EXCLUDED: &[&str] = &[
    "head", "style", "script", "iframe", "embed", "applet", "object", "svg", "img", "picture",
    "dialog", "template", "button", "form", "textarea", "input", "select", "option",
];
const INLINE: &[&str] = &[
    "a", "abbr", "acronym", "b", "bdo", "big", "br", "button", "cite", "code", "em", "i", "label",
    "q", "small", "span", "strong", "strike", "sub", "sup", "time",
];
const VOID: &[&str] = &[
    "area", "base", "br", "col", "embed", "hr", "img", "input", "keygen", "link", "meta", "param",
    "source", "track", "wbr",
];
/// Elements whose content is text up to their end tag, without markup or references.
const RAW_TEXT: &[&str] = &["script", "style", "xmp", "iframe", "noembed", "noframes", "noscript"];
/// Elements whose content is text up to their end tag, with character references.
const RCDATA: &[&str] = &["title", "textarea"];
/// Elements that the HTML parser puts into `<head>` (dropped) when no body content came yet.
const HEAD_CONTENT: &[&str] = &[
    "title", "noscript", "meta", "link", "base", "style", "script", "template", "basefont",
    "bgsound",
];

/// The plain-text excerpt of `html`: at most `max` characters, `...` appended when cut and
/// `ellipsis` is set.
pub(crate) fn excerpt(html: &str, max: usize, ellipsis: bool) -> String {
    let mut writer = Writer::new(max);
    writer.run(html);
    let text = writer.out.trim();
    if text.chars().count() <= max {
        return text.to_owned();
    }
    let cut: String = text.chars().take(max).collect();
    let mut result = cut.trim().to_owned();
    if ellipsis {
        result.push_str("...");
    }
    result
}

struct Element {
    name: String,
    /// Whether it was reached by the walk (so gets spaces around it when it is a block).
    visited: bool,
    /// Whether its content is dropped.
    hidden: bool,
    block: bool,
}

struct Writer {
    out: String,
    prev_space: bool,
    stack: Vec<Element>,
    body_started: bool,
    /// Past this many bytes of output, elements opened later are not descended into.
    limit: usize,
}

fn is_html_space(c: char) -> bool {
    matches!(c, '\t' | '\n' | '\u{c}' | '\r' | ' ')
}

impl Writer {
    fn new(max: usize) -> Writer {
        // The walk starts with the implicit <html> block, hence the leading space.
        Writer {
            out: " ".to_owned(),
            prev_space: true,
            stack: Vec::new(),
            body_started: false,
            limit: max.saturating_add(2),
        }
    }

    fn hidden(&self) -> bool {
        self.stack.last().is_some_and(|e| e.hidden)
    }

    fn run(&mut self, html: &str) {
        let mut rest = html;
        while let Some(at) = rest.find('<') {
            self.text(&decode_entities(rest.get(..at).unwrap_or_default()));
            rest = self.markup(rest.get(at..).unwrap_or_default());
        }
        self.text(&decode_entities(rest));
    }

    /// Handles the markup at the start of `s` (which starts with `<`); returns what follows.
    fn markup<'s>(&mut self, s: &'s str) -> &'s str {
        let bytes = s.as_bytes();
        let after = |n: usize| s.get(n..).unwrap_or_default();
        match bytes.get(1) {
            Some(c) if c.is_ascii_alphabetic() => self.start_tag(after(1)),
            Some(b'/') => match bytes.get(2) {
                Some(c) if c.is_ascii_alphabetic() => {
                    let Some(end) = after(2).find('>') else { return "" };
                    let tag = after(2).get(..end).unwrap_or_default();
                    let name = tag.split(|c: char| is_html_space(c) || c == '/').next();
                    self.end_tag(&name.unwrap_or_default().to_ascii_lowercase());
                    after(2 + end + 1)
                }
                Some(b'>') => after(3),
                None => {
                    self.text("</");
                    ""
                }
                Some(_) => skip_past(after(2), ">"),
            },
            Some(b'!') if after(2).starts_with("--") => {
                let body = after(4);
                if let Some(rest) = body.strip_prefix('>').or_else(|| body.strip_prefix("->")) {
                    return rest;
                }
                let end = [body.find("-->").map(|i| i + 3), body.find("--!>").map(|i| i + 4)]
                    .into_iter()
                    .flatten()
                    .min();
                end.and_then(|end| body.get(end..)).unwrap_or_default()
            }
            Some(b'!' | b'?') => skip_past(after(2), ">"),
            _ => {
                self.text("<");
                after(1)
            }
        }
    }

    /// Parses a start tag from just after its `<`; returns what follows it (and its raw content
    /// for raw-text elements). A tag cut off by the end of input is dropped.
    fn start_tag<'s>(&mut self, s: &'s str) -> &'s str {
        let name_end =
            s.find(|c: char| is_html_space(c) || c == '/' || c == '>').unwrap_or(s.len());
        let name = s.get(..name_end).unwrap_or_default().to_ascii_lowercase();
        let Some((self_closing, rest)) = skip_attributes(s.get(name_end..).unwrap_or_default())
        else {
            return "";
        };
        self.open(&name, self_closing);
        let decode = RCDATA.contains(&name.as_str());
        if name == "plaintext" {
            self.text(rest);
            return "";
        }
        if !decode && !RAW_TEXT.contains(&name.as_str()) {
            return rest;
        }
        let end = find_end_tag(rest, &name).unwrap_or(rest.len());
        let content = rest.get(..end).unwrap_or_default();
        if decode {
            self.text(&decode_entities(content));
        } else {
            self.text(content);
        }
        rest.get(end..).unwrap_or_default()
    }

    fn open(&mut self, name: &str, self_closing: bool) {
        match name {
            "html" => return,
            "body" => {
                self.leave_head();
                self.body_started = true;
                return;
            }
            "head" if self.body_started => return,
            _ => {}
        }
        let in_head = !self.body_started && (name == "head" || HEAD_CONTENT.contains(&name));
        if !in_head {
            self.leave_head();
            self.body_started = true;
        }
        let visited = !self.hidden() && !in_head && !EXCLUDED.contains(&name);
        let block = !INLINE.contains(&name);
        if visited && block && !self.prev_space {
            self.out.push(' ');
            self.prev_space = true;
        }
        let element = Element {
            name: name.to_owned(),
            visited,
            hidden: !visited || self.out.len() > self.limit,
            block,
        };
        let foreign_void =
            self_closing && (name == "svg" || self.stack.iter().any(|e| e.name == "svg"));
        if VOID.contains(&name) || foreign_void {
            self.close(&element);
        } else {
            self.stack.push(element);
        }
    }

    /// Closes an explicit `<head>` when body content starts.
    fn leave_head(&mut self) {
        if self.stack.last().is_some_and(|e| e.name == "head") {
            self.stack.pop();
        }
    }

    fn close(&mut self, element: &Element) {
        if element.visited && element.block && !self.prev_space {
            self.out.push(' ');
            self.prev_space = true;
        }
    }

    fn end_tag(&mut self, name: &str) {
        if let Some(at) = self.stack.iter().rposition(|e| e.name == name) {
            while self.stack.len() > at {
                if let Some(element) = self.stack.pop() {
                    self.close(&element);
                }
            }
        } else if name == "p" {
            // A stray </p> stands for an empty paragraph.
            self.open("p", false);
            self.end_tag("p");
        }
    }

    fn text(&mut self, text: &str) {
        if text.is_empty() {
            return;
        }
        if !text.chars().all(is_html_space) {
            self.leave_head();
            self.body_started = true;
        }
        if self.hidden() {
            return;
        }
        let mut collapsed = String::with_capacity(text.len());
        let mut in_space = false;
        for c in text.chars() {
            if is_html_space(c) {
                if !in_space {
                    collapsed.push(' ');
                }
                in_space = true;
            } else {
                collapsed.push(c);
                in_space = false;
            }
        }
        let collapsed =
            if self.prev_space { collapsed.trim_start_matches(' ') } else { &collapsed };
        if !collapsed.is_empty() {
            self.prev_space = collapsed.ends_with(' ');
            self.out.push_str(collapsed);
        }
    }
}

/// What follows the first `pat` in `s` (nothing when it is missing).
fn skip_past<'s>(s: &'s str, pat: &str) -> &'s str {
    s.find(pat).and_then(|i| s.get(i + pat.len()..)).unwrap_or_default()
}

/// Skips a tag's attributes up to and including its `>`. Returns whether the tag ended with
/// `/>` and the rest of the input, or `None` when the input ends inside the tag.
fn skip_attributes(s: &str) -> Option<(bool, &str)> {
    let mut chars = s.char_indices().peekable();
    let mut prev = ' ';
    while let Some((i, c)) = chars.next() {
        match c {
            '>' => return Some((prev == '/', s.get(i + 1..).unwrap_or_default())),
            '=' => {
                while chars.next_if(|&(_, c)| is_html_space(c)).is_some() {}
                if let Some(&(start, quote @ ('"' | '\''))) = chars.peek() {
                    let close = s.get(start + 1..)?.find(quote)?;
                    while chars.next_if(|&(j, _)| j <= start + 1 + close).is_some() {}
                }
            }
            _ => {}
        }
        prev = c;
    }
    None
}

/// The position in `s` of the end tag `</name` (case-insensitive) followed by a space, `/` or
/// `>`, which ends a raw-text element's content.
fn find_end_tag(s: &str, name: &str) -> Option<usize> {
    let bytes = s.as_bytes();
    let mut from = 0;
    while let Some(found) = s.get(from..)?.find("</") {
        let at = from + found;
        let name_at = at + 2;
        let candidate = bytes.get(name_at..name_at + name.len())?;
        let terminated = bytes
            .get(name_at + name.len())
            .is_none_or(|&b| matches!(b, b'\t' | b'\n' | b'\x0c' | b'\r' | b' ' | b'/' | b'>'));
        if candidate.eq_ignore_ascii_case(name.as_bytes()) && terminated {
            return Some(at);
        }
        from = at + 2;
    }
    None
}

/// Replaces character references (`&amp;`, `&#39;`, `&#x41;`, legacy `&amp` without `;`).
fn decode_entities(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(at) = rest.find('&') {
        out.push_str(rest.get(..at).unwrap_or_default());
        let after = rest.get(at + 1..).unwrap_or_default();
        let (decoded, used) = decode_reference(after).unwrap_or(('&', 0));
        out.push(decoded);
        rest = after.get(used..).unwrap_or_default();
    }
    out.push_str(rest);
    out
}

/// Decodes the reference at the start of `s` (just after `&`): the char and the bytes used.
fn decode_reference(s: &str) -> Option<(char, usize)> {
    if let Some(num) = s.strip_prefix('#') {
        let (radix, digits_at) = match num.as_bytes().first() {
            Some(b'x' | b'X') => (16, 2),
            _ => (10, 1),
        };
        let digits = s.get(digits_at..)?;
        let len = digits.find(|c: char| !c.is_digit(radix)).unwrap_or(digits.len());
        if len == 0 {
            return None;
        }
        let value = u32::from_str_radix(digits.get(..len)?, radix).unwrap_or(u32::MAX);
        let value = usize::try_from(value)
            .ok()
            .and_then(|v| v.checked_sub(0x80))
            .and_then(|i| WINDOWS_1252.get(i).copied())
            .unwrap_or(value);
        let c = char::from_u32(value).filter(|&c| c != '\0').unwrap_or('\u{fffd}');
        let semicolon = usize::from(digits.get(len..)?.starts_with(';'));
        return Some((c, digits_at + len + semicolon));
    }
    let len = s.find(|c: char| !c.is_ascii_alphanumeric()).unwrap_or(s.len());
    let name = s.get(..len)?;
    if s.get(len..)?.starts_with(';')
        && let Some(c) = lookup_entity(name)
    {
        return Some((c, len + 1));
    }
    // Legacy references may omit the `;`; the longest matching prefix wins.
    (2..=len).rev().find_map(|n| {
        let prefix = name.get(..n)?;
        is_legacy(prefix).then(|| lookup_entity(prefix).map(|c| (c, n))).flatten()
    })
}

/// Legacy references (usable without `;`): the four basic ones and the Latin-1 block.
fn is_legacy(name: &str) -> bool {
    matches!(name, "amp" | "lt" | "gt" | "quot" | "AMP" | "LT" | "GT" | "QUOT")
        || LATIN1.contains(&name)
}

fn lookup_entity(name: &str) -> Option<char> {
    if let Some(i) = LATIN1.iter().position(|&n| n == name) {
        return char::from_u32(0xA0 + u32::try_from(i).ok()?);
    }
    let code = match name {
        "amp" | "AMP" => 0x26,
        "lt" | "LT" => 0x3C,
        "gt" | "GT" => 0x3E,
        "quot" | "QUOT" => 0x22,
        "apos" => 0x27,
        "OElig" => 0x152,
        "oelig" => 0x153,
        "Scaron" => 0x160,
        "scaron" => 0x161,
        "Yuml" => 0x178,
        "fnof" => 0x192,
        "circ" => 0x2C6,
        "tilde" => 0x2DC,
        "ensp" => 0x2002,
        "emsp" => 0x2003,
        "thinsp" => 0x2009,
        "zwnj" => 0x200C,
        "zwj" => 0x200D,
        "lrm" => 0x200E,
        "rlm" => 0x200F,
        "ndash" => 0x2013,
        "mdash" => 0x2014,
        "lsquo" => 0x2018,
        "rsquo" => 0x2019,
        "sbquo" => 0x201A,
        "ldquo" => 0x201C,
        "rdquo" => 0x201D,
        "bdquo" => 0x201E,
        "dagger" => 0x2020,
        "Dagger" => 0x2021,
        "bull" => 0x2022,
        "hellip" => 0x2026,
        "permil" => 0x2030,
        "prime" => 0x2032,
        "Prime" => 0x2033,
        "lsaquo" => 0x2039,
        "rsaquo" => 0x203A,
        "euro" => 0x20AC,
        "trade" => 0x2122,
        "larr" => 0x2190,
        "uarr" => 0x2191,
        "rarr" => 0x2192,
        "darr" => 0x2193,
        "harr" => 0x2194,
        "minus" => 0x2212,
        "infin" => 0x221E,
        "ne" => 0x2260,
        "le" => 0x2264,
        "ge" => 0x2265,
        _ => return None,
    };
    char::from_u32(code)
}

/// What the numeric references `&#128;`..`&#159;` stand for (HTML maps them as Windows-1252).
const WINDOWS_1252: [u32; 32] = [
    0x20AC, 0x81, 0x201A, 0x192, 0x201E, 0x2026, 0x2020, 0x2021, 0x2C6, 0x2030, 0x160, 0x2039,
    0x152, 0x8D, 0x17D, 0x8F, 0x90, 0x2018, 0x2019, 0x201C, 0x201D, 0x2022, 0x2013, 0x2014, 0x2DC,
    0x2122, 0x161, 0x203A, 0x153, 0x9D, 0x17E, 0x178,
];

/// Names of U+00A0..=U+00FF in order.
const LATIN1: &[&str] = &[
    "nbsp", "iexcl", "cent", "pound", "curren", "yen", "brvbar", "sect", "uml", "copy", "ordf",
    "laquo", "not", "shy", "reg", "macr", "deg", "plusmn", "sup2", "sup3", "acute", "micro",
    "para", "middot", "cedil", "sup1", "ordm", "raquo", "frac14", "frac12", "frac34", "iquest",
    "Agrave", "Aacute", "Acirc", "Atilde", "Auml", "Aring", "AElig", "Ccedil", "Egrave", "Eacute",
    "Ecirc", "Euml", "Igrave", "Iacute", "Icirc", "Iuml", "ETH", "Ntilde", "Ograve", "Oacute",
    "Ocirc", "Otilde", "Ouml", "times", "Oslash", "Ugrave", "Uacute", "Ucirc", "Uuml", "Yacute",
    "THORN", "szlig", "agrave", "aacute", "acirc", "atilde", "auml", "aring", "aelig", "ccedil",
    "egrave", "eacute", "ecirc", "euml", "igrave", "iacute", "icirc", "iuml", "eth", "ntilde",
    "ograve", "oacute", "ocirc", "otilde", "ouml", "divide", "oslash", "ugrave", "uacute", "ucirc",
    "uuml", "yacute", "thorn", "yuml",
];
