//! A mock national certification authority (НУЦ РК): a root and an intermediate CA that issue
//! certificates for persons, organisations' employees, gateway clients (TLS), servers and the
//! gateway's sealing key; keep a revocation list and serve it over HTTP.
//!
//! Subjects follow the national profile: a person's certificate carries `serialNumber=IIN<12
//! digits>`, an employee's adds `OU=BIN<12 digits>`; an organisation's system (a gateway client)
//! carries `OU=BIN<12 digits>`.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use axum::extract::{Path, State};
use axum::http::{header, StatusCode};
use axum::response::IntoResponse;
use axum::routing::{get, post};
use const_oid::db::rfc4519::{COMMON_NAME, COUNTRY_NAME, ORGANIZATION_NAME, SERIAL_NUMBER};
use const_oid::db::rfc5280::{ID_KP_CLIENT_AUTH, ID_KP_EMAIL_PROTECTION, ID_KP_SERVER_AUTH};
use const_oid::AssociatedOid;
use der::asn1::{BitString, Ia5String, OctetString, PrintableString, SetOfVec, Utf8StringRef};
use der::{Any, Encode, EncodePem};
use kopir_trust::signing::{KeyAlgorithm, KeyPair};
use rand::RngCore;
use sha2::{Digest, Sha256};
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use x509_cert::attr::AttributeTypeAndValue;
use x509_cert::crl::{CertificateList, RevokedCert, TbsCertList};
use x509_cert::ext::pkix::crl::CrlNumber;
use x509_cert::ext::pkix::name::GeneralName;
use x509_cert::ext::pkix::{
    AuthorityKeyIdentifier, BasicConstraints, ExtendedKeyUsage, KeyUsage, KeyUsages,
    SubjectAltName, SubjectKeyIdentifier,
};
use x509_cert::ext::Extension;
use x509_cert::name::{Name, RdnSequence, RelativeDistinguishedName};
use x509_cert::serial_number::SerialNumber;
use x509_cert::time::{Time, Validity};
use x509_cert::{Certificate, TbsCertificate, Version};

/// OID of the organisational unit attribute (2.5.4.11), where national certificates carry the BIN.
const ORGANIZATIONAL_UNIT: const_oid::ObjectIdentifier =
    const_oid::ObjectIdentifier::new_unwrap("2.5.4.11");

/// What went wrong in the mock CA.
#[derive(Debug, thiserror::Error)]
pub enum PkiError {
    /// Key generation or signing failed.
    #[error(transparent)]
    Key(#[from] kopir_trust::signing::KeyError),
    /// A certificate or CRL could not be encoded.
    #[error("encoding: {0}")]
    Encoding(String),
    /// Writing the demo set failed.
    #[error("cannot write {path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// Why.
        source: std::io::Error,
    },
}

fn enc(e: impl std::fmt::Display) -> PkiError {
    PkiError::Encoding(e.to_string())
}

/// Whom a certificate is for.
#[derive(Debug, Clone)]
pub enum Holder {
    /// A person signing for themself: `serialNumber=IIN…`.
    Person {
        /// The person's IIN.
        iin: String,
        /// Full name, for the common name.
        name: String,
    },
    /// An organisation's employee signing for it: `serialNumber=IIN…`, `OU=BIN…`.
    Employee {
        /// The employee's IIN.
        iin: String,
        /// The organisation's BIN.
        bin: String,
        /// Full name.
        name: String,
        /// The organisation's name.
        organisation: String,
    },
    /// An organisation's information system calling the gateway over TLS: `OU=BIN…`.
    Client {
        /// The organisation's BIN.
        bin: String,
        /// The system's name.
        name: String,
    },
    /// A TLS server, valid for `localhost` and 127.0.0.1.
    Server {
        /// The server's name.
        name: String,
    },
    /// The gateway's sealing key.
    Seal {
        /// The operator's BIN.
        bin: String,
        /// The seal's name.
        name: String,
    },
    /// An organisation's certificate that states no purpose (no extended key usage), as some
    /// CAs issued seals before: `OU=BIN…`. A gateway must not take it for a TLS client's.
    Unmarked {
        /// The organisation's BIN.
        bin: String,
        /// Its name.
        name: String,
    },
}

/// When a certificate is valid.
#[derive(Debug, Clone, Copy)]
pub struct Window {
    /// Start of validity.
    pub not_before: SystemTime,
    /// End of validity.
    pub not_after: SystemTime,
}

impl Window {
    /// From an hour ago for `days` days.
    pub fn days(days: u64) -> Self {
        let now = SystemTime::now();
        Self {
            not_before: now - Duration::from_secs(3600),
            not_after: now + Duration::from_secs(days * 86_400),
        }
    }

    /// Valid for a year from the day before yesterday, expired since yesterday.
    pub fn expired() -> Self {
        let now = SystemTime::now();
        Self {
            not_before: now - Duration::from_secs(2 * 86_400),
            not_after: now - Duration::from_secs(86_400),
        }
    }
}

/// A certificate with its private key.
#[derive(Debug, Clone)]
pub struct Issued {
    /// The certificate.
    pub cert: Certificate,
    /// Its private key.
    pub key: KeyPair,
}

impl Issued {
    /// The certificate as PEM.
    pub fn cert_pem(&self) -> Result<String, PkiError> {
        self.cert.to_pem(der::pem::LineEnding::LF).map_err(enc)
    }

    /// The certificate as DER.
    pub fn cert_der(&self) -> Result<Vec<u8>, PkiError> {
        self.cert.to_der().map_err(enc)
    }

    /// The private key as PKCS #8 PEM.
    pub fn key_pem(&self) -> Result<String, PkiError> {
        Ok(self.key.to_pkcs8_pem()?)
    }

    /// The serial number as lower-case hex, as the revocation endpoint takes it.
    pub fn serial_hex(&self) -> String {
        hex::encode(self.cert.tbs_certificate.serial_number.as_bytes())
    }
}

struct CaState {
    /// Serial (hex) → revocation time.
    revoked: BTreeMap<String, SystemTime>,
    /// Serials (hex) this CA issued.
    issued: std::collections::BTreeSet<String>,
    crl_number: u64,
}

/// The mock CA: a self-signed root and an intermediate that issues every end-entity certificate
/// and signs the CRL.
pub struct MockCa {
    root: Issued,
    intermediate: Issued,
    crl_validity: Duration,
    state: Mutex<CaState>,
}

impl std::fmt::Debug for MockCa {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MockCa")
            .field("crl_validity", &self.crl_validity)
            .finish_non_exhaustive()
    }
}

fn rdn(
    oid: const_oid::ObjectIdentifier,
    value: &str,
) -> Result<RelativeDistinguishedName, PkiError> {
    // serialNumber and country are PrintableString by X.520; names are UTF-8 (Kazakh letters).
    let value = if oid == SERIAL_NUMBER || oid == COUNTRY_NAME {
        Any::encode_from(&PrintableString::new(value).map_err(enc)?).map_err(enc)?
    } else {
        Any::encode_from(&Utf8StringRef::new(value).map_err(enc)?).map_err(enc)?
    };
    let mut set = SetOfVec::new();
    set.insert(AttributeTypeAndValue { oid, value })
        .map_err(enc)?;
    Ok(RelativeDistinguishedName::from(set))
}

fn name(parts: &[(const_oid::ObjectIdentifier, &str)]) -> Result<Name, PkiError> {
    let rdns = parts
        .iter()
        .map(|(oid, v)| rdn(*oid, v))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(RdnSequence(rdns))
}

fn extension<T: AssociatedOid + Encode>(value: &T, critical: bool) -> Result<Extension, PkiError> {
    Ok(Extension {
        extn_id: T::OID,
        critical,
        extn_value: OctetString::new(value.to_der().map_err(enc)?).map_err(enc)?,
    })
}

fn key_id(spki: &spki::SubjectPublicKeyInfoOwned) -> Result<OctetString, PkiError> {
    // RFC 7093 method 1: the leftmost 160 bits of the SHA-256 of the public key bits.
    let digest = Sha256::digest(spki.subject_public_key.raw_bytes());
    OctetString::new(&digest[..20]).map_err(enc)
}

fn random_serial() -> Result<SerialNumber, PkiError> {
    let mut bytes = [0u8; 16];
    rand::rng().fill_bytes(&mut bytes);
    // Positive and without a leading zero octet, as RFC 5280 asks.
    bytes[0] = (bytes[0] & 0x7f) | 0x10;
    SerialNumber::new(&bytes).map_err(enc)
}

fn time(t: SystemTime) -> Result<Time, PkiError> {
    // Whole seconds: UTCTime has no fractions.
    let secs = t
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_err(enc)?
        .as_secs();
    Time::try_from(SystemTime::UNIX_EPOCH + Duration::from_secs(secs)).map_err(enc)
}

/// Signs `tbs` with `issuer_key` into a certificate.
fn sign_certificate(tbs: TbsCertificate, issuer_key: &KeyPair) -> Result<Certificate, PkiError> {
    let signature = issuer_key.sign(&tbs.to_der().map_err(enc)?)?;
    Ok(Certificate {
        signature_algorithm: tbs.signature.clone(),
        tbs_certificate: tbs,
        signature: BitString::from_bytes(&signature).map_err(enc)?,
    })
}

struct Draft<'a> {
    subject: Name,
    key: &'a KeyPair,
    window: Window,
    extensions: Vec<Extension>,
}

fn issue_with(draft: Draft<'_>, issuer: Option<&Issued>) -> Result<Certificate, PkiError> {
    let spki = draft.key.public_key_info()?;
    let (issuer_name, issuer_key, issuer_spki) = match issuer {
        Some(i) => (
            i.cert.tbs_certificate.subject.clone(),
            &i.key,
            i.cert.tbs_certificate.subject_public_key_info.clone(),
        ),
        None => (draft.subject.clone(), draft.key, spki.clone()),
    };
    let mut extensions = vec![extension(&SubjectKeyIdentifier(key_id(&spki)?), false)?];
    extensions.push(extension(
        &AuthorityKeyIdentifier {
            key_identifier: Some(key_id(&issuer_spki)?),
            authority_cert_issuer: None,
            authority_cert_serial_number: None,
        },
        false,
    )?);
    extensions.extend(draft.extensions);
    let tbs = TbsCertificate {
        version: Version::V3,
        serial_number: random_serial()?,
        signature: issuer_key.signature_algorithm()?,
        issuer: issuer_name,
        validity: Validity {
            not_before: time(draft.window.not_before)?,
            not_after: time(draft.window.not_after)?,
        },
        subject: draft.subject,
        subject_public_key_info: spki,
        issuer_unique_id: None,
        subject_unique_id: None,
        extensions: Some(extensions),
    };
    sign_certificate(tbs, issuer_key)
}

fn ca_extensions(path_len: Option<u8>) -> Result<Vec<Extension>, PkiError> {
    Ok(vec![
        extension(
            &BasicConstraints {
                ca: true,
                path_len_constraint: path_len,
            },
            true,
        )?,
        extension(&KeyUsage(KeyUsages::KeyCertSign | KeyUsages::CRLSign), true)?,
    ])
}

impl MockCa {
    /// A new CA hierarchy whose CA keys use `algorithm`; its CRLs are valid for `crl_validity`
    /// (the next update a relying party waits for).
    pub fn new(algorithm: KeyAlgorithm, crl_validity: Duration) -> Result<Self, PkiError> {
        let root_key = KeyPair::generate(algorithm)?;
        let root_cert = issue_with(
            Draft {
                subject: name(&[
                    (COUNTRY_NAME, "KZ"),
                    (COMMON_NAME, "ҰЛТТЫҚ КУӘЛАНДЫРУШЫ ОРТАЛЫҚ ROOT (MOCK)"),
                ])?,
                key: &root_key,
                window: Window::days(3650),
                extensions: ca_extensions(Some(1))?,
            },
            None,
        )?;
        let root = Issued {
            cert: root_cert,
            key: root_key,
        };
        let intermediate_key = KeyPair::generate(algorithm)?;
        let intermediate_cert = issue_with(
            Draft {
                subject: name(&[
                    (COUNTRY_NAME, "KZ"),
                    (COMMON_NAME, "ҰЛТТЫҚ КУӘЛАНДЫРУШЫ ОРТАЛЫҚ (MOCK)"),
                ])?,
                key: &intermediate_key,
                window: Window::days(1825),
                extensions: ca_extensions(Some(0))?,
            },
            Some(&root),
        )?;
        Ok(Self {
            root,
            intermediate: Issued {
                cert: intermediate_cert,
                key: intermediate_key,
            },
            crl_validity,
            state: Mutex::new(CaState {
                revoked: BTreeMap::new(),
                issued: Default::default(),
                crl_number: 0,
            }),
        })
    }

    /// The root certificate (the trust anchor relying parties configure).
    pub fn root(&self) -> &Certificate {
        &self.root.cert
    }

    /// The intermediate certificate (signers send it with their signatures).
    pub fn intermediate(&self) -> &Certificate {
        &self.intermediate.cert
    }

    /// Issues a certificate for `holder` with a fresh key of `algorithm`, valid in `window`.
    pub fn issue(
        &self,
        holder: &Holder,
        algorithm: KeyAlgorithm,
        window: Window,
    ) -> Result<Issued, PkiError> {
        let key = KeyPair::generate(algorithm)?;
        let signing = KeyUsage(KeyUsages::DigitalSignature | KeyUsages::NonRepudiation);
        let tls = KeyUsage(KeyUsages::DigitalSignature | KeyUsages::KeyEncipherment);
        let leaf = extension(
            &BasicConstraints {
                ca: false,
                path_len_constraint: None,
            },
            true,
        )?;
        // Signing certificates (a person's, an employee's, the seal) state their purpose alike.
        let for_signing = || -> Result<Vec<Extension>, PkiError> {
            Ok(vec![
                extension(&signing, true)?,
                extension(&ExtendedKeyUsage(vec![ID_KP_EMAIL_PROTECTION]), false)?,
            ])
        };
        let organisation_name = |bin: &str, n: &str| {
            name(&[
                (COUNTRY_NAME, "KZ"),
                (COMMON_NAME, n),
                (ORGANIZATIONAL_UNIT, &format!("BIN{bin}")),
            ])
        };
        let (subject, mut extensions) = match holder {
            Holder::Person { iin, name: n } => (
                name(&[
                    (COUNTRY_NAME, "KZ"),
                    (COMMON_NAME, n),
                    (SERIAL_NUMBER, &format!("IIN{iin}")),
                ])?,
                for_signing()?,
            ),
            Holder::Employee {
                iin,
                bin,
                name: n,
                organisation,
            } => (
                name(&[
                    (COUNTRY_NAME, "KZ"),
                    (COMMON_NAME, n),
                    (SERIAL_NUMBER, &format!("IIN{iin}")),
                    (ORGANIZATION_NAME, organisation),
                    (ORGANIZATIONAL_UNIT, &format!("BIN{bin}")),
                ])?,
                for_signing()?,
            ),
            Holder::Client { bin, name: n } => (
                organisation_name(bin, n)?,
                vec![
                    extension(&tls, true)?,
                    extension(&ExtendedKeyUsage(vec![ID_KP_CLIENT_AUTH]), false)?,
                ],
            ),
            Holder::Server { name: n } => (
                name(&[(COUNTRY_NAME, "KZ"), (COMMON_NAME, n)])?,
                vec![
                    extension(&tls, true)?,
                    extension(&ExtendedKeyUsage(vec![ID_KP_SERVER_AUTH]), false)?,
                    extension(
                        &SubjectAltName(vec![
                            GeneralName::DnsName(Ia5String::new("localhost").map_err(enc)?),
                            GeneralName::IpAddress(
                                OctetString::new(vec![127, 0, 0, 1]).map_err(enc)?,
                            ),
                        ]),
                        false,
                    )?,
                ],
            ),
            Holder::Unmarked { bin, name: n } => {
                (organisation_name(bin, n)?, vec![extension(&signing, true)?])
            }
            Holder::Seal { bin, name: n } => (
                organisation_name(bin, n)?,
                // A seal signs documents; its extended key usage says so, so no TLS peer takes
                // it for a client's or a server's certificate.
                for_signing()?,
            ),
        };
        extensions.insert(0, leaf);
        let cert = issue_with(
            Draft {
                subject,
                key: &key,
                window,
                extensions,
            },
            Some(&self.intermediate),
        )?;
        let issued = Issued { cert, key };
        self.lock().issued.insert(issued.serial_hex());
        Ok(issued)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, CaState> {
        // The state is a plain map: a panic elsewhere cannot leave it half-written.
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Revokes the certificate with serial `serial_hex`; false when this CA never issued it.
    pub fn revoke(&self, serial_hex: &str) -> bool {
        let serial = serial_hex.to_ascii_lowercase();
        let mut state = self.lock();
        if !state.issued.contains(&serial) {
            return false;
        }
        state.revoked.entry(serial).or_insert_with(SystemTime::now);
        true
    }

    /// A freshly signed CRL (DER) listing every revoked certificate, valid for `crl_validity`.
    pub fn crl_der(&self) -> Result<Vec<u8>, PkiError> {
        let (revoked, number) = {
            let mut state = self.lock();
            state.crl_number += 1;
            (state.revoked.clone(), state.crl_number)
        };
        let now = SystemTime::now();
        let revoked = revoked
            .iter()
            .map(|(serial, at)| {
                Ok(RevokedCert {
                    serial_number: SerialNumber::new(&hex::decode(serial).map_err(enc)?)
                        .map_err(enc)?,
                    revocation_date: time(*at)?,
                    crl_entry_extensions: None,
                })
            })
            .collect::<Result<Vec<_>, PkiError>>()?;
        let issuer_spki = &self
            .intermediate
            .cert
            .tbs_certificate
            .subject_public_key_info;
        let tbs = TbsCertList {
            version: Version::V2,
            signature: self.intermediate.key.signature_algorithm()?,
            issuer: self.intermediate.cert.tbs_certificate.subject.clone(),
            this_update: time(now)?,
            next_update: Some(time(now + self.crl_validity)?),
            revoked_certificates: (!revoked.is_empty()).then_some(revoked),
            crl_extensions: Some(vec![
                extension(
                    &AuthorityKeyIdentifier {
                        key_identifier: Some(key_id(issuer_spki)?),
                        authority_cert_issuer: None,
                        authority_cert_serial_number: None,
                    },
                    false,
                )?,
                extension(
                    &CrlNumber(der::asn1::Uint::new(&number.to_be_bytes()).map_err(enc)?),
                    false,
                )?,
            ]),
        };
        let signature = self.intermediate.key.sign(&tbs.to_der().map_err(enc)?)?;
        CertificateList {
            signature_algorithm: tbs.signature.clone(),
            tbs_cert_list: tbs,
            signature: BitString::from_bytes(&signature).map_err(enc)?,
        }
        .to_der()
        .map_err(enc)
    }

    /// The root as PEM: the trust anchor relying parties configure.
    pub fn root_pem(&self) -> Result<String, PkiError> {
        self.root.cert_pem()
    }

    /// The intermediate as PEM.
    pub fn intermediate_pem(&self) -> Result<String, PkiError> {
        self.intermediate.cert_pem()
    }
}

/// The CA's HTTP face: `GET /crl` (DER, `application/pkix-crl`), `GET /root.pem`,
/// `GET /intermediate.pem`, and `POST /revoke/{serial_hex}` for tests and demos.
pub struct CaServer {
    /// The address it serves on.
    pub addr: SocketAddr,
    /// The CA behind it.
    pub ca: Arc<MockCa>,
    shutdown: Option<oneshot::Sender<()>>,
}

impl CaServer {
    /// Serves `ca` on `addr` (port 0 picks one).
    pub async fn start(ca: Arc<MockCa>, addr: SocketAddr) -> std::io::Result<Self> {
        let listener = TcpListener::bind(addr).await?;
        let addr = listener.local_addr()?;
        let app = axum::Router::new()
            .route("/crl", get(crl))
            .route("/root.pem", get(root_pem))
            .route("/intermediate.pem", get(intermediate_pem))
            .route("/revoke/{serial}", post(revoke))
            .with_state(ca.clone());
        let (tx, rx) = oneshot::channel::<()>();
        tokio::spawn(async move {
            axum::serve(listener, app)
                .with_graceful_shutdown(async {
                    rx.await.ok();
                })
                .await
                .ok();
        });
        tracing::info!(%addr, "mock certification authority serving its CRL");
        Ok(Self {
            addr,
            ca,
            shutdown: Some(tx),
        })
    }

    /// Where the CRL is served.
    pub fn crl_url(&self) -> String {
        format!("http://{}/crl", self.addr)
    }
}

impl Drop for CaServer {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            tx.send(()).ok();
        }
    }
}

async fn crl(State(ca): State<Arc<MockCa>>) -> impl IntoResponse {
    match ca.crl_der() {
        Ok(der) => (
            StatusCode::OK,
            [(header::CONTENT_TYPE, "application/pkix-crl")],
            der,
        )
            .into_response(),
        Err(e) => (StatusCode::INTERNAL_SERVER_ERROR, e.to_string()).into_response(),
    }
}

fn pem_response(pem: Result<String, PkiError>) -> axum::response::Response {
    match pem {
        Ok(p) => (
            StatusCode::OK,
            [(header::CONTENT_TYPE, "application/x-pem-file")],
            p,
        )
            .into_response(),
        Err(e) => (StatusCode::INTERNAL_SERVER_ERROR, e.to_string()).into_response(),
    }
}

async fn root_pem(State(ca): State<Arc<MockCa>>) -> axum::response::Response {
    pem_response(ca.root_pem())
}

async fn intermediate_pem(State(ca): State<Arc<MockCa>>) -> axum::response::Response {
    pem_response(ca.intermediate_pem())
}

async fn revoke(State(ca): State<Arc<MockCa>>, Path(serial): Path<String>) -> StatusCode {
    if ca.revoke(&serial) {
        StatusCode::NO_CONTENT
    } else {
        StatusCode::NOT_FOUND
    }
}

/// BIN of the portal's operator in the demo set.
pub const DEMO_PORTAL_BIN: &str = "000940001238";
/// BIN of the demo bank.
pub const DEMO_BANK_BIN: &str = "990140004565";
/// BIN of the gateway's operating organisation in the demo set (its operators' client).
pub const DEMO_OPERATOR_BIN: &str = "160940007774";
/// BIN the mock state databases' message-signing certificate names (the registries' operator).
pub const DEMO_REGISTRY_BIN: &str = "000740000311";
/// IIN of the demo bank's officer who signs for it.
pub const DEMO_OFFICER_IIN: &str = "850101300510";

/// The demo set: a CA, the gateway's TLS and sealing certificates, two clients (the portal and a
/// bank) and two signers (a citizen and the bank's officer).
#[derive(Debug)]
pub struct DemoPki {
    /// The CA that issued them all.
    pub ca: Arc<MockCa>,
    /// The gateway's TLS server certificate.
    pub gateway_tls: Issued,
    /// The gateway's sealing certificate.
    pub seal: Issued,
    /// The gateway's WS-Security certificate: it signs every message to a SyncChannel registry.
    pub gateway_wsse: Issued,
    /// The mock state databases' WS-Security certificate: they sign their replies with it.
    pub registry_wsse: Issued,
    /// The portal's TLS client certificate.
    pub portal: Issued,
    /// The bank's TLS client certificate.
    pub bank: Issued,
    /// The gateway operators' TLS client certificate.
    pub operator: Issued,
    /// A citizen's signing certificate.
    pub citizen: Issued,
    /// The bank officer's signing certificate.
    pub officer: Issued,
}

impl DemoPki {
    /// Issues the set under a new ECDSA P-256 CA; `citizen_iin` names the citizen.
    pub fn generate(citizen_iin: &str, crl_validity: Duration) -> Result<Self, PkiError> {
        let ec = KeyAlgorithm::EcdsaP256;
        let ca = Arc::new(MockCa::new(ec, crl_validity)?);
        let year = Window::days(365);
        Ok(Self {
            gateway_tls: ca.issue(
                &Holder::Server {
                    name: "kopir gateway".into(),
                },
                ec,
                year,
            )?,
            seal: ca.issue(
                &Holder::Seal {
                    bin: DEMO_OPERATOR_BIN.into(),
                    name: "Köpir seal".into(),
                },
                ec,
                year,
            )?,
            gateway_wsse: ca.issue(
                &Holder::Seal {
                    bin: DEMO_OPERATOR_BIN.into(),
                    name: "Köpir WS-Security".into(),
                },
                ec,
                year,
            )?,
            registry_wsse: ca.issue(
                &Holder::Seal {
                    bin: DEMO_REGISTRY_BIN.into(),
                    name: "State databases (mock) WS-Security".into(),
                },
                ec,
                year,
            )?,
            portal: ca.issue(
                &Holder::Client {
                    bin: DEMO_PORTAL_BIN.into(),
                    name: "egov.kz portal".into(),
                },
                ec,
                year,
            )?,
            bank: ca.issue(
                &Holder::Client {
                    bin: DEMO_BANK_BIN.into(),
                    name: "Demo Bank IS".into(),
                },
                ec,
                year,
            )?,
            operator: ca.issue(
                &Holder::Client {
                    bin: DEMO_OPERATOR_BIN.into(),
                    name: "Köpir operations".into(),
                },
                ec,
                year,
            )?,
            citizen: ca.issue(
                &Holder::Person {
                    iin: citizen_iin.into(),
                    name: "Demo Citizen".into(),
                },
                KeyAlgorithm::Rsa2048,
                year,
            )?,
            officer: ca.issue(
                &Holder::Employee {
                    iin: DEMO_OFFICER_IIN.into(),
                    bin: DEMO_BANK_BIN.into(),
                    name: "Demo Officer".into(),
                    organisation: "Demo Bank".into(),
                },
                ec,
                year,
            )?,
            ca,
        })
    }

    /// Writes every certificate (`NAME.crt`, PEM, followed by the intermediate), key (`NAME.key`,
    /// PKCS #8 PEM, readable by its owner only), the root
    /// (`root.crt`), the intermediate (`intermediate.crt`) and the current CRL (`crl.der`) to `dir`.
    pub fn write(&self, dir: &std::path::Path) -> Result<(), PkiError> {
        let io = |path: &std::path::Path| {
            let path = path.display().to_string();
            move |source| PkiError::Io { path, source }
        };
        std::fs::create_dir_all(dir).map_err(io(dir))?;
        let write = |file: &str, bytes: &[u8]| {
            let path = dir.join(file);
            std::fs::write(&path, bytes).map_err(io(&path))
        };
        let intermediate = self.ca.intermediate_pem()?;
        write("root.crt", self.ca.root_pem()?.as_bytes())?;
        write("intermediate.crt", intermediate.as_bytes())?;
        write("crl.der", &self.ca.crl_der()?)?;
        for (file, issued) in [
            ("gateway-tls", &self.gateway_tls),
            ("gateway-seal", &self.seal),
            ("gateway-wsse", &self.gateway_wsse),
            ("registry-wsse", &self.registry_wsse),
            ("portal", &self.portal),
            ("bank", &self.bank),
            ("operator", &self.operator),
            ("citizen", &self.citizen),
            ("officer", &self.officer),
        ] {
            // Leaf then intermediate: what a TLS peer or a signer sends along.
            let chain = issued.cert_pem()? + &intermediate;
            write(&format!("{file}.crt"), chain.as_bytes())?;
            let key = dir.join(format!("{file}.key"));
            write_private(&key, issued.key_pem()?.as_bytes()).map_err(io(&key))?;
        }
        Ok(())
    }
}

/// Writes a private key readable and writable by its owner only (0600 on Unix), from its
/// creation on: a key never exists with wider permissions, not even for a moment.
fn write_private(path: &std::path::Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options.open(path)?;
    // An existing file keeps its mode through `open`; narrow it as well.
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        file.set_permissions(std::fs::Permissions::from_mode(0o600))?;
    }
    file.write_all(bytes)
}
