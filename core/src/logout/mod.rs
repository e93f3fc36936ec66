//! Back-channel logout: logout tokens, the end of a session (on request or by expiry) and its
//! fan-out plan, and the delivery state machine.

pub mod delivery;
pub mod end;
pub mod expiry;
pub mod token;

pub use token::{
    LogoutCause, LogoutTokenError, LogoutTokenKeys, LogoutTokenParams, LogoutTokenValidation,
};
