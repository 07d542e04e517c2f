//! TLS 1.3 for the one listener and every dialler (rustls, `ring` only).
//!
//! configd presents its own certificate: a self-signed one it creates in
//! `DATA_DIR/tls/` on first start, or the operator's (`tls_cert`,
//! `tls_key`). A peer trusts it by its SHA-256 fingerprint (pinned, or
//! recorded on first use in `known_servers`, as SSH does) or through a CA
//! (`ca_file`, name checked). Pinning and first use check the fingerprint
//! right after the TLS handshake, before a byte of ours is sent; rustls
//! has by then checked that the server holds the certificate's key.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{verify_tls12_signature, verify_tls13_signature, CryptoProvider};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use rustls::{DigitallySignedStruct, SignatureScheme};
use tokio::net::TcpStream;

pub use super::fingerprint::Fingerprint;
use super::known_servers::{KnownServers, Seen};
use super::stream::Stream;

#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error("cannot read {path}: {message}")]
    Read { path: PathBuf, message: String },
    #[error("cannot write {path}: {source}")]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}: {message}")]
    Invalid { path: PathBuf, message: String },
    #[error("cannot create a certificate: {0}")]
    Generate(String),
    #[error("TLS setup: {0}")]
    Setup(#[from] rustls::Error),
    #[error(transparent)]
    Secret(#[from] crate::auth::SecretFileError),
}

// The certificate-file half of `Fingerprint`, beside the PEM reading.
impl Fingerprint {
    /// The fingerprint of the first certificate in a PEM file.
    pub fn of_pem_file(path: &Path) -> Result<Fingerprint, TlsError> {
        let certs = read_certs(path)?;
        Ok(Fingerprint::of_der(&certs[0]))
    }
}

/// ring, with AES-128-GCM preferred: as strong as needed here and about a
/// third cheaper per byte than AES-256 (log streams are bulk). Made once.
pub fn provider() -> Arc<CryptoProvider> {
    static PROVIDER: std::sync::OnceLock<Arc<CryptoProvider>> = std::sync::OnceLock::new();
    PROVIDER
        .get_or_init(|| {
            use rustls::crypto::ring::cipher_suite::{
                TLS13_AES_128_GCM_SHA256, TLS13_AES_256_GCM_SHA384, TLS13_CHACHA20_POLY1305_SHA256,
            };
            Arc::new(CryptoProvider {
                cipher_suites: vec![
                    TLS13_AES_128_GCM_SHA256,
                    TLS13_AES_256_GCM_SHA384,
                    TLS13_CHACHA20_POLY1305_SHA256,
                ],
                ..rustls::crypto::ring::default_provider()
            })
        })
        .clone()
}

fn read_certs(path: &Path) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let text = std::fs::read(path).map_err(|e| TlsError::Read {
        path: path.to_path_buf(),
        message: e.to_string(),
    })?;
    let certs: Vec<_> = CertificateDer::pem_slice_iter(&text)
        .collect::<Result<_, _>>()
        .map_err(|e| TlsError::Invalid {
            path: path.to_path_buf(),
            message: format!("not a PEM certificate file: {e}"),
        })?;
    if certs.is_empty() {
        return Err(TlsError::Invalid {
            path: path.to_path_buf(),
            message: "no CERTIFICATE in it; expected a PEM certificate (chain)".into(),
        });
    }
    Ok(certs)
}

fn read_key(path: &Path) -> Result<PrivateKeyDer<'static>, TlsError> {
    crate::auth::check_private(path)?;
    let text = std::fs::read(path).map_err(|e| TlsError::Read {
        path: path.to_path_buf(),
        message: e.to_string(),
    })?;
    PrivateKeyDer::from_pem_slice(&text).map_err(|e| TlsError::Invalid {
        path: path.to_path_buf(),
        message: format!("no usable PEM private key in it: {e}"),
    })
}

/// Where configd's certificate and key are.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CertPaths {
    pub cert: PathBuf,
    pub key: PathBuf,
    /// Created on first start when missing (configd's own), or the
    /// operator's, which must exist.
    pub self_signed: bool,
}

impl CertPaths {
    pub fn in_data_dir(data_dir: &Path) -> CertPaths {
        CertPaths {
            cert: data_dir.join("tls").join("cert.pem"),
            key: data_dir.join("tls").join("key.pem"),
            self_signed: true,
        }
    }
}

/// Creates configd's self-signed certificate and key (0600) when there is
/// none yet; true when it made them.
pub fn ensure_self_signed(paths: &CertPaths) -> Result<bool, TlsError> {
    if !paths.self_signed || paths.cert.exists() {
        return Ok(false);
    }
    let mut names = vec!["localhost".to_string(), "monit-configd".to_string()];
    if let Some(host) = nix::unistd::gethostname()
        .ok()
        .and_then(|h| h.into_string().ok())
        .filter(|h| !h.is_empty() && h != "localhost")
    {
        names.push(host);
    }
    let made =
        rcgen::generate_simple_self_signed(names).map_err(|e| TlsError::Generate(e.to_string()))?;
    let write = |path: &Path, text: &str, private: bool| -> Result<(), TlsError> {
        let werr = |source| TlsError::Write {
            path: path.to_path_buf(),
            source,
        };
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(werr)?;
        }
        let tmp = path.with_extension("tmp");
        if private {
            crate::auth::write_private(&tmp, text).map_err(werr)?;
        } else {
            std::fs::write(&tmp, text).map_err(werr)?;
        }
        std::fs::rename(&tmp, path).map_err(werr)
    };
    // The key first: a certificate without its key would be kept forever.
    write(&paths.key, &made.signing_key.serialize_pem(), true)?;
    write(&paths.cert, &made.cert.pem(), false)?;
    Ok(true)
}

/// What a dialler says it is in its TLS ClientHello (ALPN), so configd
/// can tell operators from nodes before it spends a handshake on them
/// (slots kept for operators). A claim only: the token handshake decides.
pub const ALPN_NODE: &[u8] = b"monit-node";
pub const ALPN_CLIENT: &[u8] = b"monit-client";

/// configd's TLS settings, loaded from its certificate and key.
pub struct ServerTls {
    pub acceptor: tokio_rustls::TlsAcceptor,
    pub config: Arc<rustls::ServerConfig>,
    pub fingerprint: Fingerprint,
}

impl ServerTls {
    pub fn load(paths: &CertPaths) -> Result<ServerTls, TlsError> {
        let certs = read_certs(&paths.cert)?;
        let key = read_key(&paths.key)?;
        let fingerprint = Fingerprint::of_der(&certs[0]);
        let config = rustls::ServerConfig::builder_with_provider(provider())
            .with_protocol_versions(&[&rustls::version::TLS13])?
            .with_no_client_auth()
            .with_single_cert(certs, key)
            .map_err(|e| TlsError::Invalid {
                path: paths.key.clone(),
                message: format!("does not fit the certificate {}: {e}", paths.cert.display()),
            })?;
        let config = Arc::new(config);
        Ok(ServerTls {
            acceptor: tokio_rustls::TlsAcceptor::from(config.clone()),
            config,
            fingerprint,
        })
    }
}

/// How a dialler decides that the server is the right one.
#[derive(Debug, Clone)]
pub enum Trust {
    /// `tls = false`: plain TCP, only when told so on both ends.
    Plaintext,
    /// `server_fingerprint`.
    Pinned(Fingerprint),
    /// `ca_file`: a CA-signed certificate for the server's name.
    Ca(Arc<rustls::RootCertStore>),
    /// Neither: trust on first use, recorded in this `known_servers` file.
    FirstUse(PathBuf),
}

impl Trust {
    /// Reads a `ca_file` (PEM, one or more CA certificates).
    pub fn ca_file(path: &Path) -> Result<Trust, TlsError> {
        let mut roots = rustls::RootCertStore::empty();
        for cert in read_certs(path)? {
            roots.add(cert).map_err(|e| TlsError::Invalid {
                path: path.to_path_buf(),
                message: format!("not a usable CA certificate: {e}"),
            })?;
        }
        Ok(Trust::Ca(Arc::new(roots)))
    }
}

#[derive(Debug, thiserror::Error)]
pub enum TrustError {
    #[error("TLS handshake with {server} failed: {reason}{hint}")]
    Handshake {
        server: String,
        reason: String,
        hint: &'static str,
    },
    #[error("configd at {server} presents certificate {got}, not the pinned {pinned}: refusing to connect (someone may be in the middle; if configd's certificate was changed on purpose, pin the new fingerprint from `monit-configd fingerprint`)")]
    Pinned {
        server: String,
        pinned: Fingerprint,
        got: Fingerprint,
    },
    #[error("configd at {server} presents certificate {got}, but {file} line {line} records {known} for it: refusing to connect. Someone may be in the middle, or configd's certificate changed; if you know it changed on purpose, check `monit-configd fingerprint` on the configd host and delete line {line} of {file}")]
    Changed {
        server: String,
        known: Fingerprint,
        got: Fingerprint,
        file: PathBuf,
        line: usize,
    },
    #[error("cannot record configd's certificate: {0}")]
    Known(String),
}

impl TrustError {
    /// A refusal that retrying will not heal.
    pub fn is_mismatch(&self) -> bool {
        matches!(self, TrustError::Pinned { .. } | TrustError::Changed { .. })
    }
}

/// Accepts any certificate; the handshake signature is still checked, so
/// the server holds the key of the certificate we then check by
/// fingerprint (see the module docs).
#[derive(Debug)]
struct FingerprintLater(Arc<CryptoProvider>);

impl ServerCertVerifier for FingerprintLater {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

fn client_config(trust: &Trust, alpn: &[u8]) -> Result<rustls::ClientConfig, rustls::Error> {
    let provider = provider();
    let builder = rustls::ClientConfig::builder_with_provider(provider.clone())
        .with_protocol_versions(&[&rustls::version::TLS13])?;
    let mut config = match trust {
        Trust::Ca(roots) => builder
            .with_root_certificates(roots.clone())
            .with_no_client_auth(),
        _ => builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(FingerprintLater(provider)))
            .with_no_client_auth(),
    };
    // Each connection proves itself in full, as a fresh process would.
    config.resumption = rustls::client::Resumption::disabled();
    config.alpn_protocols = vec![alpn.to_vec()];
    Ok(config)
}

/// The name to ask for (SNI) and, with a CA, to check: the host part of
/// `HOST:PORT`.
fn server_name(server: &str) -> ServerName<'static> {
    let host = match server.rsplit_once(':') {
        Some((h, _)) => h.trim_start_matches('[').trim_end_matches(']'),
        None => server,
    };
    ServerName::try_from(host.to_string()).unwrap_or_else(|_| {
        ServerName::try_from("monit-configd")
            .unwrap_or(ServerName::IpAddress(std::net::Ipv4Addr::LOCALHOST.into()))
    })
}

/// What a successful `secure` has to say: a first-use notice to show.
pub struct Secured {
    pub stream: Stream,
    /// Set when this was the first connection and the fingerprint was
    /// just recorded.
    pub notice: Option<String>,
}

/// Runs TLS over `tcp` and checks the server against `trust`; `alpn`
/// says what we are (`ALPN_NODE`, `ALPN_CLIENT`).
pub async fn secure(
    tcp: TcpStream,
    server: &str,
    trust: &Trust,
    alpn: &[u8],
) -> Result<Secured, TrustError> {
    let handshake_err = |reason: String, hint: &'static str| TrustError::Handshake {
        server: server.to_string(),
        reason,
        hint,
    };
    let config = match trust {
        Trust::Plaintext => {
            return Ok(Secured {
                stream: Stream::Plain(tcp),
                notice: None,
            })
        }
        t => client_config(t, alpn).map_err(|e| handshake_err(e.to_string(), ""))?,
    };
    let connector = tokio_rustls::TlsConnector::from(Arc::new(config));
    let tls = connector
        .connect(server_name(server), tcp)
        .await
        .map_err(|e| {
            let hint = if e.to_string().contains("corrupt message")
                || e.kind() == std::io::ErrorKind::InvalidData
            {
                "; is configd's listener plaintext (tls = false)? Then set tls = false here too"
            } else {
                ""
            };
            handshake_err(e.to_string(), hint)
        })?;
    let got = tls
        .get_ref()
        .1
        .peer_certificates()
        .and_then(|c| c.first())
        .map(|c| Fingerprint::of_der(c))
        .ok_or_else(|| handshake_err("the server sent no certificate".into(), ""))?;
    let notice = match trust {
        Trust::Pinned(pinned) if *pinned != got => {
            return Err(TrustError::Pinned {
                server: server.to_string(),
                pinned: *pinned,
                got,
            })
        }
        Trust::FirstUse(file) => {
            let known = KnownServers::new(file.clone());
            match known.check_or_record(server, got).map_err(TrustError::Known)? {
                Seen::Known => None,
                Seen::Recorded => Some(format!(
                    "first connection to configd at {server}: trusting its certificate {got} (recorded in {}; compare with `monit-configd fingerprint` on the configd host)",
                    file.display()
                )),
                Seen::Changed { known, line } => {
                    return Err(TrustError::Changed {
                        server: server.to_string(),
                        known,
                        got,
                        file: file.clone(),
                        line,
                    })
                }
            }
        }
        _ => None,
    };
    Ok(Secured {
        stream: Stream::Client(Box::new(tls)),
        notice,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fingerprints_parse_and_print() {
        let f = Fingerprint::of_der(b"x");
        let text = f.to_string();
        assert!(text.starts_with("sha256:") && text.len() == 7 + 64);
        assert_eq!(Fingerprint::parse(&text), Ok(f));
        assert_eq!(
            Fingerprint::parse(&text.to_uppercase().replace("SHA256", "sha256")),
            Ok(f)
        );
        assert!(Fingerprint::parse("sha256:abcd").is_err());
        assert!(Fingerprint::parse(&text[7..]).is_err());
        assert!(Fingerprint::parse("sha1:00").is_err());
    }

    #[test]
    fn self_signed_is_made_once_with_a_private_key() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let paths = CertPaths::in_data_dir(dir.path());
        assert!(ensure_self_signed(&paths).unwrap());
        assert!(!ensure_self_signed(&paths).unwrap());
        let mode = std::fs::metadata(&paths.key).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        let tls = ServerTls::load(&paths).unwrap();
        assert_eq!(
            tls.fingerprint,
            Fingerprint::of_pem_file(&paths.cert).unwrap()
        );
        std::fs::write(&paths.cert, "junk").unwrap();
        let e = ServerTls::load(&paths).err().unwrap().to_string();
        assert!(e.contains("cert.pem"), "{e}");
    }

    #[test]
    fn names_for_sni() {
        assert!(matches!(
            server_name("127.0.0.1:7400"),
            ServerName::IpAddress(_)
        ));
        assert!(matches!(
            server_name("[::1]:7400"),
            ServerName::IpAddress(_)
        ));
        assert!(matches!(
            server_name("configd.example:7400"),
            ServerName::DnsName(_)
        ));
    }
}
