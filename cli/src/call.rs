//! `kopir call`: one call to a gateway from the command line, with no other client. The request
//! is JSON in the proto's JSON mapping, the answer is printed the same way, and `--save` keeps
//! the answer's exact bytes (its seal included) for `kopir verify`. The gateway's own
//! descriptors are built in, so no proto files or reflection are needed.

use std::path::PathBuf;
use std::time::Duration;

use kopir_adapters::channel::RawCodec;
use prost::Message;
use prost_reflect::{DescriptorPool, DynamicMessage, MethodDescriptor};
use tonic::codegen::http::uri::PathAndQuery;
use tonic::transport::{Certificate, Channel, ClientTlsConfig, Identity};

/// What `kopir call` was asked.
#[derive(Debug, Clone, clap::Args)]
pub struct CallArgs {
    /// The method: `IdentityService/GetPerson`, or with its package, `kopir.v1.IdentityService/GetPerson`.
    pub method: String,
    /// The request as JSON (the proto's JSON mapping, as grpcurl takes it).
    #[arg(short, long, default_value = "{}")]
    pub data: String,
    /// The gateway's address.
    #[arg(long, default_value = "127.0.0.1:50051")]
    pub addr: String,
    /// The demo's key folder: `root.crt` is trusted, `NAME.crt`/`NAME.key` presented.
    #[arg(long, default_value = "kopir-pki")]
    pub pki_dir: PathBuf,
    /// Whose client certificate to present (`portal`, `bank`, `operator`).
    #[arg(long = "as", default_value = "portal")]
    pub client: String,
    /// Write the answer's protobuf bytes, as received, to this file (a unary method's answer).
    #[arg(long)]
    pub save: Option<PathBuf>,
    /// Seconds to wait for the answer (sent as the call's grpc-timeout).
    #[arg(long, default_value_t = 30)]
    pub timeout_s: u64,
}

/// Why a call could not be made or was refused.
#[derive(Debug, thiserror::Error)]
pub enum CallError {
    /// The arguments name no method, or the JSON is not the method's request.
    #[error("{0}")]
    Usage(String),
    /// A key file could not be read, or the answer could not be written.
    #[error("{path}: {detail}")]
    File {
        /// The file.
        path: String,
        /// What went wrong.
        detail: String,
    },
    /// No connection to the gateway.
    #[error("cannot reach {addr}: {detail}")]
    Connect {
        /// The address.
        addr: String,
        /// What went wrong.
        detail: String,
    },
    /// The gateway answered with a status other than OK.
    #[error("{code}: {message}{reason}")]
    Refused {
        /// The status code's name.
        code: String,
        /// Its message.
        message: String,
        /// `(reason REASON)` when the status carries an ErrorInfo.
        reason: String,
    },
}

fn pool() -> Result<DescriptorPool, CallError> {
    DescriptorPool::decode(kopir_gateway::proto::FILE_DESCRIPTOR_SET)
        .map_err(|e| CallError::Usage(format!("the built-in descriptors: {e}")))
}

/// The method `name` names, by its full name or its service's short name.
fn method(pool: &DescriptorPool, name: &str) -> Result<MethodDescriptor, CallError> {
    let (service, method) = name
        .trim_start_matches('/')
        .rsplit_once(['/', '.'])
        .ok_or_else(|| {
            CallError::Usage(format!(
                "{name:?}: write SERVICE/METHOD, e.g. IdentityService/GetPerson"
            ))
        })?;
    pool.services()
        .filter(|s| s.full_name() == service || s.name() == service)
        .flat_map(|s| s.methods().collect::<Vec<_>>())
        .find(|m| m.name() == method)
        .ok_or_else(|| {
            let known: Vec<String> = pool
                .services()
                .flat_map(|s| s.methods().collect::<Vec<_>>())
                .map(|m| format!("{}/{}", m.parent_service().name(), m.name()))
                .collect();
            CallError::Usage(format!(
                "no method {name:?}; the gateway's methods: {}",
                known.join(", ")
            ))
        })
}

fn read(path: PathBuf) -> Result<Vec<u8>, CallError> {
    std::fs::read(&path).map_err(|e| CallError::File {
        path: path.display().to_string(),
        detail: format!("{e} (run `kopir demo` first, or point --pki-dir at the keys)"),
    })
}

async fn connect(args: &CallArgs) -> Result<Channel, CallError> {
    let dir = &args.pki_dir;
    let tls = ClientTlsConfig::new()
        .ca_certificate(Certificate::from_pem(read(dir.join("root.crt"))?))
        .domain_name("localhost")
        .identity(Identity::from_pem(
            read(dir.join(format!("{}.crt", args.client)))?,
            read(dir.join(format!("{}.key", args.client)))?,
        ));
    let failed = |e: tonic::transport::Error| CallError::Connect {
        addr: args.addr.clone(),
        detail: std::error::Error::source(&e).map_or_else(|| e.to_string(), ToString::to_string),
    };
    Channel::from_shared(format!("https://{}", args.addr))
        .map_err(|e| CallError::Usage(format!("--addr {}: {e}", args.addr)))?
        .tls_config(tls)
        .map_err(failed)?
        .connect()
        .await
        .map_err(failed)
}

fn refused(status: &tonic::Status) -> CallError {
    use tonic_types::StatusExt;
    CallError::Refused {
        code: kopir_gateway::metrics::code_name(status.code()).to_string(),
        message: status.message().to_string(),
        reason: status
            .get_details_error_info()
            .map(|i| format!(" (reason {})", i.reason))
            .unwrap_or_default(),
    }
}

/// The JSON of `bytes` read as `method`'s answer.
fn answer_json(method: &MethodDescriptor, bytes: &[u8]) -> Result<String, CallError> {
    let message = DynamicMessage::decode(method.output(), bytes).map_err(|e| {
        CallError::Usage(format!(
            "the answer is not a {}: {e}",
            method.output().full_name()
        ))
    })?;
    serde_json::to_string_pretty(&message)
        .map_err(|e| CallError::Usage(format!("the answer as JSON: {e}")))
}

/// Makes the call and prints the answer (every message of a server stream, until it ends).
pub async fn run(args: CallArgs) -> Result<(), CallError> {
    let pool = pool()?;
    let method = method(&pool, &args.method)?;
    if method.is_client_streaming() {
        return Err(CallError::Usage(format!(
            "{} takes a stream of requests; kopir call sends one (use grpcurl or a generated client)",
            method.full_name()
        )));
    }
    if args.save.is_some() && method.is_server_streaming() {
        return Err(CallError::Usage(
            "--save keeps a unary method's answer".into(),
        ));
    }
    let mut deserializer = serde_json::Deserializer::from_str(&args.data);
    let request = DynamicMessage::deserialize(method.input(), &mut deserializer)
        .and_then(|m| deserializer.end().map(|()| m))
        .map_err(|e| {
            CallError::Usage(format!(
                "--data is not a {}: {e}",
                method.input().full_name()
            ))
        })?;
    let path = PathAndQuery::try_from(format!(
        "/{}/{}",
        method.parent_service().full_name(),
        method.name()
    ))
    .map_err(|e| CallError::Usage(e.to_string()))?;
    let mut grpc = tonic::client::Grpc::new(connect(&args).await?);
    grpc.ready().await.map_err(|e| CallError::Connect {
        addr: args.addr.clone(),
        detail: e.to_string(),
    })?;
    let mut call = tonic::Request::new(request.encode_to_vec());
    call.set_timeout(Duration::from_secs(args.timeout_s.max(1)));
    let mut out = std::io::stdout();
    if method.is_server_streaming() {
        let mut stream = grpc
            .server_streaming(call, path, RawCodec)
            .await
            .map_err(|s| refused(&s))?
            .into_inner();
        while let Some(bytes) = stream.message().await.map_err(|s| refused(&s))? {
            print(&mut out, &answer_json(&method, &bytes)?);
        }
        return Ok(());
    }
    let answer = grpc
        .unary(call, path, RawCodec)
        .await
        .map_err(|s| refused(&s))?;
    // What the gateway says of the answer beside it: its request id, and whether it came from
    // the cache and was stale.
    let header = |name: &str| answer.metadata().get(name).and_then(|v| v.to_str().ok());
    let facts: Vec<String> = [
        ("request id", kopir_gateway::api::REQUEST_ID_HEADER),
        ("cache", kopir_gateway::api::CACHE_HEADER),
        ("stale", kopir_gateway::api::STALE_HEADER),
    ]
    .into_iter()
    .filter_map(|(label, name)| header(name).map(|v| format!("{label}: {v}")))
    .collect();
    eprintln!("{}", facts.join(", "));
    let bytes = answer.into_inner();
    print(&mut out, &answer_json(&method, &bytes)?);
    if let Some(file) = &args.save {
        std::fs::write(file, &bytes).map_err(|e| CallError::File {
            path: file.display().to_string(),
            detail: e.to_string(),
        })?;
        eprintln!(
            "saved the answer's {} bytes to {}",
            bytes.len(),
            file.display()
        );
    }
    Ok(())
}

fn print(out: &mut std::io::Stdout, json: &str) {
    use std::io::Write;
    // A closed stdout (the reader went away) is no failure of the call.
    writeln!(out, "{json}").ok();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn methods_are_found_by_short_or_full_name_and_unknown_ones_listed() {
        let pool = pool().expect("built-in descriptors");
        for name in [
            "IdentityService/GetPerson",
            "kopir.v1.IdentityService/GetPerson",
            "/kopir.v1.IdentityService/GetPerson",
            "kopir.v1.IdentityService.GetPerson",
        ] {
            let m = method(&pool, name).expect(name);
            assert_eq!(m.full_name(), "kopir.v1.IdentityService.GetPerson");
        }
        let err = method(&pool, "IdentityService/GetPersons").expect_err("no such method");
        assert!(
            err.to_string().contains("IdentityService/FindPersons"),
            "{err}"
        );
        assert!(method(&pool, "GetPerson").is_err());
    }

    #[test]
    fn a_request_that_is_not_the_methods_json_is_refused_before_any_connection() {
        let args = CallArgs {
            method: "IdentityService/GetPerson".into(),
            data: r#"{"iin": {"value": 5}"#.into(),
            addr: "127.0.0.1:1".into(),
            pki_dir: PathBuf::from("/nonexistent"),
            client: "portal".into(),
            save: None,
            timeout_s: 1,
        };
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        let err = runtime.block_on(run(args)).expect_err("bad JSON");
        assert!(matches!(err, CallError::Usage(_)), "{err}");
        assert!(err.to_string().contains("GetPersonRequest"), "{err}");
    }
}
