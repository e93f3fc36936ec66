//! The realm's Durable Object class (`RealmState`, binding `REALM_STATE`): its `fetch` runs one
//! store operation ([`Objects::run`]); its alarm hands each due session to core's
//! [`provider::expire`] with a host whose strong store is this object's own storage, purges
//! expired entries and sets the alarm to the next wake.

use oidc_edge_core::host::{Clock as _, StoreError};
use oidc_edge_core::provider;
use worker::Env;

use super::host::WorkerHost;
use super::objects::Objects;

pub use class::RealmState;

/// The alarm: each due session to core, expired entries purged, the next wake set.
async fn alarm(here: Objects, env: &Env) -> Result<(), StoreError> {
    let Some(realm) = here.realm().await? else {
        return Ok(());
    };
    let host = WorkerHost::inside(env, here.clone(), &realm)
        .await
        .map_err(|e| StoreError(e.to_string()))?;
    let now_ms = crate::web::now_ms();
    for (key, id) in here.due_wakes(now_ms).await? {
        // Forgotten first: a session not due yet asks again (perhaps for the same time).
        here.forget_wake(&key).await?;
        if let Err(e) = provider::expire(&host, &realm, &id).await {
            // Kept for the retry the failed alarm gets.
            here.keep_wake(&key).await?;
            return Err(StoreError(e.to_string()));
        }
    }
    here.purge_expired(host.now().secs()).await?;
    if let Some(at) = here.next_wake().await? {
        // Never sooner than a second from now: a wake that is due by the wall clock but not
        // by core's (a test's clock standing still) must not spin.
        let at_ms = at.saturating_mul(1000).max(now_ms.saturating_add(1000));
        here.set_alarm(i64::try_from(at_ms).unwrap_or(i64::MAX))
            .await?;
    }
    Ok(())
}

/// The class (what `#[durable_object]` generates for JavaScript has no docs of its own).
#[allow(missing_docs, missing_debug_implementations)]
mod class {
    use worker::{DurableObject, Env, Request, Response, State, durable_object};

    use super::super::objects::{Call, Objects};

    /// The realm's Durable Object.
    #[durable_object(alarm)]
    pub struct RealmState {
        state: State,
        env: Env,
    }

    impl DurableObject for RealmState {
        fn new(state: State, env: Env) -> Self {
            Self { state, env }
        }

        async fn fetch(&self, mut req: Request) -> worker::Result<Response> {
            let call: Call = match req.json().await {
                Ok(c) => c,
                Err(e) => return Response::error(format!("realm state: {e}"), 400),
            };
            match Objects::new(self.state.storage()).run(call).await {
                Ok(answer) => Response::from_json(&answer),
                Err(e) => Response::error(e.0, 500),
            }
        }

        async fn alarm(&self) -> worker::Result<Response> {
            match super::alarm(Objects::new(self.state.storage()), &self.env).await {
                Ok(()) => Response::ok(""),
                // Retried by the runtime (up to six times), the wakes still in place.
                Err(e) => Err(worker::Error::RustError(e.0)),
            }
        }
    }
}
