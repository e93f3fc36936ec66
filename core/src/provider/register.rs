//! Dynamic client registration (RFC 7591) and its management protocol (RFC 7592).

use alloc::{format, string::String};

use serde_json::Value;

use super::admin::client_view;
use super::request::{Fail, Result, json_body};
use crate::client_metadata::{AuthMethod, ClientMetadata};
use crate::host::Host;
use crate::http::{Method, Request, Response};
use crate::keys;
use crate::oauth::ErrorCode;
use crate::records::{self, Client, Realm, Registration};
use crate::{opaque_token, realm};

fn metadata(body: &Value, realm: &Realm) -> Result<ClientMetadata> {
    ClientMetadata::from_json(
        body,
        &realm.config.id_token_signing_alg,
        realm.config.allow_private_uris,
    )
    .map_err(|e| Fail::OAuth(e.into()))
}

fn view_with_management<H: Host>(
    host: &H,
    realm: &Realm,
    client: &Client,
    secret: Option<&str>,
    rat: Option<&str>,
) -> Value {
    let mut v = client_view(client, secret);
    if let Value::Object(m) = &mut v {
        m.insert(
            String::from("registration_client_uri"),
            Value::String(format!(
                "{}/register/{}",
                realm::issuer(host, &realm.name),
                client.client_id
            )),
        );
        if let Some(t) = rat {
            m.insert(
                String::from("registration_access_token"),
                Value::String(String::from(t)),
            );
        }
    }
    v
}

/// `POST /realms/{R}/register`.
pub(super) async fn create<H: Host>(req: &Request, host: &H, realm: &Realm) -> Result<Response> {
    if realm.config.registration == Registration::Token {
        let ok = match (req.bearer(), &realm.registration_token_hash) {
            (Some(t), Some(h)) => opaque_token::matches_hash(t, h),
            _ => false,
        };
        if !ok {
            return Err(Fail::new(
                ErrorCode::InvalidToken,
                "registration in this realm needs a valid initial access token",
            ));
        }
    }
    let body = json_body(req)?;
    let metadata = metadata(&body, realm)?;
    let limit = realm.config.registrations_per_source_per_hour;
    if realm.config.registration == Registration::Open
        && limit > 0
        && let Some(remote) = req.remote.as_deref()
        && !super::throttle::allow_registration(host, &realm.name, remote, limit).await?
    {
        return Err(Fail::new(
            ErrorCode::TooManyRequests,
            format!("at most {limit} anonymous registrations per hour from one address"),
        ));
    }
    let client_id = crate::logout::logout_token::random_id(host)?;
    let secret = match metadata.token_endpoint_auth_method {
        AuthMethod::None => None,
        _ => Some(opaque_token::random_token(host)?),
    };
    let rat = opaque_token::random_token(host)?;
    let client = Client {
        metadata,
        client_id: client_id.clone(),
        secret_hash: secret.as_deref().map(opaque_token::hash),
        registration_token_hash: Some(opaque_token::hash(&rat)),
        issued_at: host.now().secs(),
        // Dynamically registered clients are never first-party: they always ask for consent.
        first_party: false,
    };
    records::save(host, &keys::client(&realm.name, &client_id), &client, None).await?;
    let view = view_with_management(host, realm, &client, secret.as_deref(), Some(&rat));
    Ok(Response::json(201, &view))
}

/// `GET/PUT/DELETE /realms/{R}/register/{client_id}` with the registration access token.
pub(super) async fn manage<H: Host>(
    req: &Request,
    host: &H,
    realm: &Realm,
    id: &str,
) -> Result<Response> {
    // RFC 7592 §2: an unknown client and a wrong token both answer 401, revealing nothing.
    let unauthorized = || {
        Fail::new(
            ErrorCode::InvalidToken,
            "the registration access token is not valid for this client",
        )
    };
    if !super::request::valid_client_id(id) {
        return Err(unauthorized());
    }
    let key = keys::client(&realm.name, id);
    let client: Client = records::load(host, &key).await?.ok_or_else(unauthorized)?;
    let token = req.bearer().ok_or_else(unauthorized)?;
    if !client
        .registration_token_hash
        .as_deref()
        .is_some_and(|h| opaque_token::matches_hash(token, h))
    {
        return Err(unauthorized());
    }
    match req.method {
        Method::Get => Ok(Response::json(
            200,
            &view_with_management(host, realm, &client, None, None),
        )),
        Method::Delete => {
            host.delete(&key).await?;
            Ok(Response::empty(204))
        }
        _ => {
            let body = json_body(req)?;
            if body
                .get("client_id")
                .and_then(Value::as_str)
                .is_some_and(|c| c != id)
            {
                return Err(Fail::bad_request("client_id does not match the URL"));
            }
            let metadata = metadata(&body, realm)?;
            let secret = match (metadata.token_endpoint_auth_method, &client.secret_hash) {
                (AuthMethod::None, _) => (None, None),
                (_, Some(h)) => (Some(h.clone()), None),
                (_, None) => {
                    let s = opaque_token::random_token(host)?;
                    (Some(opaque_token::hash(&s)), Some(s))
                }
            };
            let updated = Client {
                metadata,
                secret_hash: secret.0,
                ..client
            };
            records::save(host, &key, &updated, None).await?;
            Ok(Response::json(
                200,
                &view_with_management(host, realm, &updated, secret.1.as_deref(), None),
            ))
        }
    }
}
