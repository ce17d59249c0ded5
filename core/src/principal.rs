//! Who a call is made by or is about: an organisation by its BIN, a person by their IIN, or
//! nobody known. Stored and compared in the key form `bin:<BIN>` / `iin:<IIN>` / `anonymous` /
//! `gateway`.

use std::fmt;

use crate::identifiers::{Bin, IdentifierError, Iin};

/// An organisation, a person, or nobody identified.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Principal {
    /// An organisation (a client's TLS certificate names it by `OU=BIN…`).
    Organisation(Bin),
    /// A person (a signing certificate names them by `serialNumber=IIN…`).
    Person(Iin),
    /// Nobody identified.
    Anonymous,
    /// The gateway itself (its workers' calls).
    Gateway,
}

/// Why a principal key does not parse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PrincipalError {
    /// Neither `bin:` nor `iin:`.
    #[error("a principal is `bin:<BIN>` or `iin:<IIN>`")]
    Form,
    /// The number after the prefix is not valid.
    #[error("{0}")]
    Number(#[from] IdentifierError),
}

impl Principal {
    /// Parses the key form (`anonymous` and `gateway` included).
    pub fn parse(s: &str) -> Result<Self, PrincipalError> {
        match s {
            "anonymous" => return Ok(Self::Anonymous),
            "gateway" => return Ok(Self::Gateway),
            _ => {}
        }
        if let Some(b) = s.strip_prefix("bin:") {
            return Ok(Self::Organisation(Bin::parse(b)?));
        }
        if let Some(i) = s.strip_prefix("iin:") {
            return Ok(Self::Person(Iin::parse(i)?));
        }
        Err(PrincipalError::Form)
    }

    /// The key form with the number masked, for logs and messages.
    pub fn masked(&self) -> String {
        match self {
            Self::Organisation(b) => format!("bin:{}", b.masked()),
            Self::Person(i) => format!("iin:{}", i.masked()),
            Self::Anonymous | Self::Gateway => self.to_string(),
        }
    }

    /// The organisation's BIN, if it is one.
    pub fn bin(&self) -> Option<&Bin> {
        match self {
            Self::Organisation(b) => Some(b),
            _ => None,
        }
    }
}

impl fmt::Display for Principal {
    /// The key form, full numbers: for storage and comparison, never for logs.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Organisation(b) => write!(f, "bin:{}", b.as_str()),
            Self::Person(i) => write!(f, "iin:{}", i.as_str()),
            Self::Anonymous => f.write_str("anonymous"),
            Self::Gateway => f.write_str("gateway"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_form_round_trips_and_masks() {
        let bin = "990140004565";
        let p = Principal::parse(&format!("bin:{bin}")).expect("valid");
        assert_eq!(
            p,
            Principal::Organisation(Bin::parse(bin).expect("valid BIN"))
        );
        assert_eq!(p.to_string(), format!("bin:{bin}"));
        assert!(!p.masked().contains(bin));
        assert_eq!(Principal::parse("anonymous"), Ok(Principal::Anonymous));
        assert_eq!(Principal::Gateway.to_string(), "gateway");
        assert_eq!(Principal::parse("org:1"), Err(PrincipalError::Form));
        assert!(matches!(
            Principal::parse("iin:123"),
            Err(PrincipalError::Number(_))
        ));
    }
}
