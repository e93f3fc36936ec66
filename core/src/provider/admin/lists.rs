//! The admin API's lists, page by page: `GET /admin/realms`, `GET /admin/realms/{R}/clients`
//! and `GET /admin/realms/{R}/users` (what the admin console shows). Each answers
//! `{"result": [...], "resultCount": n, "next_cursor": name | null}`: at most `limit` entries
//! (default [`DEFAULT_LIMIT`], at most [`MAX_LIMIT`]) in name order, after the name `cursor`
//! when given (the `next_cursor` of the page before).

use alloc::{format, string::String, vec::Vec};

use serde_json::{Value, json};

use super::super::request::{Fail, Result};
use crate::host::Host;
use crate::http::{Request, Response};
use crate::records::{self, Client, Realm, User};
use crate::{keys, store::Page};

/// Entries a page holds unless `limit` says otherwise.
pub(super) const DEFAULT_LIMIT: usize = 100;
/// Most entries one page holds: every entry is one read of the store.
pub(super) const MAX_LIMIT: usize = 200;

/// `GET /admin/realms`: the realms (not those being deleted), as `GET /admin/realms/{R}`
/// shows each (`view`).
pub(super) async fn realms<H: Host>(
    req: &Request,
    host: &H,
    view: fn(&Realm) -> Value,
) -> Result<Response> {
    let prefix = keys::realm("");
    let (names, next) = names(req, host, &prefix).await?;
    let mut out = Vec::new();
    for name in &names {
        if let Some(r) = records::load::<Realm, _>(host, &keys::realm(name)).await?
            && !r.deleting
        {
            out.push(view(&r));
        }
    }
    Ok(answer(out, next))
}

/// `GET /admin/realms/{R}/clients`: the realm's clients, as `GET .../clients/{id}` shows each,
/// (`view`), with whether the client is first party (asked no consent).
pub(super) async fn clients<H: Host>(
    req: &Request,
    host: &H,
    realm: &Realm,
    view: fn(&Client) -> Value,
) -> Result<Response> {
    let (ids, next) = names(req, host, &keys::client(&realm.name, "")).await?;
    let mut out = Vec::new();
    for id in &ids {
        if let Some(c) = records::load::<Client, _>(host, &keys::client(&realm.name, id)).await? {
            let mut v = view(&c);
            if let Value::Object(m) = &mut v {
                m.insert(String::from("first_party"), Value::Bool(c.first_party));
            }
            out.push(v);
        }
    }
    Ok(answer(out, next))
}

/// `GET /admin/realms/{R}/users`: the realm's users, as `GET .../users/{name}` shows each (no
/// password hash: `view`).
pub(super) async fn users<H: Host>(
    req: &Request,
    host: &H,
    realm: &Realm,
    view: fn(&User) -> Value,
) -> Result<Response> {
    let (names, next) = names(req, host, &keys::user(&realm.name, "")).await?;
    let mut out = Vec::new();
    for name in &names {
        if let Some(u) = records::load::<User, _>(host, &keys::user(&realm.name, name)).await? {
            out.push(view(&u));
        }
    }
    Ok(answer(out, next))
}

fn answer(out: Vec<Value>, next: Option<String>) -> Response {
    Response::json(
        200,
        &json!({ "result": out, "resultCount": out.len(), "next_cursor": next }),
    )
}

/// The names (keys less `prefix`) of the page the query asks for, and the cursor of the next
/// page when there is one.
async fn names<H: Host>(
    req: &Request,
    host: &H,
    prefix: &str,
) -> Result<(Vec<String>, Option<String>)> {
    let q = req.query_params();
    let limit = match q.one("limit").map_err(Fail::bad_request)? {
        None => DEFAULT_LIMIT,
        Some(l) => l
            .parse::<usize>()
            .ok()
            .filter(|l| (1..=MAX_LIMIT).contains(l))
            .ok_or_else(|| Fail::bad_request(format!("limit must be 1 to {MAX_LIMIT}")))?,
    };
    let after = q.one("cursor").map_err(Fail::bad_request)?;
    if after.is_some_and(|c| c.len() > 256) {
        return Err(Fail::bad_request("cursor is not one this API gave"));
    }
    let start = format!("{prefix}{}", after.unwrap_or(""));
    let mut out: Vec<String> = Vec::new();
    let mut cursor: Option<String> = None;
    // One more than the page, to know whether there is a next one.
    while out.len() <= limit {
        let page = host
            .list(
                prefix,
                Page::after(cursor.as_deref(), 100).starting_at(&start),
            )
            .await?;
        out.extend(
            page.keys
                .iter()
                .filter(|k| if after.is_some() { **k > start } else { true })
                .map(|k| String::from(&k[prefix.len()..])),
        );
        match page.cursor {
            Some(c) if !page.keys.is_empty() => cursor = Some(c),
            _ => break,
        }
    }
    let next = if out.len() > limit {
        out.truncate(limit);
        out.last().cloned()
    } else {
        None
    };
    Ok((out, next))
}
