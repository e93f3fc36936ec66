//! Storage keys: every key the provider reads or writes is built here, so what a realm owns
//! can be found by prefix (DESIGN.md "Storage": one JSON document per key).

use alloc::{format, string::String};

/// `realm/{R}`
pub fn realm(r: &str) -> String {
    format!("realm/{r}")
}
/// `key/{R}/{kid}`: a sealed private signing key.
pub fn signing_key(r: &str, kid: &str) -> String {
    format!("key/{r}/{kid}")
}
/// `client/{R}/{id}`
pub fn client(r: &str, id: &str) -> String {
    format!("client/{r}/{id}")
}
/// `user/{R}/{name}`
pub fn user(r: &str, name: &str) -> String {
    format!("user/{r}/{name}")
}
/// `session/{R}/{id}`
pub fn session(r: &str, id: &str) -> String {
    format!("session/{r}/{id}")
}
/// `usess/{R}/{user}/{id}`: index of a user's sessions.
pub fn user_session(r: &str, user: &str, id: &str) -> String {
    format!("usess/{r}/{user}/{id}")
}
/// `code/{R}/{hash}`: an authorization code, by the hash of its value.
pub fn code(r: &str, hash: &str) -> String {
    format!("code/{r}/{hash}")
}
/// `grant/{R}/{sub}/{client}`: what a user consented to share with a client.
pub fn grant(r: &str, sub: &str, client: &str) -> String {
    format!("grant/{r}/{sub}/{client}")
}
/// `grant/{R}/{sub}/`: every grant of a user.
pub fn grants_of(r: &str, sub: &str) -> String {
    format!("grant/{r}/{sub}/")
}
/// `session/{R}/`: every session of a realm.
pub fn sessions_of(r: &str) -> String {
    format!("session/{r}/")
}
/// `usess/{R}/{sub}/`: the index of one user's sessions.
pub fn user_sessions(r: &str, sub: &str) -> String {
    format!("usess/{r}/{sub}/")
}
/// `sid/{R}/{sid}`: the session behind a client's `sid` (for access tokens).
pub fn sid(r: &str, sid: &str) -> String {
    format!("sid/{r}/{sid}")
}
/// `revoked/{R}/{jti}`: an access token revoked before its expiry.
pub fn revoked(r: &str, jti: &str) -> String {
    format!("revoked/{r}/{jti}")
}
/// `rt/{R}/{hash}`: a refresh token, by the hash of its value.
pub fn refresh_token(r: &str, hash: &str) -> String {
    format!("rt/{r}/{hash}")
}
/// `rtf/{R}/{sub}/{client}/{family}`: a family of refresh tokens.
pub fn refresh_family(r: &str, sub: &str, client: &str, family: &str) -> String {
    format!("rtf/{r}/{sub}/{client}/{family}")
}
/// `rtf/{R}/{sub}/`: every refresh token family of a user; with `client`, of that client only.
pub fn refresh_families_of(r: &str, sub: &str, client: Option<&str>) -> String {
    match client {
        Some(c) => format!("rtf/{r}/{sub}/{c}/"),
        None => format!("rtf/{r}/{sub}/"),
    }
}
/// `throttle/{R}/{kind}/{id}`: consecutive failures of one account or source.
pub fn throttle(r: &str, kind: &str, id: &str) -> String {
    format!("throttle/{r}/{kind}/{id}")
}
/// The prefixes whose data must be strongly consistent: everything whose staleness would
/// lose a logout or let something be used twice — sessions and their user and `sid` indexes,
/// codes, refresh tokens and revocations, the delivery ledger (the logout page waits on it) and
/// the demo RP's sign-ins. Each is
/// `{prefix}{R}/...`: a host may keep them per realm (the worker: in the realm's Durable
/// Object), and the rest where reads are cheap.
pub const STRONG: [&str; 9] = [
    "session/", "usess/", "code/", "sid/", "rt/", "rtf/", "revoked/", LEDGER, DEMO_RP,
];

/// `ledger/{R}/...`: the delivery ledger ([`crate::logout::ledger`]).
pub const LEDGER: &str = "ledger/";
/// `ledger/{R}/{id}`: one delivery's record and attempts.
pub fn ledger(r: &str, id: &str) -> String {
    format!("{LEDGER}{r}/{id}")
}
/// `ledger/{R}/`: a realm's delivery records, newest first.
pub fn ledger_of(r: &str) -> String {
    format!("{LEDGER}{r}/")
}

/// `demorp/{R}/...`: the records of the demo relying party (`/demo`) of realm R.
pub const DEMO_RP: &str = "demorp/";

/// Whether `key` must be strongly consistent ([`STRONG`]); its realm when so.
pub fn strong_realm(key: &str) -> Option<&str> {
    let rest = STRONG.iter().find_map(|p| key.strip_prefix(p))?;
    rest.split('/').next().filter(|r| !r.is_empty())
}

/// Every prefix under which a realm's own data lives (its audit and dead letters included);
/// deleting a realm removes them all. The expiry index and the outbox are shared by all realms:
/// their entries name the realm and are dropped when it is gone.
pub fn realm_prefixes(r: &str) -> [String; 16] {
    [
        format!("client/{r}/"),
        format!("user/{r}/"),
        format!("key/{r}/"),
        sessions_of(r),
        format!("usess/{r}/"),
        format!("code/{r}/"),
        format!("grant/{r}/"),
        format!("sid/{r}/"),
        format!("revoked/{r}/"),
        format!("rt/{r}/"),
        format!("rtf/{r}/"),
        format!("{DEMO_RP}{r}/"),
        format!("throttle/{r}/"),
        audit_of(r),
        dead_of(r),
        ledger_of(r),
    ]
}
/// `audit/{R}/{ms}/{id}`: an audit event; keys of a realm sort by time.
pub fn audit(r: &str, ms: u64, id: &str) -> String {
    format!("audit/{r}/{ms:015}/{id}")
}
/// `audit/{R}/`: every audit event of a realm.
pub fn audit_of(r: &str) -> String {
    format!("audit/{r}/")
}
/// `audit/{R}/{ms}`: where the events at or after `ms` begin.
pub fn audit_since(r: &str, ms: u64) -> String {
    format!("audit/{r}/{ms:015}")
}
/// `outbox/`: pending deliveries of all realms, in the order they are due.
pub const OUTBOX: &str = "outbox/";
/// `outbox/{due_ms}/{id}`: a pending delivery, its due time (ms since the epoch) padded to
/// 20 digits so that the store's lexicographic order is the order of due times.
pub fn outbox(due_ms: u64, id: &str) -> String {
    format!("{OUTBOX}{due_ms:020}/{id}")
}
/// The due time and id in an [`outbox`] key; `None` for any other key under [`OUTBOX`]
/// (such as `outbox/{id}`, which earlier versions wrote).
pub fn parse_outbox(key: &str) -> Option<(u64, &str)> {
    let (due, id) = key.strip_prefix(OUTBOX)?.split_once('/')?;
    if due.len() != 20 || !due.bytes().all(|b| b.is_ascii_digit()) || id.is_empty() {
        return None;
    }
    Some((due.parse().ok()?, id))
}
/// `dead/{R}/{id}`: a dead-lettered delivery, visible in the admin API.
pub fn dead(r: &str, id: &str) -> String {
    format!("dead/{r}/{id}")
}
/// `dead/{R}/`: every dead-lettered delivery of a realm.
pub fn dead_of(r: &str) -> String {
    format!("dead/{r}/")
}
/// `exp/`: the expiry index of every realm.
pub const EXPIRY: &str = "exp/";
/// `exp/{minute}/{R}/{id}`: a session indexed under the minute of its deadline.
pub fn expiry(minute: u64, r: &str, id: &str) -> String {
    format!("exp/{minute:012}/{r}/{id}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec::Vec;

    #[test]
    fn every_key_a_realm_owns_lies_under_one_of_its_prefixes() {
        let prefixes = realm_prefixes("r");
        let owned = [
            client("r", "c"),
            user("r", "u"),
            signing_key("r", "k"),
            session("r", "s"),
            user_session("r", "u", "s"),
            user_sessions("r", "u"),
            sessions_of("r"),
            code("r", "h"),
            grant("r", "u", "c"),
            grants_of("r", "u"),
            sid("r", "x"),
            revoked("r", "j"),
            refresh_token("r", "h"),
            refresh_family("r", "u", "c", "f"),
            refresh_families_of("r", "u", None),
            refresh_families_of("r", "u", Some("c")),
            format!("{DEMO_RP}r/visit/v"),
            throttle("r", "account", "u"),
            audit("r", 1, "e"),
            audit_of("r"),
            audit_since("r", 1),
            dead_of("r"),
            dead("r", "d"),
        ];
        for key in &owned {
            let under: Vec<_> = prefixes
                .iter()
                .filter(|p| key.starts_with(p.as_str()))
                .collect();
            assert_eq!(under.len(), 1, "{key} lies under {under:?}");
        }
        // A realm whose name extends another's owns none of its keys.
        for key in &owned {
            assert!(
                realm_prefixes("r2")
                    .iter()
                    .all(|p| !key.starts_with(p.as_str())),
                "{key}"
            );
        }
        // The strongly consistent ones name their realm.
        for key in &owned {
            let strong = STRONG.iter().any(|p| key.starts_with(p));
            assert_eq!(strong_realm(key).is_some(), strong, "{key}");
            if strong {
                assert_eq!(strong_realm(key), Some("r"), "{key}");
            }
        }
        assert_eq!(strong_realm("realm/r"), None);
        assert_eq!(strong_realm("session/"), None);
        // The realm record itself is removed last, by its own key.
        assert!(prefixes.iter().all(|p| !realm("r").starts_with(p.as_str())));
    }
}
