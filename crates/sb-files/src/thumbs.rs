//! Image thumbnails (spec §8.2), decoded under limits on dimensions, pixels and memory.

use std::io::Cursor;

use image::imageops::FilterType;
use image::{DynamicImage, ImageFormat, ImageReader, Limits};

/// Largest accepted width or height of a source image.
pub const MAX_DIMENSION: u32 = 16_384;
/// Largest accepted pixel count of a source image (~50 megapixels).
pub const MAX_PIXELS: u64 = 50_000_000;
/// Largest allocation the decoder may make.
pub const MAX_ALLOC: u64 = 512 << 20;

/// How a thumb is cut.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ThumbMode {
    /// `WxH`: fill WxH, cropping from the center.
    Center,
    /// `WxHt`: fill, cropping from the top.
    Top,
    /// `WxHb`: fill, cropping from the bottom.
    Bottom,
    /// `WxHf`: fit inside WxH without cropping.
    Fit,
}

/// A thumb size: `^(\d+)x(\d+)(t|b|f)?$`, not `0x0`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ThumbSpec {
    pub width: u32,
    pub height: u32,
    pub mode: ThumbMode,
}

impl ThumbSpec {
    pub fn parse(s: &str) -> Option<ThumbSpec> {
        let (w, rest) = s.split_once('x')?;
        let digits = rest.trim_end_matches(['t', 'b', 'f']);
        let suffix = &rest[digits.len()..];
        let mode = match suffix {
            "" => ThumbMode::Center,
            "t" => ThumbMode::Top,
            "b" => ThumbMode::Bottom,
            "f" => ThumbMode::Fit,
            _ => return None,
        };
        let num = |d: &str| {
            (!d.is_empty() && d.bytes().all(|b| b.is_ascii_digit()))
                .then(|| d.parse::<u32>().ok())?
        };
        let (width, height) = (num(w)?, num(digits)?);
        if (width == 0 && height == 0) || width > MAX_DIMENSION || height > MAX_DIMENSION {
            return None;
        }
        Some(ThumbSpec { width, height, mode })
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ThumbError {
    #[error("image too large")]
    TooLarge,
    #[error("cannot decode or encode the image: {0}")]
    Image(#[from] image::ImageError),
    #[error("unsupported image format")]
    Unsupported,
}

fn limits() -> Limits {
    let mut l = Limits::default();
    l.max_image_width = Some(MAX_DIMENSION);
    l.max_image_height = Some(MAX_DIMENSION);
    l.max_alloc = Some(MAX_ALLOC);
    l
}

/// Makes a thumb of an encoded image. JPEG, GIF, TIFF and BMP keep their format; anything else
/// becomes PNG. Returns the encoded thumb and its content type. CPU bound: call it on a
/// blocking thread.
pub fn make_thumb(source: &[u8], spec: ThumbSpec) -> Result<(Vec<u8>, &'static str), ThumbError> {
    let mut reader = ImageReader::new(Cursor::new(source))
        .with_guessed_format()
        .map_err(|e| ThumbError::Image(e.into()))?;
    let format = reader.format().ok_or(ThumbError::Unsupported)?;
    reader.limits(limits());
    // Dimensions come from the header, before any pixel is decoded.
    let (w, h) = reader.into_dimensions()?;
    if w == 0 || h == 0 || u64::from(w) * u64::from(h) > MAX_PIXELS {
        return Err(ThumbError::TooLarge);
    }
    let mut reader = ImageReader::with_format(Cursor::new(source), format);
    reader.limits(limits());
    let img = reader.decode()?;
    let out = resize(&img, spec);
    let (out_format, content_type) = match format {
        ImageFormat::Jpeg => (ImageFormat::Jpeg, "image/jpeg"),
        ImageFormat::Gif => (ImageFormat::Gif, "image/gif"),
        ImageFormat::Tiff => (ImageFormat::Tiff, "image/tiff"),
        ImageFormat::Bmp => (ImageFormat::Bmp, "image/bmp"),
        _ => (ImageFormat::Png, "image/png"),
    };
    let out =
        if out_format == ImageFormat::Jpeg { DynamicImage::ImageRgb8(out.to_rgb8()) } else { out };
    let mut buf = Cursor::new(Vec::new());
    out.write_to(&mut buf, out_format)?;
    Ok((buf.into_inner(), content_type))
}

fn resize(img: &DynamicImage, spec: ThumbSpec) -> DynamicImage {
    let (sw, sh) = (img.width(), img.height());
    let filter = FilterType::Lanczos3;
    let scaled = |v: u32, num: u32, den: u32| {
        ((u64::from(v) * u64::from(num) + u64::from(den) / 2) / u64::from(den)).max(1) as u32
    };
    if spec.width == 0 || spec.height == 0 {
        // Keep the aspect ratio along the missing side.
        let (w, h) = if spec.width == 0 {
            (scaled(sw, spec.height, sh), spec.height)
        } else {
            (spec.width, scaled(sh, spec.width, sw))
        };
        return img.resize_exact(w, h, filter);
    }
    let (w, h) = (spec.width, spec.height);
    match spec.mode {
        ThumbMode::Fit => {
            if sw <= w && sh <= h {
                img.clone()
            } else {
                img.resize(w, h, filter)
            }
        }
        mode => {
            // Scale so that WxH is covered, then crop.
            let (rw, rh) = if u64::from(sw) * u64::from(h) > u64::from(sh) * u64::from(w) {
                (scaled(sw, h, sh), h)
            } else {
                (w, scaled(sh, w, sw))
            };
            let covered = img.resize_exact(rw.max(w), rh.max(h), filter);
            let x = (covered.width() - w) / 2;
            let y = match mode {
                ThumbMode::Top => 0,
                ThumbMode::Bottom => covered.height() - h,
                _ => (covered.height() - h) / 2,
            };
            covered.crop_imm(x, y, w, h)
        }
    }
}
