//! Back-channel logout: the logout token and, later, the fan-out plan and delivery outcomes.

pub mod token;

pub use token::{
    LogoutCause, LogoutTokenError, LogoutTokenKeys, LogoutTokenParams, LogoutTokenValidation,
};
