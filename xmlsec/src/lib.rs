//! XML security for the e-government gateway's SyncChannel: canonical XML ([`c14n`]), XML
//! signatures ([`dsig`]: signers, references, verification), WS-Security message signatures
//! ([`wsse`]) and the enveloped signature a registry may put inside `<data>` ([`enveloped`]).
//! Certificate paths are the trust crate's; this crate checks the XML and the arithmetic.

pub mod c14n;
pub mod dsig;
pub mod enveloped;
pub mod error;
pub mod wsse;

pub use dsig::{KeySigner, XmlSigner};
pub use error::XmlSecError;
