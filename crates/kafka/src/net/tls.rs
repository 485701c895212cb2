//! TLS to brokers with rustls (ring): server verification against PEM CAs or the public web
//! roots, hostname verification that can be turned off, and client certificates (mTLS).

use std::fmt;
use std::io;
use std::sync::Arc;
use std::time::Duration;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::WebPkiServerVerifier;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use rustls::{
    CertificateError, ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme,
};

use super::transport::{BoxStream, ConnectFuture, Connector, SocketBuffers, TcpConnector};

/// Which certificate authorities a client trusts.
#[derive(Clone, Default)]
pub enum TrustRoots {
    /// The public web PKI roots (Mozilla's list, compiled in).
    #[default]
    WebPki,
    /// CA certificates in PEM (`ssl.truststore.location` with type PEM, or
    /// `ssl.truststore.certificates`).
    Pem(Vec<u8>),
}

/// A client certificate chain and its private key, both PEM.
#[derive(Clone)]
pub struct ClientIdentity {
    /// Certificate chain, leaf first.
    pub cert_chain_pem: Vec<u8>,
    /// Unencrypted private key (PKCS#8, PKCS#1 or SEC1).
    pub key_pem: Vec<u8>,
}

/// TLS settings of one cluster.
#[derive(Clone)]
pub struct TlsSettings {
    /// Trusted CAs.
    pub trust: TrustRoots,
    /// Client certificate for mTLS, if any.
    pub identity: Option<ClientIdentity>,
    /// Whether the broker's certificate must name the host connected to
    /// (`ssl.endpoint.identification.algorithm=https`, Kafka's default).
    pub verify_hostname: bool,
}

impl Default for TlsSettings {
    fn default() -> Self {
        TlsSettings {
            trust: TrustRoots::WebPki,
            identity: None,
            verify_hostname: true,
        }
    }
}

impl fmt::Debug for TlsSettings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TlsSettings")
            .field(
                "trust",
                &match self.trust {
                    TrustRoots::WebPki => "webpki roots",
                    TrustRoots::Pem(_) => "PEM CAs",
                },
            )
            .field("client_certificate", &self.identity.is_some())
            .field("verify_hostname", &self.verify_hostname)
            .finish()
    }
}

/// Why TLS settings cannot be used (the message never contains key material).
#[derive(Debug, thiserror::Error)]
pub enum TlsSettingsError {
    /// No certificate could be read from the trust PEM.
    #[error("the trusted CA PEM contains no certificate")]
    NoCaCertificate,
    /// A PEM section could not be parsed.
    #[error("cannot parse {what}: {reason}")]
    BadPem {
        /// What was being read ("CA certificates", "client certificate", "private key").
        what: &'static str,
        /// The parser's complaint.
        reason: String,
    },
    /// The private key is encrypted, which is not supported.
    #[error(
        "the private key is encrypted (ENCRYPTED PRIVATE KEY); strait reads unencrypted keys only: \
         decrypt it with `openssl pkcs8 -in key.pem -out key-unencrypted.pem` and protect the file"
    )]
    EncryptedKey,
    /// The private key cannot be used by the TLS library.
    #[error(
        "the private key cannot be used ({0}); an EC key stored without its public key (as \
         keytool writes them) must be rewritten: `openssl ec -in key.pem -out key-ec.pem` \
         (extract it from a PKCS12 store first with `openssl pkcs12 -in store.p12 -nocerts -nodes`)"
    )]
    UnusableKey(String),
    /// rustls rejected the configuration.
    #[error("{0}")]
    Rustls(#[from] rustls::Error),
}

/// Opens TLS streams over TCP.
#[derive(Clone)]
pub struct TlsConnector {
    config: Arc<ClientConfig>,
    settings: Arc<str>,
    tcp: TcpConnector,
}

impl fmt::Debug for TlsConnector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "TlsConnector({}, {:?})", self.settings, self.tcp.buffers)
    }
}

impl TlsConnector {
    /// Builds a connector from settings.
    pub fn new(settings: &TlsSettings) -> Result<TlsConnector, TlsSettingsError> {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let mut roots = RootCertStore::empty();
        match &settings.trust {
            TrustRoots::WebPki => roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned()),
            TrustRoots::Pem(pem) => {
                for cert in CertificateDer::pem_slice_iter(pem) {
                    let cert = cert.map_err(|e| bad_pem("CA certificates", e))?;
                    roots.add(cert)?;
                }
                if roots.is_empty() {
                    return Err(TlsSettingsError::NoCaCertificate);
                }
            }
        }
        let verifier =
            WebPkiServerVerifier::builder_with_provider(Arc::new(roots), provider.clone())
                .build()
                .map_err(|e| TlsSettingsError::BadPem {
                    what: "CA certificates",
                    reason: e.to_string(),
                })?;
        let builder = ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()?
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(Verifier {
                inner: verifier,
                verify_hostname: settings.verify_hostname,
            }));
        let config = match &settings.identity {
            None => builder.with_no_client_auth(),
            Some(identity) => {
                let chain = CertificateDer::pem_slice_iter(&identity.cert_chain_pem)
                    .collect::<Result<Vec<_>, _>>()
                    .map_err(|e| bad_pem("client certificate", e))?;
                if chain.is_empty() {
                    return Err(TlsSettingsError::BadPem {
                        what: "client certificate",
                        reason: "no CERTIFICATE section found".into(),
                    });
                }
                let key = read_key(&identity.key_pem)?;
                builder
                    .with_client_auth_cert(chain, key)
                    .map_err(|e| match e {
                        rustls::Error::General(reason) => TlsSettingsError::UnusableKey(reason),
                        other => TlsSettingsError::Rustls(other),
                    })?
            }
        };
        Ok(TlsConnector {
            config: Arc::new(config),
            settings: format!("{settings:?}").into(),
            tcp: TcpConnector::default(),
        })
    }

    /// The same TLS over TCP connections with `buffers` set on each socket.
    pub fn with_socket_buffers(mut self, buffers: SocketBuffers) -> Self {
        self.tcp = TcpConnector::new(buffers);
        self
    }
}

fn read_key(pem: &[u8]) -> Result<PrivateKeyDer<'static>, TlsSettingsError> {
    if String::from_utf8_lossy(pem).contains("-----BEGIN ENCRYPTED PRIVATE KEY-----") {
        return Err(TlsSettingsError::EncryptedKey);
    }
    PrivateKeyDer::from_pem_slice(pem).map_err(|e| bad_pem("private key", e))
}

fn bad_pem(what: &'static str, e: rustls::pki_types::pem::Error) -> TlsSettingsError {
    // The pem error names sections and positions, never the bytes of a key.
    TlsSettingsError::BadPem {
        what,
        reason: e.to_string(),
    }
}

impl Connector for TlsConnector {
    fn connect<'a>(&'a self, host: &'a str, port: u16, timeout: Duration) -> ConnectFuture<'a> {
        Box::pin(async move {
            let tcp = self.tcp.open(host, port, timeout).await?;
            let name = ServerName::try_from(host.to_owned())
                .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e))?;
            let connector = tokio_rustls::TlsConnector::from(self.config.clone());
            let tls = tokio::time::timeout(timeout, connector.connect(name, tcp))
                .await
                .map_err(|_| {
                    io::Error::new(io::ErrorKind::TimedOut, "TLS handshake timed out")
                })??;
            Ok(Box::new(tls) as BoxStream)
        })
    }
}

/// The rustls error inside an I/O error from a TLS handshake, if that is what failed.
pub(crate) fn tls_error(e: &io::Error) -> Option<&rustls::Error> {
    e.get_ref()?.downcast_ref::<rustls::Error>()
}

/// Web PKI verification; with hostname verification off, a certificate valid for another name
/// is accepted (chain, expiry and signatures are still checked).
#[derive(Debug)]
struct Verifier {
    inner: Arc<WebPkiServerVerifier>,
    verify_hostname: bool,
}

impl ServerCertVerifier for Verifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        match self.inner.verify_server_cert(
            end_entity,
            intermediates,
            server_name,
            ocsp_response,
            now,
        ) {
            Err(rustls::Error::InvalidCertificate(
                CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. },
            )) if !self.verify_hostname => Ok(ServerCertVerified::assertion()),
            other => other,
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.inner.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.inner.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.inner.supported_verify_schemes()
    }
}
