//! The outbox runner over an in-memory host: what a claim hands out and reads, when it says to
//! look again, and what survives a process that dies mid-delivery.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use oidc_edge_core::host::{Clock as _, PostOutcome, Store as _};
use oidc_edge_core::keys;
use oidc_edge_core::logout::LogoutCause;
use oidc_edge_core::logout::delivery::{Delivery, DeliveryState};
use oidc_edge_core::logout::outbox::{self, Claimed, Runner};
use oidc_edge_core::records;
use oidc_edge_tests::memory::*;
use serde_json::json;

/// A pending delivery for client `client` of realm `realm`, due at `due_ms`.
fn delivery(i: usize, realm: &str, client: &str, due_ms: u64) -> Delivery {
    Delivery {
        id: format!("d{i:03}"),
        realm: realm.into(),
        session_id: "s1".into(),
        client_id: client.into(),
        uri: format!("https://rp{i}.example/bc"),
        user: "alice".into(),
        sub: "sub-alice".into(),
        sid: None,
        cause: LogoutCause::ClientLogout,
        tracking_id: format!("t-{i}"),
        attempts: 0,
        next_attempt_ms: due_ms,
        state: DeliveryState::Pending,
        last_outcome: None,
    }
}

/// A delivery whose realm is gone: its attempt concludes at once (rejected, removed).
fn gone(i: usize, due_ms: u64) -> Delivery {
    delivery(i, "gone", "rp", due_ms)
}

fn put(h: &TestHost, ds: &[Delivery]) {
    block_on(outbox::put(h, ds)).unwrap();
}

fn claim(r: &Runner, h: &TestHost, concurrency: usize) -> Claimed {
    let policy = oidc_edge_core::logout::delivery::DeliveryPolicy {
        concurrency,
        ..h.config.delivery
    };
    block_on(r.claim(h, &policy, h.now_ms())).unwrap()
}

fn run(r: &Runner, h: &TestHost, d: Delivery) -> Option<u64> {
    block_on(r.run(h, d)).unwrap()
}

fn outbox_keys(h: &TestHost) -> Vec<String> {
    block_on(h.list(keys::OUTBOX, oidc_edge_core::host::Page::first(1000)))
        .unwrap()
        .keys
}

#[test]
fn a_fan_out_of_n_loads_each_record_once() {
    for concurrency in [128, 10] {
        let h = TestHost::new();
        let now = h.now_ms();
        put(&h, &(0..100).map(|i| gone(i, now)).collect::<Vec<_>>());
        h.outbox_reads.set((0, 0, 0));
        let r = Runner::new();
        let mut in_flight = claim(&r, &h, concurrency).deliveries;
        let mut claims = 1;
        // As the hosts do: claim again each time an attempt finishes.
        while let Some(d) = in_flight.pop() {
            run(&r, &h, d);
            in_flight.extend(claim(&r, &h, concurrency).deliveries);
            claims += 1;
        }
        assert_eq!(claims, 101);
        let (loaded, lists, listed) = h.outbox_reads.get();
        assert!(outbox_keys(&h).is_empty());
        eprintln!(
            "N=100, concurrency {concurrency}: {loaded} records loaded, {lists} lists of {listed} keys"
        );
        assert_eq!(loaded, 100, "each record loaded once");
        // One list per claim, and one more for the first claim's look for records of the
        // earlier key form; each claim's list has at most what is in flight, the room and one.
        assert_eq!(lists, claims + 1);
        assert!(
            listed <= 100 + claims * (concurrency + 1),
            "{listed} keys listed"
        );
    }
}

#[test]
fn a_claim_takes_what_is_due_and_says_when_to_look_again() {
    let h = TestHost::new();
    let now = h.now_ms();
    let ds = [gone(1, now + 500), gone(2, now), gone(3, now + 1500)];
    put(&h, &ds);
    let r = Runner::new();
    let c = claim(&r, &h, 8);
    assert_eq!(c.deliveries, [ds[1].clone()]);
    assert_eq!(c.next_wake_ms, Some(now + 500));
    // In flight: not handed out twice.
    assert_eq!(
        claim(&r, &h, 8),
        Claimed {
            deliveries: vec![],
            next_wake_ms: Some(now + 500)
        }
    );
    h.now.set(h.now.get() + 1);
    let c = claim(&r, &h, 8);
    assert_eq!(c.deliveries, [ds[0].clone()]);
    assert_eq!(c.next_wake_ms, Some(now + 1500));
    assert_eq!(run(&r, &h, ds[0].clone()), None);
    assert_eq!(run(&r, &h, ds[1].clone()), None);
    h.now.set(h.now.get() + 1);
    let c = claim(&r, &h, 8);
    assert_eq!(c.deliveries, [ds[2].clone()]);
    assert_eq!(c.next_wake_ms, None, "nothing else in the outbox");
}

#[test]
fn a_full_runner_waits_for_room_not_for_a_time() {
    let h = TestHost::new();
    let now = h.now_ms();
    let ds: Vec<Delivery> = (0..3).map(|i| gone(i, now)).collect();
    put(&h, &ds);
    let r = Runner::new();
    let c = claim(&r, &h, 2);
    assert_eq!(c.deliveries, ds[..2]);
    assert_eq!(
        c.next_wake_ms, None,
        "the third waits for an attempt to finish"
    );
    assert_eq!(r.in_flight(), 2);
    run(&r, &h, ds[0].clone());
    assert_eq!(claim(&r, &h, 2).deliveries, [ds[2].clone()]);
}

#[test]
fn an_attempt_is_audited_before_its_ledger_record_says_it_ended() {
    // Whoever sees the ledger say "delivered" or "rejected" (the console, `deliveries`, a test
    // waiting for an empty outbox) and then reads the audit log finds the attempt there.
    let h = TestHost::new();
    let now = h.now_ms();
    let d = gone(1, now);
    put(&h, std::slice::from_ref(&d));
    let r = Runner::new();
    assert_eq!(claim(&r, &h, 8).deliveries, std::slice::from_ref(&d));
    h.puts.borrow_mut().clear();
    assert_eq!(run(&r, &h, d.clone()), None);
    let puts = h.puts.borrow();
    let audit = puts
        .iter()
        .position(|k| k.starts_with(&keys::audit_of(&d.realm)));
    let ledger = puts
        .iter()
        .rposition(|k| *k == keys::ledger(&d.realm, &d.id));
    assert!(
        matches!((audit, ledger), (Some(a), Some(l)) if a < l),
        "audit event then ledger record: {puts:?}"
    );
}

#[test]
fn a_delivery_whose_process_died_mid_post_is_claimed_by_the_next() {
    let h = TestHost::new();
    let now = h.now_ms();
    put(&h, &[gone(1, now)]);
    let first = Runner::new();
    assert_eq!(claim(&first, &h, 8).deliveries.len(), 1);
    drop(first);
    let next = Runner::new();
    assert_eq!(claim(&next, &h, 8).deliveries, [gone(1, now)]);
}

#[test]
fn a_retry_moves_to_its_due_time_and_exhaustion_dead_letters() {
    let (h, _session) = setup();
    let rp = register(
        &h,
        json!({"redirect_uris": ["https://rp1.example/cb"], "backchannel_logout_uri": "https://rp1.example/bc"}),
    );
    h.answers.borrow_mut().insert(
        "https://rp1.example/bc".into(),
        vec![PostOutcome::Status(503); 3],
    );
    let d = Delivery {
        uri: "https://rp1.example/bc".into(),
        ..delivery(1, "r1", &rp.id, h.now_ms())
    };
    put(&h, std::slice::from_ref(&d));
    let r = Runner::new();
    let mut retries = Vec::new();
    for _ in 0..3 {
        let c = claim(&r, &h, 8);
        assert_eq!(c.deliveries.len(), 1);
        let d = c.deliveries.into_iter().next().unwrap();
        match run(&r, &h, d) {
            Some(t) => {
                assert_eq!(outbox_keys(&h), [keys::outbox(t, "d001")]);
                retries.push(t);
                h.now.set(t.div_ceil(1000));
            }
            None => break,
        }
    }
    assert_eq!(retries.len(), 2, "retry_max is 2");
    assert!(outbox_keys(&h).is_empty());
    let dead: Delivery = block_on(records::load(&h, &keys::dead("r1", "d001")))
        .unwrap()
        .unwrap();
    assert_eq!((dead.state, dead.attempts), (DeliveryState::Dead, 3));
    assert_eq!(h.posts.borrow().len(), 3);
}

#[test]
fn a_failed_attempt_is_held_back_for_the_base_backoff() {
    let h = TestHost::new();
    let now = h.now_ms();
    // A realm document that no longer decodes: the attempt fails on the host's side.
    block_on(h.put(&keys::realm("broken"), b"not json", None)).unwrap();
    let d = delivery(1, "broken", "rp", now);
    put(&h, std::slice::from_ref(&d));
    let r = Runner::new();
    assert_eq!(claim(&r, &h, 8).deliveries.len(), 1);
    assert!(block_on(r.run(&h, d)).is_err());
    assert_eq!(
        outbox_keys(&h),
        [keys::outbox(now, "d001")],
        "left as it was"
    );
    let c = claim(&r, &h, 8);
    assert!(c.deliveries.is_empty());
    assert_eq!(c.next_wake_ms, Some(now + 1000), "retry_base_ms later");
    h.now.set(h.now.get() + 1);
    assert_eq!(claim(&r, &h, 8).deliveries.len(), 1);
}

#[test]
fn records_of_the_earlier_form_are_moved_to_their_due_keys() {
    let h = TestHost::new();
    let now = h.now_ms();
    let old = gone(1, now - 5);
    block_on(records::save(&h, "outbox/d001", &old, None)).unwrap();
    put(&h, &[gone(2, now + 10)]);
    let r = Runner::new();
    let c = claim(&r, &h, 8);
    assert_eq!(c.deliveries, [old]);
    assert_eq!(c.next_wake_ms, Some(now + 10));
    assert_eq!(
        outbox_keys(&h),
        [
            keys::outbox(now - 5, "d001"),
            keys::outbox(now + 10, "d002")
        ]
    );
}
