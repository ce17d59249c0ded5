//! Signed request documents: the payload a signer signs names the method, the subject, the
//! requester and (for contracts) every party; the gateway checks that the signers are exactly the
//! people and organisations it names, as the configuration requires per method.

use kopir_core::identifiers::{Bin, Iin};
use serde::Deserialize;

use super::signature::VerifiedSignature;
use super::{Holder, Trust};
use crate::error::{SignatureFailure, TrustError};

/// A payload and its detached CMS signatures, as a request carries them.
#[derive(Debug, Clone, Default)]
pub struct SignedDocument {
    /// The exact bytes that were signed (a JSON request document).
    pub payload: Vec<u8>,
    /// One DER CMS SignedData per signer.
    pub signatures: Vec<Vec<u8>>,
}

pub use kopir_core::signer::SignerRule;

/// A person or organisation a document names.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PartyRef {
    /// The party's role ("pledgor", "pledgee", ...).
    #[serde(default)]
    pub role: Option<String>,
    /// A person, or the employee who signs for an organisation.
    #[serde(default)]
    pub iin: Option<String>,
    /// An organisation.
    #[serde(default)]
    pub bin: Option<String>,
}

/// The JSON request document a signer signs.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RequestDocument {
    /// Full gRPC method the document is for, e.g. `kopir.v1.IdentityService/GetPerson`.
    pub method: String,
    /// The IIN or BIN the request is about.
    #[serde(default)]
    pub subject: Option<String>,
    /// Who asks.
    #[serde(default)]
    pub requester: Option<PartyRef>,
    /// A contract's parties.
    #[serde(default)]
    pub parties: Vec<PartyRef>,
    /// Stated purpose.
    #[serde(default)]
    pub purpose: Option<String>,
    /// The BIN of the organisation the document is sent through (the calling client), which
    /// may differ from the requester: a citizen's request sent through the portal names the
    /// portal here. Required of every request document (one that names a requester).
    #[serde(default)]
    pub via: Option<String>,
    /// A value the signer never uses twice (a UUID fits): with the signer, what the gateway
    /// remembers to take each request document once. Required of every request document.
    #[serde(default)]
    pub nonce: Option<String>,
    /// A contract's terms, when the document is a contract (a pledge contract's JSON form).
    #[serde(default)]
    pub contract: Option<serde_json::Value>,
}

/// A party with parsed identifiers.
#[derive(Debug, Clone)]
struct Party {
    label: String,
    iin: Option<Iin>,
    bin: Option<Bin>,
}

impl Party {
    fn parse(p: &PartyRef, label: String) -> Result<Self, TrustError> {
        let bad = |what: &str, e: &dyn std::fmt::Display| TrustError::Signature {
            failure: SignatureFailure::Malformed,
            detail: format!("{label}: {what} {e}"),
        };
        let iin = p
            .iin
            .as_deref()
            .map(Iin::parse)
            .transpose()
            .map_err(|e| bad("IIN", &e))?;
        let bin = p
            .bin
            .as_deref()
            .map(Bin::parse)
            .transpose()
            .map_err(|e| bad("BIN", &e))?;
        if iin.is_none() && bin.is_none() {
            return Err(TrustError::Signature {
                failure: SignatureFailure::Malformed,
                detail: format!("{label} names neither an IIN nor a BIN"),
            });
        }
        Ok(Self { label, iin, bin })
    }

    fn signed_by(&self, holder: &Holder) -> bool {
        self.iin
            .as_ref()
            .is_none_or(|i| holder.iin.as_ref() == Some(i))
            && self
                .bin
                .as_ref()
                .is_none_or(|b| holder.bin.as_ref() == Some(b))
    }

    fn masked(&self) -> String {
        let who = Holder {
            iin: self.iin.clone(),
            bin: self.bin.clone(),
        };
        format!("{} ({})", self.label, who.masked())
    }
}

/// The outcome of a signed request's checks.
#[derive(Debug, Clone)]
pub struct Signers {
    /// Every verified signature, in the request's order.
    pub signatures: Vec<VerifiedSignature>,
    /// The signed document.
    pub document: RequestDocument,
}

impl Signers {
    /// What the gateway remembers to take this document once: the first signer and the
    /// document's nonce; none for a document without a nonce (a contract, unique by its number).
    pub fn replay_key(&self) -> Option<(String, String)> {
        let nonce = self.document.nonce.clone()?;
        let holder = &self.signatures.first()?.chain.holder;
        let signer = match (&holder.iin, &holder.bin) {
            (Some(iin), _) => format!("iin:{}", iin.as_str()),
            (None, Some(bin)) => format!("bin:{}", bin.as_str()),
            (None, None) => return None,
        };
        Some((signer, nonce))
    }

    /// The requester's IIN, when the document names a person as requester and that person signed.
    pub fn requester_iin(&self) -> Option<Iin> {
        let iin = Iin::parse(self.document.requester.as_ref()?.iin.as_deref()?).ok()?;
        self.signatures
            .iter()
            .any(|s| s.chain.holder.iin.as_ref() == Some(&iin))
            .then_some(iin)
    }
}

fn refuse(failure: SignatureFailure, detail: String) -> TrustError {
    TrustError::Signature { failure, detail }
}

/// What a call is, for the document checks.
#[derive(Debug, Clone, Copy)]
pub struct CallFacts<'a> {
    /// Full gRPC method name.
    pub method: &'a str,
    /// The IIN or BIN the call is about.
    pub subject: Option<&'a str>,
    /// The calling organisation, from its client certificate.
    pub client_bin: Option<&'a Bin>,
}

/// A request document (one naming a requester) must name the organisation it is sent through
/// and carry a nonce; any document that names the organisation must name the calling client.
fn check_binding(
    document: &RequestDocument,
    is_request: bool,
    client: Option<&Bin>,
) -> Result<(), TrustError> {
    match (&document.via, client) {
        (Some(via), Some(client)) if via == client.as_str() => {}
        (Some(via), _) => {
            return Err(refuse(
                SignatureFailure::NotForClient,
                format!(
                    "the document was signed to be sent through BIN {}, not by the calling client",
                    kopir_core::identifiers::mask(via)
                ),
            ))
        }
        (None, _) if is_request => {
            return Err(refuse(
                SignatureFailure::NotForClient,
                "the document names no organisation it is sent through (`via`, the BIN of the client that sends it)".into(),
            ))
        }
        (None, _) => {}
    }
    if is_request {
        let nonce = document.nonce.as_deref().unwrap_or("");
        let fits = (1..=128).contains(&nonce.len())
            && nonce
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"-_.:".contains(&b));
        if !fits {
            return Err(refuse(
                SignatureFailure::Malformed,
                "the document carries no usable nonce (`nonce`: 1 to 128 characters of A-Z, a-z, 0-9, '-', '_', '.', ':'; a UUID fits)".into(),
            ));
        }
    }
    Ok(())
}

impl Trust {
    /// Every signature of a request document was made within the freshness window (clock skew
    /// added), and says when.
    fn check_fresh(&self, signatures: &[VerifiedSignature]) -> Result<(), TrustError> {
        let oldest = std::time::SystemTime::now() - self.freshness() - self.clock_skew();
        for (i, s) in signatures.iter().enumerate() {
            match s.signed_at {
                None => {
                    return Err(refuse(
                        SignatureFailure::Malformed,
                        format!("signature {} carries no signing time", i + 1),
                    ))
                }
                Some(at) if at < oldest => {
                    return Err(refuse(
                        SignatureFailure::Stale,
                        format!(
                            "signature {} was made more than {} s ago; a request document is usable for {} s after it is signed",
                            i + 1,
                            self.freshness().as_secs(),
                            self.freshness().as_secs()
                        ),
                    ))
                }
                Some(_) => {}
            }
        }
        Ok(())
    }

    /// Checks a request's signed document against `rule`: every signature valid, the document for
    /// this method and subject, every signer named in it, and the requester or every party signed.
    pub async fn verify_document(
        &self,
        document: Option<&SignedDocument>,
        rule: SignerRule,
        call: CallFacts<'_>,
    ) -> Result<Option<Signers>, TrustError> {
        let Some(doc) = document.filter(|d| !d.payload.is_empty() || !d.signatures.is_empty())
        else {
            return match rule {
                SignerRule::None => Ok(None),
                SignerRule::Requester => Err(refuse(
                    SignatureFailure::Missing,
                    format!(
                        "{} requires a request document signed by the requester",
                        call.method
                    ),
                )),
                SignerRule::Parties => Err(refuse(
                    SignatureFailure::Missing,
                    format!("{} requires a document signed by every party", call.method),
                )),
            };
        };
        let document: RequestDocument = serde_json::from_slice(&doc.payload).map_err(|e| {
            refuse(
                SignatureFailure::Malformed,
                format!("the payload is not a JSON request document: {e}"),
            )
        })?;
        if document.method != call.method {
            return Err(refuse(
                SignatureFailure::WrongDocument,
                format!(
                    "the document was signed for {}, not {}",
                    document.method, call.method
                ),
            ));
        }
        if let Some(subject) = call.subject {
            if document.subject.as_deref() != Some(subject) {
                return Err(refuse(
                    SignatureFailure::WrongDocument,
                    "the document names another subject than the request".into(),
                ));
            }
        }
        if doc.signatures.is_empty() {
            return Err(refuse(
                SignatureFailure::Missing,
                "the document carries no signature".into(),
            ));
        }
        let requester = document
            .requester
            .as_ref()
            .map(|r| Party::parse(r, "the requester".into()))
            .transpose()?;
        let parties = document
            .parties
            .iter()
            .enumerate()
            .map(|(i, p)| {
                let role = p.role.as_deref().unwrap_or("party");
                Party::parse(p, format!("party {} ({role})", i + 1))
            })
            .collect::<Result<Vec<_>, _>>()?;
        if let (Some(r), Some(client)) = (&requester, call.client_bin) {
            if r.bin.as_ref().is_some_and(|b| b != client) {
                return Err(refuse(
                    SignatureFailure::SignerMismatch,
                    "the requester organisation the document names is not the calling client"
                        .into(),
                ));
            }
        }

        check_binding(&document, requester.is_some(), call.client_bin)?;

        let mut signatures = Vec::with_capacity(doc.signatures.len());
        for (i, cms) in doc.signatures.iter().enumerate() {
            signatures.push(self.verify_signature(&doc.payload, cms, i).await?);
        }
        if requester.is_some() {
            self.check_fresh(&signatures)?;
        }
        let named: Vec<&Party> = requester.iter().chain(parties.iter()).collect();
        for (i, s) in signatures.iter().enumerate() {
            if !named.iter().any(|p| p.signed_by(&s.chain.holder)) {
                return Err(refuse(
                    SignatureFailure::SignerMismatch,
                    format!(
                        "signature {} is by {}, whom the document does not name",
                        i + 1,
                        s.chain.holder.masked()
                    ),
                ));
            }
        }
        let signed = |p: &Party| signatures.iter().any(|s| p.signed_by(&s.chain.holder));
        match rule {
            SignerRule::None => {}
            SignerRule::Requester => {
                let r = requester.as_ref().ok_or_else(|| {
                    refuse(
                        SignatureFailure::Malformed,
                        "the document names no requester".into(),
                    )
                })?;
                if !signed(r) {
                    return Err(refuse(
                        SignatureFailure::SignerMismatch,
                        format!("{} has not signed the document", r.masked()),
                    ));
                }
            }
            SignerRule::Parties => {
                if parties.is_empty() {
                    return Err(refuse(
                        SignatureFailure::Malformed,
                        "the document names no parties".into(),
                    ));
                }
                if let Some(missing) = parties.iter().find(|p| !signed(p)) {
                    return Err(refuse(
                        SignatureFailure::PartyMissing,
                        format!("{} has not signed the document", missing.masked()),
                    ));
                }
            }
        }
        Ok(Some(Signers {
            signatures,
            document,
        }))
    }
}
