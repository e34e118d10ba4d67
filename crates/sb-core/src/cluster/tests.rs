use super::*;

#[test]
fn messages_have_a_stable_wire_form() {
    let cluster = Cluster::new("n1".into());
    let hello = cluster.encode(Body::Hello { sent: 5 });
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
    cluster.heard_hello("n1", now);
    assert!(cluster.fresh_until.load(Ordering::SeqCst) == now + FRESH.as_millis() as u64);
    cluster.heard_hello("n2", now);
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
