//! What the generic channel refuses on its own, and how that maps to the gateway's error (and so
//! to a gRPC status, keeping the messages and reasons clients already see).

use crate::error::{GatewayError, SignatureFailure};

/// A channel call the hub refuses or cannot carry.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ChannelError {
    /// No route has this service id (never routed, or removed by a reload).
    #[error("no service is routed as \"{0}\" on the generic channel ([channel.routes])")]
    NotRouted(String),
    /// The caller is not an identified organisation.
    #[error("the generic channel serves identified organisations only")]
    Unidentified,
    /// The route does not list the calling client.
    #[error("client {client} is not allowed to call the channel service \"{service}\"")]
    NotListed {
        /// The client, masked (`BIN 9901******65`).
        client: String,
        /// The service id.
        service: String,
    },
    /// The route requires a signed request and none was verified.
    #[error("the channel service \"{0}\" requires a request document signed by its requester")]
    Unsigned(String),
    /// The route's configuration cannot be built into a client.
    #[error("channel route \"{service}\": {detail}")]
    Unusable {
        /// The service id.
        service: String,
        /// What is wrong with it.
        detail: String,
    },
    /// This gateway runs no channel hub.
    #[error("this gateway has no generic channel")]
    Off,
    /// A defect in the hub (a route answered with another record, a poisoned lock).
    #[error("{0}")]
    Defect(&'static str),
}

impl From<ChannelError> for GatewayError {
    fn from(e: ChannelError) -> Self {
        use ChannelError as C;
        let message = e.to_string();
        match e {
            C::NotRouted(_) => Self::NotFound(message),
            C::Unidentified => Self::Unauthenticated(message),
            C::NotListed { client, service } => Self::PermissionDenied {
                client,
                method: format!("the channel service \"{service}\""),
            },
            C::Unsigned(_) => Self::Signature {
                failure: SignatureFailure::Missing,
                detail: message,
            },
            C::Unusable { .. } => Self::Config { detail: message },
            C::Off => Self::FailedPrecondition(message),
            C::Defect(_) => Self::Server(message),
        }
    }
}
