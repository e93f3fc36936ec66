//! Why a session ended: the `cause` claim of a logout token, as ForgeRock AM sends it.

use alloc::string::String;
use core::fmt;
use core::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::error::{ClaimsError, Error};

/// Why a session ended, carried as the `cause` claim (as ForgeRock AM does).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum LogoutCause {
    /// The user logged out (sessions endpoint or RP-initiated logout).
    ClientLogout,
    /// An administrator terminated the session.
    SessionTermination,
    /// The session reached its maximum lifetime.
    SessionMaxTimeout,
    /// The session was idle for too long.
    SessionIdleTimeout,
}

impl LogoutCause {
    /// Every cause.
    pub const ALL: [Self; 4] = [
        Self::ClientLogout,
        Self::SessionTermination,
        Self::SessionMaxTimeout,
        Self::SessionIdleTimeout,
    ];

    /// The claim value.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::ClientLogout => "CLIENT_LOGOUT",
            Self::SessionTermination => "SESSION_TERMINATION",
            Self::SessionMaxTimeout => "SESSION_MAX_TIMEOUT",
            Self::SessionIdleTimeout => "SESSION_IDLE_TIMEOUT",
        }
    }
}

impl FromStr for LogoutCause {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self, Error> {
        Self::ALL
            .into_iter()
            .find(|c| c.as_str() == s)
            .ok_or(Error::Claims(ClaimsError::Invalid("cause")))
    }
}

impl fmt::Display for LogoutCause {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for LogoutCause {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for LogoutCause {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse()
            .map_err(|_| serde::de::Error::custom("unknown logout cause"))
    }
}
