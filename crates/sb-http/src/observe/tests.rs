use super::TraceContext;

#[test]
fn parses_w3c_traceparent() {
    let (trace, parent, sampled) =
        TraceContext::parse("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01").unwrap();
    assert_eq!(trace, "4bf92f3577b34da6a3ce929d0e0e4736");
    assert_eq!(parent, "00f067aa0ba902b7");
    assert!(sampled);
    let (_, _, sampled) =
        TraceContext::parse("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00").unwrap();
    assert!(!sampled);
    for bad in [
        "",
        "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7",
        "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
        "00-00000000000000000000000000000000-00f067aa0ba902b7-01",
        "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",
        "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01",
        "00-4bf92f3577b34da6a3ce929d0e0e473-00f067aa0ba902b7-01",
        "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-1",
        "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902bz-01",
    ] {
        assert_eq!(TraceContext::parse(bad), None, "{bad:?}");
    }
}

#[test]
fn the_outgoing_header_keeps_the_trace_and_names_our_span() {
    let ctx = TraceContext {
        trace_id: "4bf92f3577b34da6a3ce929d0e0e4736".into(),
        parent_id: Some("00f067aa0ba902b7".into()),
        span_id: "1111111111111111".into(),
        sampled: true,
    };
    assert_eq!(ctx.header(), "00-4bf92f3577b34da6a3ce929d0e0e4736-1111111111111111-01");
    let (trace, parent, sampled) = TraceContext::parse(&ctx.header()).unwrap();
    assert_eq!(
        (trace.as_str(), parent.as_str(), sampled),
        (ctx.trace_id.as_str(), "1111111111111111", true)
    );
}
