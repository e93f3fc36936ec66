//! Back-channel logout: logout tokens, the end of a session (on request or by expiry) and its
//! fan-out plan, the delivery state machine and the outbox it runs over.

pub mod cause;
pub mod check;
pub mod delivery;
pub mod end;
pub mod expiry;
pub mod ledger;
pub mod logout_token;
pub mod mint_request;
pub mod outbox;
pub mod record;

pub use logout_token::{
    LogoutCause, LogoutTokenError, LogoutTokenKeys, LogoutTokenParams, LogoutTokenValidation,
};
