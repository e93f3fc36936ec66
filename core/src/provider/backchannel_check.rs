//! `POST /admin/realms/{R}/clients/{id}/backchannel-check`: the RP checker
//! ([`crate::logout::check`]) run against a registered client's `backchannel_logout_uri`,
//! with the realm's key and the client's algorithms, as its real logout tokens are made.

use alloc::{format, string::String};

use serde_json::{Value, json};

use super::request::{Fail, Result, valid_client_id};
use crate::audit::{self, AuditEvent};
use crate::host::Host;
use crate::http::Response;
use crate::keys;
use crate::logout::LogoutTokenKeys;
use crate::logout::check::{self, CheckParams};
use crate::oauth::ErrorCode;
use crate::realm;
use crate::records::{self, Client};

/// The audit event of one check.
pub const BACK_CHANNEL_LOGOUT_CHECK: &str = "AM-BACK-CHANNEL-LOGOUT-CHECK";

fn not_found(what: &str) -> Fail {
    Fail::new(ErrorCode::NotFound, format!("no such {what}"))
}

/// Run the check against client `id` of realm `r` and answer the report, with `client_id` and
/// `uri`.
pub(super) async fn check<H: Host>(host: &H, r: &str, id: &str) -> Result<Response> {
    if !realm::valid_name(r) {
        return Err(not_found("realm"));
    }
    let realm = realm::load(host, r)
        .await?
        .filter(|x| !x.deleting)
        .ok_or_else(|| not_found("realm"))?;
    if !valid_client_id(id) {
        return Err(not_found("client"));
    }
    let client: Client = records::load(host, &keys::client(r, id))
        .await?
        .ok_or_else(|| not_found("client"))?;
    let Some(uri) = client.metadata.backchannel_logout_uri.as_deref() else {
        return Err(Fail::bad_request(
            "the client has no backchannel_logout_uri to check",
        ));
    };
    let alg = client.metadata.signing_alg();
    let key = realm::signing_key(host, &realm, alg).await?;
    let encryption = client.metadata.encryption();
    let issuer = realm::issuer(host, r);
    let params = CheckParams {
        issuer: &issuer,
        audience: id,
        keys: LogoutTokenKeys {
            signing_key: &key,
            alg,
            encrypt_to: encryption.as_ref().map(|(k, a, e)| (k, *a, *e)),
        },
        now: host.now(),
    };
    let (report, minted) = check::run(host, &params, uri, realm.config.allow_private_uris).await?;
    let event = AuditEvent {
        id: String::new(),
        timestamp: String::new(),
        event_name: String::from(BACK_CHANNEL_LOGOUT_CHECK),
        transaction_id: minted.tracking_id.clone(),
        user_id: audit::user_id(r, "administrator"),
        tracking_ids: alloc::vec![minted.tracking_id],
        realm: String::new(),
        component: String::from("OAuth"),
        operation: format!(
            "Checked the back-channel logout endpoint {uri} of client {id}: {} of {} cases passed.",
            report.passed, report.total
        ),
    };
    audit::record(host, r, event).await?;
    let mut body = serde_json::to_value(&report).unwrap_or_else(|_| json!({}));
    if let Value::Object(m) = &mut body {
        m.insert(String::from("client_id"), Value::String(String::from(id)));
        m.insert(String::from("uri"), Value::String(String::from(uri)));
    }
    Ok(Response::json(200, &body))
}
