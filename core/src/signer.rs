//! Who must sign a method's requests (`[signatures]` in the configuration).

use serde::Deserialize;

/// Who must have signed a method's requests.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SignerRule {
    /// No signature required; one that is sent is still verified in full.
    #[default]
    None,
    /// The requester the document names.
    Requester,
    /// Every party the document names (a contract).
    Parties,
}
