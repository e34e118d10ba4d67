//! The benchmark's data: record ids and record contents, all derived from a seed.
//!
//! Both servers of a side-by-side run must hold the same data, and a later run must be able to
//! address the seeded records without asking the server for them. So ids are a pure function of
//! the record's index (`bp0000000000042`), and contents come from a small SplitMix64 generator
//! written here rather than from a crate whose algorithm may change between versions: the same
//! seed gives the same data forever.

use serde_json::{Value, json};

/// The benchmark's main data collection: public rules.
pub const POSTS: &str = "posts";
/// The users: an auth collection that `posts.author` and `notes.owner` point to.
pub const AUTHORS: &str = "authors";
/// The organisations the authors belong to (`authors.org`).
pub const ORGS: &str = "orgs";
/// Private records with owner rules: each note is seen and changed by its owner only.
pub const NOTES: &str = "notes";
/// Records with an image file field that has a thumb size.
pub const MEDIA: &str = "media";
/// The values of `orgs.plan`.
pub const PLANS: [&str; 3] = ["free", "pro", "team"];
/// The plan the relation-filter scenario asks for.
pub const FILTER_PLAN: &str = "pro";
/// The password of every seeded author.
pub const AUTHOR_PASSWORD: &str = "bench-author-pw-1";
/// The thumb size of `media.image` that the file scenario asks for.
pub const THUMB: &str = "100x100";
/// The values of `posts.category`.
pub const CATEGORIES: [&str; 5] = ["news", "tech", "sports", "culture", "science"];
/// `posts.views` is uniform in `0..MAX_VIEWS`.
pub const MAX_VIEWS: u64 = 10_000;

const WORDS: [&str; 32] = [
    "amber", "bridge", "cloud", "delta", "ember", "forest", "garden", "harbor", "island", "jungle",
    "kernel", "lantern", "meadow", "needle", "orbit", "pebble", "quartz", "river", "signal",
    "timber", "umbra", "valley", "willow", "xenon", "yonder", "zephyr", "anchor", "beacon",
    "canyon", "dune", "echo", "falcon",
];

/// SplitMix64: a tiny, fast, well-mixed generator whose output is fixed by its definition.
#[derive(Debug, Clone)]
pub struct SplitMix64(u64);

impl SplitMix64 {
    pub fn new(seed: u64) -> SplitMix64 {
        SplitMix64(seed)
    }

    /// A generator for stream `index` of `seed`: streams of neighbouring indexes are unrelated.
    pub fn stream(seed: u64, index: u64) -> SplitMix64 {
        let mut mixer = SplitMix64(seed ^ index.wrapping_mul(0xD1B5_4A32_D192_ED03));
        SplitMix64(mixer.next_u64())
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A value in `0..n` (0 when `n` is 0). The modulo bias is negligible for the small `n`
    /// used here.
    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64().checked_rem(n).unwrap_or(0)
    }

    /// One element of a non-empty list.
    pub fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        let i = usize::try_from(self.below(items.len() as u64)).unwrap_or(0);
        items.get(i).copied().unwrap_or_default()
    }
}

/// The id of the `index`-th seeded post: 15 characters of `[a-z0-9]`, as PocketBase requires.
pub fn post_id(index: u64) -> String {
    format!("bp{index:013}")
}

/// The id of the `index`-th author.
pub fn author_id(index: u64) -> String {
    format!("ba{index:013}")
}

/// The id of the `index`-th organisation.
pub fn org_id(index: u64) -> String {
    format!("bo{index:013}")
}

/// The id of the `index`-th seeded note.
pub fn note_id(index: u64) -> String {
    format!("bn{index:013}")
}

/// The id of the `index`-th media record.
pub fn media_id(index: u64) -> String {
    format!("bm{index:013}")
}

/// The e-mail address of the `index`-th author (the identity they sign in with).
pub fn author_email(index: u64) -> String {
    format!("author{index}@bench.example.com")
}

/// The `index`-th organisation (with its id): a name and a plan, one in three on
/// [`FILTER_PLAN`].
pub fn org(seed: u64, index: u64) -> Value {
    let mut rng = SplitMix64::stream(seed ^ 0x0A, index);
    json!({
        "id": org_id(index),
        "name": format!("{} {}", capitalised(rng.pick(&WORDS)), capitalised(rng.pick(&WORDS))),
        "plan": PLANS.get((index % PLANS.len() as u64) as usize).copied().unwrap_or_default(),
    })
}

/// The `index`-th author record (with its id), a member of one of `orgs` organisations, as the
/// superuser creates it: e-mail, password and name.
pub fn author(seed: u64, index: u64, orgs: u64) -> Value {
    let mut rng = SplitMix64::stream(seed ^ 0xA0, index);
    json!({
        "id": author_id(index),
        "email": author_email(index),
        "password": AUTHOR_PASSWORD,
        "passwordConfirm": AUTHOR_PASSWORD,
        "verified": true,
        "name": format!("{} {}", capitalised(rng.pick(&WORDS)), capitalised(rng.pick(&WORDS))),
        "org": org_id(rng.below(orgs)),
    })
}

/// The author who owns the `index`-th seeded note: notes go round the authors, so author `a`
/// owns notes `a`, `a + authors`, `a + 2 × authors`, …
pub fn note_owner(index: u64, authors: u64) -> u64 {
    index.checked_rem(authors).unwrap_or(0)
}

/// The `index`-th seeded note (with its id).
pub fn seeded_note(seed: u64, index: u64, authors: u64) -> Value {
    let mut rng = SplitMix64::stream(seed ^ 0xB0, index);
    let mut note = new_note(&mut rng, note_owner(index, authors));
    if let Value::Object(map) = &mut note {
        map.insert("id".into(), Value::String(note_id(index)));
    }
    note
}

/// A new note of author `owner`, as the owner sends it.
pub fn new_note(rng: &mut SplitMix64, owner: u64) -> Value {
    let title: Vec<&str> = (0..2 + rng.below(4)).map(|_| rng.pick(&WORDS)).collect();
    let body: Vec<&str> = (0..10 + rng.below(20)).map(|_| rng.pick(&WORDS)).collect();
    json!({
        "title": capitalised(&title.join(" ")),
        "body": body.join(" "),
        "done": rng.below(4) == 0,
        "owner": author_id(owner),
    })
}

/// The index of a random seeded note owned by author `owner` (`records` notes seeded).
pub fn owned_note(rng: &mut SplitMix64, owner: u64, authors: u64, records: u64) -> u64 {
    let authors = authors.max(1);
    // Notes owner, owner + authors, … below records.
    let owned = records.saturating_sub(owner).div_ceil(authors);
    owner + rng.below(owned) * authors
}

/// A small PNG image (a 320×240 gradient whose colours depend on `index`), as an app's upload.
pub fn sample_png(index: u64) -> anyhow::Result<Vec<u8>> {
    let shift = (index % 256) as u8;
    let image = image::RgbImage::from_fn(320, 240, |x, y| {
        image::Rgb([(x % 256) as u8 ^ shift, (y % 256) as u8, shift.wrapping_mul(7)])
    });
    let mut out = std::io::Cursor::new(Vec::new());
    image.write_to(&mut out, image::ImageFormat::Png)?;
    Ok(out.into_inner())
}

/// The `index`-th seeded post (with its id): a title, a paragraph of body text (300–500 bytes),
/// and the fields the list scenario filters and sorts on.
pub fn seeded_post(seed: u64, index: u64, authors: u64) -> Value {
    let mut rng = SplitMix64::stream(seed, index);
    let mut post = post_fields(&mut rng, authors, 50);
    if let Value::Object(map) = &mut post {
        map.insert("id".into(), Value::String(post_id(index)));
    }
    post
}

/// A new post as the create scenario sends it: the same fields with a short body, no id.
pub fn new_post(rng: &mut SplitMix64, authors: u64) -> Value {
    post_fields(rng, authors, 12)
}

fn post_fields(rng: &mut SplitMix64, authors: u64, body_words: u64) -> Value {
    let title_words = 3 + rng.below(4);
    let title: Vec<&str> = (0..title_words).map(|_| rng.pick(&WORDS)).collect();
    let body: Vec<&str> =
        (0..body_words + rng.below(body_words / 2 + 1)).map(|_| rng.pick(&WORDS)).collect();
    json!({
        "title": capitalised(&title.join(" ")),
        "body": body.join(" "),
        "views": rng.below(MAX_VIEWS),
        "published": rng.below(2) == 0,
        "category": rng.pick(&CATEGORIES),
        "author": author_id(rng.below(authors)),
    })
}

fn capitalised(s: &str) -> String {
    let mut chars = s.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}

#[cfg(test)]
mod tests;
