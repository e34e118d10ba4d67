use super::*;

#[test]
fn stored_names_follow_pocketbase() {
    let n = stored_name("my doc.txt", "");
    assert!(
        n.starts_with("my_doc_") && n.ends_with(".txt") && n.len() == "my_doc_".len() + 14,
        "{n}"
    );
    let n = stored_name("a.txt", "");
    assert_eq!(n.len(), 1 + 10 + 1 + 10 + 4, "{n}");
    let n = stored_name("archive.tar.gz", "");
    assert!(n.starts_with("archive_") && n.ends_with(".tar.gz"), "{n}");
    let n = stored_name("../../etc/passwd", ".txt");
    assert!(n.starts_with("passwd_") && n.ends_with(".txt") && is_valid_component(&n), "{n}");
    let n = stored_name("..\\..\\x.png", "");
    assert!(is_valid_component(&n) && n.ends_with(".png"), "{n}");
    let n = stored_name("HelloWorld.PNG", "");
    assert!(n.starts_with("hello_world_") && n.ends_with(".PNG"), "{n}");
    let n = stored_name("", ".png");
    assert!(is_valid_component(&n) && n.ends_with(".png"), "{n}");
    let n = stored_name("x.a/b", "");
    assert!(is_valid_component(&n), "{n}");
}

#[test]
fn keys_reject_traversal() {
    for bad in ["..", ".", "", "a/b", "a\\b", ".hidden", "a\0b"] {
        assert!(Key::new(&["c", "r", bad]).is_err(), "{bad:?}");
    }
    assert_eq!(Key::new(&["c", "r", "f.txt"]).unwrap().as_str(), "c/r/f.txt");
}

#[test]
fn thumb_specs_parse() {
    assert_eq!(ThumbSpec::parse("100x50").map(|s| (s.width, s.height)), Some((100, 50)));
    assert!(ThumbSpec::parse("0x0").is_none());
    assert!(ThumbSpec::parse("10x10x").is_none());
    assert!(ThumbSpec::parse("x10").is_none());
    assert!(ThumbSpec::parse("10x10tb").is_none());
    assert!(ThumbSpec::parse("99999999x1").is_none());
    assert!(ThumbSpec::parse("0x20f").is_some());
}

fn png(w: u32, h: u32) -> Vec<u8> {
    let img = image::RgbaImage::from_fn(w, h, |x, y| image::Rgba([x as u8, y as u8, 0, 255]));
    let mut buf = std::io::Cursor::new(Vec::new());
    img.write_to(&mut buf, image::ImageFormat::Png).unwrap();
    buf.into_inner()
}

#[test]
fn thumbs_have_the_requested_sizes() {
    let src = png(40, 30);
    let size = |spec: &str| {
        let (bytes, ct) = make_thumb(&src, ThumbSpec::parse(spec).unwrap()).unwrap();
        assert_eq!(ct, "image/png");
        let img = image::load_from_memory(&bytes).unwrap();
        (img.width(), img.height())
    };
    assert_eq!(size("10x10"), (10, 10));
    assert_eq!(size("10x10t"), (10, 10));
    assert_eq!(size("10x10b"), (10, 10));
    assert_eq!(size("20x20f"), (20, 15));
    assert_eq!(size("80x80f"), (40, 30));
    assert_eq!(size("20x0"), (20, 15));
    assert_eq!(size("0x15"), (20, 15));
    assert_eq!(size("50x10"), (50, 10));
}

#[test]
fn thumbs_refuse_huge_dimensions() {
    // A valid PNG header declaring 100000x100000 pixels, with no data behind it.
    let mut src = png(1, 1);
    src[16..20].copy_from_slice(&100_000u32.to_be_bytes());
    src[20..24].copy_from_slice(&100_000u32.to_be_bytes());
    assert!(make_thumb(&src, ThumbSpec::parse("10x10").unwrap()).is_err());
    assert!(make_thumb(b"not an image", ThumbSpec::parse("10x10").unwrap()).is_err());
}

#[test]
fn content_types_are_sniffed() {
    assert_eq!(content_type(&png(1, 1), "x.txt"), "image/png");
    assert_eq!(content_type(b"hello", "x.png"), "text/plain; charset=utf-8");
    assert_eq!(content_type(b"<svg xmlns=''></svg>", "x.svg"), "image/svg+xml");
    assert_eq!(content_type(&[0, 159, 146, 150], "x"), "application/octet-stream");
    assert!(mime_matches("text/plain; charset=utf-8", &["TEXT/PLAIN".into()]));
    assert!(!mime_matches("text/plain", &["image/png".into()]));
}

#[tokio::test]
async fn local_store_round_trip() {
    let dir = tempfile::tempdir().unwrap();
    let store = FileStore::local(&dir.path().join("storage")).unwrap();
    let key = Key::new(&["c1", "r1", "a.txt"]).unwrap();
    store.put(&key, bytes::Bytes::from_static(b"hello world")).await.unwrap();
    assert_eq!(store.get(&key, None).await.unwrap().unwrap(), &b"hello world"[..]);
    assert_eq!(store.get(&key, Some(6..11)).await.unwrap().unwrap(), &b"world"[..]);
    assert_eq!(store.head(&key).await.unwrap().unwrap().size, 11);
    assert!(dir.path().join("storage/c1/r1/a.txt").exists());
    store.delete_prefix(&Key::new(&["c1", "r1"]).unwrap()).await.unwrap();
    assert!(!store.exists(&key).await.unwrap());
    assert!(store.get(&key, None).await.unwrap().is_none());
    store.delete(&key).await.unwrap();
}
