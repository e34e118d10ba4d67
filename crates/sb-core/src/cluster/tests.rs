use super::*;

#[test]
fn messages_have_a_stable_wire_form() {
    let cluster = Cluster::new("n1".into());
    let hello = cluster.encode(Body::Hello { sent: 5, info: None });
    assert_eq!(hello, r#"{"from":"n1","t":"hello","sent":5}"#);
    let inv = cluster.encode(Body::Invalidate {
        id: 7,
        tables: vec!["posts".into()],
        rows: vec![("users".into(), "u1".into())],
        all: false,
        position: None,
    });
    assert_eq!(
        inv,
        r#"{"from":"n1","t":"invalidate","id":7,"tables":["posts"],"rows":[["users","u1"]],"all":false}"#
    );
    let back: Envelope = serde_json::from_str(&inv).unwrap();
    assert_eq!(back.from, "n1");
    assert!(matches!(back.body, Body::Invalidate { id: 7, all: false, .. }));
    let reply =
        cluster.encode(Body::Reply { to: "n2".into(), id: 1, outcome: Outcome::AuthMismatch });
    assert_eq!(reply, r#"{"from":"n1","t":"reply","to":"n2","id":1,"outcome":"authMismatch"}"#);
}

#[test]
fn a_node_trusts_its_caches_only_while_it_hears_itself() {
    let cluster = Cluster::new("n1".into());
    assert!(cluster.trusted(), "no cluster: always");
    struct Silent;
    #[async_trait::async_trait]
    impl Transport for Silent {
        fn name(&self) -> &'static str {
            "silent"
        }
        async fn publish(&self, _: String) -> Result<(), String> {
            Ok(())
        }
        fn subscribe(&self) -> BoxStream<'static, Link> {
            Box::pin(futures::stream::pending())
        }
    }
    cluster.transport.set(Arc::new(Silent)).ok();
    assert!(!cluster.trusted(), "not connected");
    // Connected long enough ago, and its own hello just came back.
    cluster.up_since.store(0, Ordering::SeqCst);
    let now = WARMUP.as_millis() as u64 + 10;
    cluster.heard_hello("n1", now, None);
    assert!(cluster.fresh_until.load(Ordering::SeqCst) == now + FRESH.as_millis() as u64);
    cluster.heard_hello("n2", now, None);
    assert_eq!(cluster.live_peers().len(), 1);
    cluster.link_down();
    assert!(!cluster.trusted(), "link lost");
}

#[test]
fn a_forwarded_request_ends_at_the_first_real_answer_or_when_everyone_said_unknown() {
    let cluster = Cluster::new("n1".into());
    let (done, mut answered) = oneshot::channel();
    cluster.state.lock().replies.insert(
        1,
        ReplyWait { pending: ["n2".to_owned(), "n3".to_owned()].into(), done: Some(done) },
    );
    cluster.answered("n2", 1, Outcome::Unknown);
    assert!(answered.try_recv().is_err(), "n3 has not answered");
    cluster.answered("n3", 1, Outcome::Unknown);
    assert_eq!(answered.try_recv().ok(), Some(Outcome::Unknown));

    let (done, mut answered) = oneshot::channel();
    cluster.state.lock().replies.insert(
        2,
        ReplyWait { pending: ["n2".to_owned(), "n3".to_owned()].into(), done: Some(done) },
    );
    cluster.answered("n3", 2, Outcome::Done);
    assert_eq!(answered.try_recv().ok(), Some(Outcome::Done));
}

#[test]
fn a_hello_carries_the_senders_figures_to_the_cluster_view() {
    let cluster = Cluster::new("n1".into());
    let info = crate::nodes::NodeInfo {
        address: Some("127.0.0.1:8091".into()),
        version: "0.1.0".into(),
        started_at: "2026-12-07 20:00:00.000Z".into(),
        stats: sb_observe::node::Window {
            requests_per_second: 12.5,
            p99_ms: Some(4.2),
            in_flight: 3,
            cache_hit_rate: None,
            realtime_connections: 7,
        },
    };
    let wire = cluster.encode(Body::Hello { sent: 9, info: Some(info.clone()) });
    let back: Envelope = serde_json::from_str(&wire).unwrap();
    let Body::Hello { sent: 9, info: Some(got) } = back.body else { panic!("{wire}") };
    assert_eq!(got, info);
    // The gateway's hellos carry nothing, and older nodes' neither.
    let bare: Envelope = serde_json::from_str(r#"{"from":"gw","t":"hello","sent":1}"#).unwrap();
    assert!(matches!(bare.body, Body::Hello { info: None, .. }));

    cluster.heard_hello("n2", 9, Some(info.clone()));
    cluster.heard_hello("gw", 1, None);
    let reports = cluster.peer_reports();
    assert_eq!(reports.len(), 2);
    let n2 = reports.iter().find(|r| r.node == "n2").unwrap();
    assert!(n2.live && !n2.last_seen.is_empty());
    assert_eq!(n2.info.as_ref(), Some(&info));
    assert!(reports.iter().any(|r| r.node == "gw" && r.info.is_none()));
}
