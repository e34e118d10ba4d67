use super::*;

#[test]
fn scenario_is_named_from_the_subscriber_count() {
    assert_eq!(scenario_name(1000), "realtime-1k");
    assert_eq!(scenario_name(10_000), "realtime-10k");
    assert_eq!(scenario_name(200), "realtime-200");
    assert_eq!(scenario_name(2000), "realtime-2000");
}

#[test]
fn fd_limit_is_raised_to_the_hard_limit_only_when_needed() {
    assert_eq!(fds_needed(10_000), 10_256);
    assert_eq!(fd_soft_limit(20_000, 20_000, 10_256).ok(), Some(None));
    assert_eq!(fd_soft_limit(1024, 20_000, 10_256).ok(), Some(Some(20_000)));
    assert_eq!(fd_soft_limit(1024, u64::MAX, 10_256).ok(), Some(Some(1 << 20)));
    let err = fd_soft_limit(1024, 4096, 10_256).expect_err("hard limit too low");
    let message = err.to_string();
    assert!(message.contains("10256") && message.contains("4096"), "{message}");
    assert!(message.contains("ulimit -Hn"), "{message}");
}

/// A PocketBase-like SSE response, as Go writes it: chunked, one chunk per flushed message.
const HEAD: &str = "HTTP/1.1 200 OK\r\nCache-Control: no-store\r\nContent-Type: text/event-stream\r\n\
                    transfer-encoding: Chunked\r\nX-Accel-Buffering: no\r\n\r\n";

fn chunked(messages: &[&str]) -> Vec<u8> {
    let mut out = Vec::new();
    for message in messages {
        out.extend_from_slice(format!("{:x};ext=1\r\n{message}\r\n", message.len()).as_bytes());
    }
    out
}

#[test]
fn response_head_is_read_once_complete() {
    let bytes = HEAD.as_bytes();
    assert!(parse_response_head(&bytes[..bytes.len() - 1]).expect("partial head").is_none());
    let (head, len) = parse_response_head(bytes).expect("head").expect("complete");
    assert_eq!(head, ResponseHead { status: 200, chunked: true });
    assert_eq!(len, bytes.len());

    let plain = b"HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\n\r\nrest";
    let (head, len) = parse_response_head(plain).expect("head").expect("complete");
    assert_eq!(head, ResponseHead { status: 503, chunked: false });
    assert_eq!(&plain[len..], b"rest");

    assert!(parse_response_head(b"SSH-2.0-OpenSSH\r\n\r\n").is_err());
}

#[test]
fn chunked_body_decodes_whatever_the_pieces() {
    let messages = ["id:a\nevent:PB_CONNECT\ndata:{}\n\n", "x", "0123456789abcdefXYZ"];
    let mut wire = chunked(&messages);
    wire.extend_from_slice(b"0\r\n\r\n");
    let expected = messages.concat();
    for split in 0..=wire.len() {
        let mut decoder = ChunkedDecoder::default();
        let mut out = Vec::new();
        decoder.feed(&wire[..split], &mut out).expect("first piece");
        decoder.feed(&wire[split..], &mut out).expect("second piece");
        assert_eq!(String::from_utf8_lossy(&out), expected, "split at {split}");
        assert!(decoder.is_done());
    }
    let mut decoder = ChunkedDecoder::default();
    let mut out = Vec::new();
    for byte in &wire {
        decoder.feed(std::slice::from_ref(byte), &mut out).expect("byte by byte");
    }
    assert_eq!(String::from_utf8_lossy(&out), expected);
}

#[test]
fn chunked_body_rejects_bad_framing() {
    let mut out = Vec::new();
    assert!(ChunkedDecoder::default().feed(b"zz\r\n", &mut out).is_err());
    assert!(ChunkedDecoder::default().feed(b"2\r\nabXY", &mut out).is_err());
    let mut decoder = ChunkedDecoder::default();
    decoder.feed(b"2\r\nab\r\n", &mut out).expect("one chunk");
    assert!(!decoder.is_done());
}

#[test]
fn sse_events_are_split_whatever_the_pieces() {
    let stream = "id:c1\nevent:PB_CONNECT\ndata:{\"clientId\":\"c1\"}\n\n\
                  : a comment\r\nid: c1\r\nevent: rt/*\r\ndata: {\"seq\":1}\r\nretry: 5\r\n\r\n\
                  \n\ndata:line 1\ndata:line 2\n\nid:c1\nevent:partial";
    let expected = vec![
        SseEvent {
            id: "c1".into(),
            event: "PB_CONNECT".into(),
            data: "{\"clientId\":\"c1\"}".into(),
        },
        SseEvent { id: "c1".into(), event: "rt/*".into(), data: "{\"seq\":1}".into() },
        SseEvent { id: String::new(), event: String::new(), data: "line 1\nline 2".into() },
    ];
    let bytes = stream.as_bytes();
    for piece in [1, 2, 7, bytes.len()] {
        let mut parser = SseParser::default();
        let mut events = Vec::new();
        for part in bytes.chunks(piece) {
            parser.push(part);
            events.extend(std::iter::from_fn(|| parser.next_event()));
        }
        assert_eq!(events, expected, "pieces of {piece} bytes");
        // The unfinished event comes out once its blank line arrives.
        parser.push(b"\ndata:{}\n\n");
        let last = parser.next_event().expect("finished event");
        assert_eq!((last.event.as_str(), last.data.as_str()), ("partial", "{}"));
    }
}

#[test]
fn seq_is_read_from_record_events() {
    let pocketbase = r#"{"action":"create","record":{"collectionId":"pbc_1","collectionName":"rt","id":"abc","seq":42,"t":"x"}}"#;
    assert_eq!(event_seq(pocketbase), Some(42));
    assert_eq!(event_seq(r#"{"record": {"seq": 7.0, "t": "x"}}"#), Some(7));
    assert_eq!(event_seq(r#"{"record":{"seq":0}}"#), Some(0));
    assert_eq!(event_seq(r#"{"record":{"seq":-1}}"#), None);
    assert_eq!(event_seq(r#"{"record":{"seq":1.5}}"#), None);
    assert_eq!(event_seq(r#"{"clientId":"c1"}"#), None);
}

#[test]
fn arrivals_keep_the_first_arrival_of_each_event() {
    let mut arrivals = Arrivals::new(3);
    arrivals.record(Some(1), 500);
    arrivals.record(Some(1), 900);
    arrivals.record(Some(3), 900);
    arrivals.record(None, 900);
    assert_eq!((arrivals.at(0), arrivals.at(1)), (None, Some(500)));
    assert_eq!((arrivals.duplicates, arrivals.unparsed), (1, 2));
    assert!(!arrivals.complete());
    arrivals.record(Some(0), 1000);
    arrivals.record(Some(2), 1000);
    assert!(arrivals.complete());
}

fn subscriber(events: usize, arrived: &[(u64, u64)]) -> Arrivals {
    let mut arrivals = Arrivals::new(events);
    for (seq, at) in arrived {
        arrivals.record(Some(*seq), *at);
    }
    arrivals
}

#[test]
fn tally_counts_latency_from_the_request_and_missing_events() {
    let writes = [
        WriteOutcome::Ok { sent_us: 100 },
        WriteOutcome::Ok { sent_us: 200 },
        WriteOutcome::Failed { sent_us: 300, kind: "write 500".into() },
        WriteOutcome::NotSent,
    ];
    // The first subscriber got everything, including the failed write's event (it may have
    // been committed); the second missed event 1 and got event 0 twice.
    let subscribers =
        [subscriber(4, &[(0, 1100), (1, 1300), (2, 1500)]), subscriber(4, &[(0, 2100), (0, 2200)])];
    let tally = tally(&writes, &subscribers).expect("tally");
    assert_eq!((tally.delivered, tally.missing, tally.ok_writes), (4, 1, 2));
    assert_eq!(tally.subscribers_missing, 1);
    assert_eq!(tally.last_arrival_us, Some(2100));
    let kinds: Vec<(&str, u64)> = tally.error_kinds.iter().map(|(k, n)| (k.as_str(), *n)).collect();
    assert_eq!(kinds, [("duplicate event", 1), ("missing event", 1), ("write 500", 1)]);
    assert_eq!(tally.latency_us.len(), 4);
    assert_eq!((tally.latency_us.min(), tally.latency_us.max()), (1000, 2000));

    let info = RunInfo {
        label: "scalebase".into(),
        url: "http://127.0.0.1:1".into(),
        subscribers: 1000,
        write_rate: None,
        measured_secs: 2.0,
    };
    let result = run_result(&info, &tally);
    assert_eq!(result.scenario, "realtime-1k");
    assert_eq!((result.mode.as_str(), result.connections), ("fanout", 1000));
    assert_eq!((result.requests, result.errors), (4, 3));
    assert_eq!(result.requests_per_sec, 2.0);
    assert_eq!(result.latency_ms.max, 2.0);
}

#[test]
fn tally_of_a_clean_run_has_no_errors() {
    let writes: Vec<WriteOutcome> =
        (0..3).map(|i| WriteOutcome::Ok { sent_us: i * 1000 }).collect();
    let everything = [(0, 10), (1, 1010), (2, 2010)];
    let subscribers = [subscriber(3, &everything), subscriber(3, &everything)];
    let tally = tally(&writes, &subscribers).expect("tally");
    assert!(tally.error_kinds.is_empty(), "{:?}", tally.error_kinds);
    assert_eq!((tally.delivered, tally.missing, tally.subscribers_missing), (6, 0, 0));
    assert_eq!(tally.latency_us.max(), 10);
}
