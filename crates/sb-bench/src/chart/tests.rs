use super::*;

fn chart(groups: &[(&str, &[Option<f64>])]) -> BarChart {
    BarChart {
        title: "req/s relative to pb".into(),
        series: vec!["pb".into(), "sb".into(), "limit".into()],
        groups: groups
            .iter()
            .map(|(name, values)| BarGroup { name: (*name).into(), values: values.to_vec() })
            .collect(),
    }
}

/// The height of the tallest bar of `colour`: the longest vertical run of it in any column.
fn tallest(image: &RgbImage, colour: Rgb<u8>) -> u32 {
    let mut tallest = 0;
    for x in 0..image.width() {
        let mut run = 0;
        for y in 0..image.height() {
            run = if *image.get_pixel(x, y) == colour { run + 1 } else { 0 };
            tallest = tallest.max(run);
        }
    }
    tallest
}

#[test]
fn bars_are_as_high_as_their_ratios() {
    let chart = chart(&[
        ("view", &[Some(1.0), Some(2.5), Some(4.0)]),
        ("create", &[Some(1.0), Some(0.5), None]),
    ]);
    let bytes = png(&chart).expect("png");
    let image = image::load_from_memory_with_format(&bytes, ImageFormat::Png).expect("decode");
    let image = image.to_rgb8();
    assert_eq!((image.width(), image.height()), (draw(&chart).width(), draw(&chart).height()));
    assert!(
        image.width() >= 400 && image.height() >= PLOT_HEIGHT as u32,
        "{:?}",
        image.dimensions()
    );

    // The tallest bar of each server is its `view` bar: 1.0 < 2.5 < 4.0, in proportion.
    let heights: Vec<u32> = (0..3).map(|i| tallest(&image, series_colour(i))).collect();
    assert!(heights[0] > SWATCH as u32, "taller than the legend's swatch: {heights:?}");
    assert!(heights[0] < heights[1] && heights[1] < heights[2], "{heights:?}");
    let ratio = f64::from(heights[2]) / f64::from(heights[0]);
    assert!((ratio - 4.0).abs() < 0.1, "{heights:?}");
}

#[test]
fn text_is_drawn_in_black() {
    let image = draw(&chart(&[("view", &[Some(1.0), Some(2.0), Some(3.0)])]));
    let black = image.pixels().filter(|p| **p == BLACK).count();
    // The title alone is 20 glyphs of 2×2 pixels.
    assert!(black > 500, "{black} black pixels");
}

#[test]
fn odd_values_and_shapes_draw_without_panicking() {
    for groups in [
        vec![],
        vec![("a", &[][..])],
        vec![("a very long scenario name that does not fit", &[Some(f64::NAN), Some(-1.0)][..])],
        vec![("huge", &[Some(1.0), Some(f64::INFINITY), Some(1e300)][..])],
        vec![("tiny", &[Some(1e-9), Some(0.0), Some(1.0), Some(7.0)][..])],
    ] {
        let image = draw(&chart(&groups));
        assert!(image.width() > 0 && image.height() > 0);
    }
}

#[test]
fn the_axis_steps_are_round() {
    for (highest, expected) in [
        (0.2, (1.2, 0.2)),
        (1.0, (1.2, 0.2)),
        (2.5, (3.0, 0.5)),
        (4.0, (5.0, 1.0)),
        (40.0, (50.0, 10.0)),
        (f64::MAX, (1e12, 2e11)),
    ] {
        let (top, step) = axis(highest);
        let close = |a: f64, b: f64| (a - b).abs() <= b * 1e-9;
        assert!(close(top, expected.0) && close(step, expected.1), "{highest}: {top}, {step}");
    }
}
