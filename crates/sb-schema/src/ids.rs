//! Identifier generation: record ids, collection ids (`pbc_` + crc32), field ids, secrets, and
//! values generated from `autogeneratePattern` regexes (spec §1.8).
//!
//! Randomness comes from `rand::rng()`, a CSPRNG seeded from the OS, because record ids, token
//! keys and secrets all leave the server and some of them guard access.

use std::sync::Arc;

use rand::Rng;
use regex_syntax::hir::{Class, Hir, HirKind, Look};

use crate::goregex;
use crate::model::CollectionType;

/// `[a-z0-9]`: the alphabet of record ids.
pub const LOWER_ALPHANUMERIC: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789";
/// `[a-zA-Z0-9]`: the alphabet of secrets and token keys.
pub const ALPHANUMERIC: &[u8] = b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";

/// Upper bound added to the minimum of an unbounded repetition (`*`, `+`, `{n,}`).
const MAX_EXTRA_REPEAT: u32 = 10;

/// `len` random characters from `alphabet` (which must not be empty).
pub fn random_string(len: usize, alphabet: &[u8]) -> String {
    let mut rng = rand::rng();
    (0..len)
        .filter_map(|_| {
            let i = rng.random_range(0..alphabet.len().max(1));
            alphabet.get(i).map(|&b| char::from(b))
        })
        .collect()
}

/// A default record id: 15 characters of `[a-z0-9]`.
pub fn random_id() -> String {
    random_string(15, LOWER_ALPHANUMERIC)
}

/// A random token/OAuth2 secret: 50 characters of `[a-zA-Z0-9]`.
pub fn random_secret() -> String {
    random_string(50, ALPHANUMERIC)
}

/// CRC-32 (IEEE) of `s`.
pub fn crc32(s: &str) -> u32 {
    crc32fast::hash(s.as_bytes())
}

/// The default id of a new collection: `pbc_` + decimal crc32 of `type + name`.
pub fn collection_id(kind: CollectionType, name: &str) -> String {
    format!("pbc_{}", crc32(&format!("{}{name}", kind.as_str())))
}

/// The default id of a field: `<type><crc32(name)>`, e.g. `text3208210256` for `id`.
pub fn field_id(type_name: &str, name: &str) -> String {
    format!("{type_name}{}", crc32(name))
}

/// A random string matching `pattern` (Go regex syntax), as PocketBase's
/// `autogeneratePattern` does.
///
/// Supports literals, classes, `.`, groups, alternation and every quantifier (unbounded ones
/// repeat at most 10 extra times). Anchors and word boundaries cannot be generated: they fail
/// with PocketBase's message `Unsupported pattern operator N.` (N = Go's `syntax.Op`). An
/// unparseable pattern fails with the parse error.
pub fn generate_from_pattern(pattern: &str) -> Result<String, String> {
    static GENERATORS: goregex::Memo<Result<Arc<Hir>, String>> = goregex::Memo::new();
    let hir = GENERATORS.get(pattern, |pattern| {
        goregex::compile(pattern)?;
        let hir = regex_syntax::parse(&goregex::translate(pattern)).map_err(|e| e.to_string())?;
        check_supported(&hir)?;
        Ok(Arc::new(hir))
    })?;
    let mut out = String::new();
    generate(&hir, &mut rand::rng(), &mut out)?;
    Ok(out)
}

fn unsupported(op: u8) -> String {
    format!("Unsupported pattern operator {op}.")
}

/// Go's `syntax.Op` number of an assertion.
fn look_op(look: Look) -> u8 {
    match look {
        Look::Start => 9,
        Look::End => 10,
        Look::StartLF | Look::StartCRLF => 7,
        Look::EndLF | Look::EndCRLF => 8,
        Look::WordAsciiNegate | Look::WordUnicodeNegate => 12,
        _ => 11,
    }
}

/// Rejects patterns containing nodes that cannot be generated, wherever they are (so the
/// outcome does not depend on which alternation branch is picked).
fn check_supported(hir: &Hir) -> Result<(), String> {
    match hir.kind() {
        HirKind::Empty => Err(unsupported(2)),
        HirKind::Look(look) => Err(unsupported(look_op(*look))),
        HirKind::Literal(_) => Ok(()),
        HirKind::Class(class) => {
            let empty = match class {
                Class::Unicode(c) => c.ranges().is_empty(),
                Class::Bytes(c) => c.ranges().is_empty(),
            };
            if empty { Err(unsupported(1)) } else { Ok(()) }
        }
        HirKind::Repetition(rep) => check_supported(&rep.sub),
        HirKind::Capture(cap) => check_supported(&cap.sub),
        HirKind::Concat(subs) | HirKind::Alternation(subs) => {
            subs.iter().try_for_each(check_supported)
        }
    }
}

fn generate(hir: &Hir, rng: &mut impl Rng, out: &mut String) -> Result<(), String> {
    match hir.kind() {
        HirKind::Empty => Err(unsupported(2)),
        HirKind::Look(look) => Err(unsupported(look_op(*look))),
        HirKind::Literal(lit) => {
            out.push_str(&String::from_utf8_lossy(&lit.0));
            Ok(())
        }
        HirKind::Class(Class::Unicode(class)) => {
            let total: u64 = class
                .ranges()
                .iter()
                .map(|r| u64::from(u32::from(r.end()) - u32::from(r.start())) + 1)
                .sum();
            if total == 0 {
                return Err(unsupported(1));
            }
            let mut pick = rng.random_range(0..total);
            for r in class.ranges() {
                let size = u64::from(u32::from(r.end()) - u32::from(r.start())) + 1;
                if pick < size {
                    let code = u32::from(r.start()) + pick as u32;
                    out.push(char::from_u32(code).unwrap_or(r.start()));
                    return Ok(());
                }
                pick -= size;
            }
            Err(unsupported(4))
        }
        HirKind::Class(Class::Bytes(class)) => {
            let ascii: Vec<u8> = class
                .ranges()
                .iter()
                .flat_map(|r| r.start()..=r.end())
                .filter(u8::is_ascii)
                .collect();
            if ascii.is_empty() {
                return Err(unsupported(4));
            }
            match ascii.get(rng.random_range(0..ascii.len())) {
                Some(&b) => {
                    out.push(char::from(b));
                    Ok(())
                }
                None => Err(unsupported(4)),
            }
        }
        HirKind::Repetition(rep) => {
            let max = rep.max.unwrap_or(rep.min.saturating_add(MAX_EXTRA_REPEAT));
            let count = rng.random_range(rep.min..=max.max(rep.min));
            (0..count).try_for_each(|_| generate(&rep.sub, rng, out))
        }
        HirKind::Capture(cap) => generate(&cap.sub, rng, out),
        HirKind::Concat(subs) => subs.iter().try_for_each(|s| generate(s, rng, out)),
        HirKind::Alternation(subs) => match subs.get(rng.random_range(0..subs.len().max(1))) {
            Some(sub) => generate(sub, rng, out),
            None => Err(unsupported(2)),
        },
    }
}
