//! Content types from the bytes (never from the client's claim).

/// The content type of a file: sniffed from its first bytes; a few text formats whose bytes
/// say little are named after the extension (spec §8.2).
pub fn content_type(head: &[u8], name: &str) -> String {
    let lower = name.to_ascii_lowercase();
    let by_ext = [
        (".svg", "image/svg+xml"),
        (".css", "text/css"),
        (".js", "text/javascript"),
        (".mjs", "text/javascript"),
        (".xlsx", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"),
        (".docx", "application/vnd.openxmlformats-officedocument.wordprocessingml.document"),
        (".pptx", "application/vnd.openxmlformats-officedocument.presentationml.presentation"),
    ];
    if let Some((_, t)) = by_ext.iter().find(|(ext, _)| lower.ends_with(ext)) {
        return (*t).to_owned();
    }
    detect(head)
}

/// The content type of the bytes alone (uploads are checked against `mimeTypes` with it).
pub fn detect(head: &[u8]) -> String {
    if let Some(kind) = infer::get(head) {
        return kind.mime_type().to_owned();
    }
    if head.is_empty() {
        return "text/plain; charset=utf-8".into();
    }
    // Text: valid UTF-8 (a multi-byte character cut at the end of `head` is allowed).
    let text = match std::str::from_utf8(head) {
        Ok(t) => Some(t),
        Err(e) if e.error_len().is_none() => std::str::from_utf8(&head[..e.valid_up_to()]).ok(),
        Err(_) => None,
    };
    let Some(text) = text.filter(|t| !t.contains('\0')) else {
        return "application/octet-stream".into();
    };
    let start = text.trim_start().get(..256.min(text.trim_start().len())).unwrap_or("");
    let start_lower = start.to_ascii_lowercase();
    if start_lower.starts_with("<svg")
        || (start_lower.starts_with("<?xml") && text.contains("<svg"))
    {
        return "image/svg+xml".into();
    }
    if start_lower.starts_with("<!doctype html") || start_lower.starts_with("<html") {
        return "text/html; charset=utf-8".into();
    }
    if start_lower.starts_with("<?xml") {
        return "text/xml; charset=utf-8".into();
    }
    if (start.starts_with('{') || start.starts_with('['))
        && serde_json::from_str::<serde_json::Value>(text).is_ok()
    {
        return "application/json".into();
    }
    "text/plain; charset=utf-8".into()
}

/// Whether the sniffed type `actual` is one of `allowed` (parameters such as `charset` are
/// ignored, case-insensitive).
pub fn mime_matches(actual: &str, allowed: &[String]) -> bool {
    let essence = |s: &str| s.split(';').next().unwrap_or("").trim().to_ascii_lowercase();
    let actual = essence(actual);
    allowed.iter().any(|a| essence(a) == actual)
}

/// Content types served `inline`; everything else is an attachment (spec §8.2).
pub fn is_inline(content_type: &str) -> bool {
    const INLINE: &[&str] = &[
        "image/png",
        "image/jpg",
        "image/jpeg",
        "image/gif",
        "image/webp",
        "image/x-icon",
        "image/bmp",
        "video/webm",
        "video/mp4",
        "video/3gpp",
        "video/quicktime",
        "video/x-ms-wmv",
        "audio/basic",
        "audio/aiff",
        "audio/mpeg",
        "audio/midi",
        "audio/mp3",
        "audio/wave",
        "audio/wav",
        "audio/x-wav",
        "audio/x-mpeg",
        "audio/x-m4a",
        "audio/aac",
        "application/pdf",
        "application/x-pdf",
    ];
    let essence = content_type.split(';').next().unwrap_or("").trim().to_ascii_lowercase();
    INLINE.contains(&essence.as_str())
}
