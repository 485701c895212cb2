//! A client's security settings from its properties: `security.protocol`, `ssl.*` (PEM files
//! or inline PEM, PKCS12 stores; JKS gets a conversion hint), `sasl.mechanism` with credentials from
//! `sasl.jaas.config` or `sasl.username`/`sasl.password` (OAUTHBEARER: [`super::oauth`]).
//! Values may use `${file:..}` and `${env:..}` providers; errors name the key, never a resolved
//! value.

use std::sync::Arc;

use strait_kafka::net::Connector;
use strait_kafka::{
    ClientIdentity, SaslConfig, SaslMechanism, Secret, TlsConnector, TlsSettings, TlsSettingsError,
    TrustRoots,
};

use super::client::ClientProps;
use super::error::{ConfigError, KeyProblem};
use super::{jaas, keystore, oauth, providers};

/// `security.protocol`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SecurityProtocol {
    /// No TLS, no SASL (Kafka's default).
    Plaintext,
    /// TLS only.
    Ssl,
    /// SASL without TLS.
    SaslPlaintext,
    /// SASL over TLS.
    SaslSsl,
}

impl SecurityProtocol {
    /// Whether the protocol uses TLS.
    pub fn tls(self) -> bool {
        matches!(self, SecurityProtocol::Ssl | SecurityProtocol::SaslSsl)
    }

    /// Whether the protocol uses SASL.
    pub fn sasl(self) -> bool {
        matches!(
            self,
            SecurityProtocol::SaslPlaintext | SecurityProtocol::SaslSsl
        )
    }
}

/// How one client secures its connections. `Debug` shows no secret.
#[derive(Debug, Clone)]
pub struct ClientSecurity {
    /// The protocol.
    pub protocol: SecurityProtocol,
    /// A TLS connector when the protocol uses TLS.
    pub connector: Option<Arc<dyn Connector>>,
    /// SASL settings when the protocol uses SASL.
    pub sasl: Option<SaslConfig>,
}

/// Reads the security settings of a client.
pub fn client_security(props: &ClientProps) -> Result<ClientSecurity, ConfigError> {
    let protocol = match value(props, "security.protocol")?.as_deref().map(str::trim) {
        None => SecurityProtocol::Plaintext,
        Some(p) => match p.to_ascii_uppercase().as_str() {
            "PLAINTEXT" => SecurityProtocol::Plaintext,
            "SSL" => SecurityProtocol::Ssl,
            "SASL_PLAINTEXT" => SecurityProtocol::SaslPlaintext,
            "SASL_SSL" => SecurityProtocol::SaslSsl,
            _ => {
                return Err(props.error(
                    "security.protocol",
                    KeyProblem::InvalidChoice {
                        value: p.to_owned(),
                        expected: "PLAINTEXT, SSL, SASL_PLAINTEXT or SASL_SSL",
                    },
                ))
            }
        },
    };
    let connector = if protocol.tls() {
        Some(tls_connector(props)?)
    } else {
        None
    };
    let sasl = if protocol.sasl() {
        Some(sasl_config(props)?)
    } else {
        None
    };
    Ok(ClientSecurity {
        protocol,
        connector,
        sasl,
    })
}

/// `sasl.jaas.config`, parsed, if set; its login module must be `module` (by class name), which
/// provides `what`.
pub(super) fn jaas_login(
    props: &ClientProps,
    module: &str,
    what: &str,
) -> Result<Option<jaas::JaasConfig>, ConfigError> {
    let Some(text) = value(props, "sasl.jaas.config")? else {
        return Ok(None);
    };
    let config = jaas::parse(&text).map_err(|reason| {
        invalid(
            props,
            "sasl.jaas.config",
            format!("invalid JAAS config: {reason}"),
        )
    })?;
    let class = module.rsplit('.').next().unwrap_or(module);
    if !config.module.ends_with(class) {
        return Err(invalid(
            props,
            "sasl.jaas.config",
            format!(
                "login module {} does not provide {what} (expected {module})",
                config.module
            ),
        ));
    }
    Ok(Some(config))
}

/// The value of `key` with config providers resolved.
pub(super) fn value(props: &ClientProps, key: &str) -> Result<Option<String>, ConfigError> {
    props
        .get(key)
        .map(|v| providers::resolve(v).map_err(|reason| invalid(props, key, reason)))
        .transpose()
}

pub(super) fn invalid(props: &ClientProps, key: &str, reason: String) -> ConfigError {
    props.error(key, KeyProblem::Invalid { reason })
}

fn read_file(props: &ClientProps, key: &str, path: &str) -> Result<Vec<u8>, ConfigError> {
    std::fs::read(path).map_err(|e| invalid(props, key, format!("cannot read {path}: {e}")))
}

pub(super) fn tls_connector(props: &ClientProps) -> Result<Arc<dyn Connector>, ConfigError> {
    let (trust, trust_key) = trust_roots(props)?;
    let (identity, identity_key) = client_identity(props)?;
    let verify_hostname = match value(props, "ssl.endpoint.identification.algorithm")? {
        None => true,
        Some(v) if v.trim().is_empty() => false,
        Some(v) if v.trim().eq_ignore_ascii_case("https") => true,
        Some(v) => {
            return Err(props.error(
                "ssl.endpoint.identification.algorithm",
                KeyProblem::InvalidChoice {
                    value: v,
                    expected: "https, or empty to turn hostname verification off",
                },
            ))
        }
    };
    let has_key_password = props.get("ssl.key.password").is_some();
    let settings = TlsSettings {
        trust,
        identity,
        verify_hostname,
    };
    let connector = TlsConnector::new(&settings).map_err(|e| {
        let key = match &e {
            TlsSettingsError::NoCaCertificate
            | TlsSettingsError::BadPem {
                what: "CA certificates",
                ..
            } => trust_key,
            TlsSettingsError::EncryptedKey if has_key_password => "ssl.key.password",
            _ => identity_key,
        };
        invalid(props, key, e.to_string())
    })?;
    Ok(Arc::new(
        connector.with_socket_buffers(props.socket_buffers()?),
    ))
}

fn store_type(props: &ClientProps, key: &str) -> Result<Option<String>, ConfigError> {
    Ok(value(props, key)?.map(|t| t.trim().to_ascii_uppercase()))
}

/// `ssl.truststore.certificates` (inline PEM), `ssl.truststore.location` (PEM file), or the
/// public web roots; returns the key the trust came from, for errors.
fn trust_roots(props: &ClientProps) -> Result<(TrustRoots, &'static str), ConfigError> {
    if let Some(pem) = value(props, "ssl.truststore.certificates")? {
        return Ok((
            TrustRoots::Pem(pem.into_bytes()),
            "ssl.truststore.certificates",
        ));
    }
    let key = "ssl.truststore.location";
    let Some(path) = value(props, key)? else {
        return Ok((TrustRoots::WebPki, key));
    };
    let bytes = read_file(props, key, &path)?;
    let declared = store_type(props, "ssl.truststore.type")?;
    match store_format(props, key, &path, declared.as_deref(), &bytes, Store::Trust)? {
        Format::Pem => Ok((TrustRoots::Pem(bytes), key)),
        Format::Pkcs12 => {
            let password = value(props, "ssl.truststore.password")?.unwrap_or_default();
            let store = keystore::read_pkcs12(&bytes, &password)
                .map_err(|reason| invalid(props, key, format!("{path}: {reason}")))?;
            if store.trusted.is_empty() {
                return Err(invalid(
                    props,
                    key,
                    format!("{path}: the PKCS12 trust store holds no trusted certificate entry"),
                ));
            }
            Ok((TrustRoots::Pem(store.trusted.into_bytes()), key))
        }
    }
}

/// `ssl.keystore.certificate.chain` + `ssl.keystore.key` (inline PEM) or
/// `ssl.keystore.location` (a PEM file holding the key and the chain).
fn client_identity(
    props: &ClientProps,
) -> Result<(Option<ClientIdentity>, &'static str), ConfigError> {
    let chain = value(props, "ssl.keystore.certificate.chain")?;
    let key = value(props, "ssl.keystore.key")?;
    match (chain, key) {
        (Some(chain), Some(key)) => {
            return Ok((
                Some(ClientIdentity {
                    cert_chain_pem: chain.into_bytes(),
                    key_pem: key.into_bytes(),
                }),
                "ssl.keystore.key",
            ))
        }
        (Some(_), None) | (None, Some(_)) => {
            return Err(invalid(
                props,
                "ssl.keystore.key",
                "ssl.keystore.certificate.chain and ssl.keystore.key must be set together".into(),
            ))
        }
        (None, None) => {}
    }
    let key = "ssl.keystore.location";
    let Some(path) = value(props, key)? else {
        return Ok((None, key));
    };
    let bytes = read_file(props, key, &path)?;
    let declared = store_type(props, "ssl.keystore.type")?;
    let identity = match store_format(props, key, &path, declared.as_deref(), &bytes, Store::Key)? {
        Format::Pem => ClientIdentity {
            cert_chain_pem: bytes.clone(),
            key_pem: bytes,
        },
        Format::Pkcs12 => {
            let password = value(props, "ssl.keystore.password")?.unwrap_or_default();
            if let Some(key_password) = value(props, "ssl.key.password")? {
                if key_password != password {
                    return Err(invalid(
                        props,
                        "ssl.key.password",
                        "differs from ssl.keystore.password: strait reads PKCS12 stores whose \
                         key is protected by the store password (keytool's default)"
                            .into(),
                    ));
                }
            }
            let store = keystore::read_pkcs12(&bytes, &password)
                .map_err(|reason| invalid(props, key, format!("{path}: {reason}")))?;
            let (key_pem, chain_pem) = store.key_and_chain.ok_or_else(|| {
                invalid(
                    props,
                    key,
                    format!("{path}: the PKCS12 key store holds no private key entry"),
                )
            })?;
            ClientIdentity {
                cert_chain_pem: chain_pem.into_bytes(),
                key_pem: key_pem.into_bytes(),
            }
        }
    };
    Ok((Some(identity), key))
}

#[derive(Clone, Copy)]
enum Store {
    Trust,
    Key,
}

enum Format {
    Pem,
    Pkcs12,
}

/// The store's format: declared, or guessed from its bytes (PEM text, or DER, which Java also
/// reads as PKCS12 under its default JKS type). JKS is refused with the command converting it.
fn store_format(
    props: &ClientProps,
    key: &str,
    path: &str,
    declared: Option<&str>,
    bytes: &[u8],
    store: Store,
) -> Result<Format, ConfigError> {
    let head = &bytes[..bytes.len().min(64 * 1024)];
    let looks_pem = String::from_utf8_lossy(head).contains("-----BEGIN ");
    let looks_der = bytes.first() == Some(&0x30);
    match declared {
        Some("PEM") => Ok(Format::Pem),
        Some("PKCS12") => Ok(Format::Pkcs12),
        None if looks_pem => Ok(Format::Pem),
        None if looks_der => Ok(Format::Pkcs12),
        Some("JKS") | None => {
            let (prefix, target) = match store {
                Store::Trust => ("ssl.truststore", "truststore.p12"),
                Store::Key => ("ssl.keystore", "keystore.p12"),
            };
            Err(invalid(
                props,
                key,
                format!(
                    "{path} is a JKS keystore{}, which strait cannot read; convert it to PKCS12 \
                     (same passwords): `keytool -importkeystore -srckeystore {path} \
                     -destkeystore {target} -deststoretype PKCS12`, then set \
                     {prefix}.location={target} and {prefix}.type=PKCS12 (or convert to PEM, \
                     see docs/security.md)",
                    if declared.is_none() {
                        " (Java's default type)"
                    } else {
                        ""
                    }
                ),
            ))
        }
        Some(other) => Err(invalid(
            props,
            key,
            format!("keystore type `{other}` is not supported: use PEM or PKCS12"),
        )),
    }
}

fn sasl_config(props: &ClientProps) -> Result<SaslConfig, ConfigError> {
    let mechanism = match value(props, "sasl.mechanism")? {
        None => {
            return Err(invalid(
                props,
                "sasl.mechanism",
                "is not set; Kafka's default GSSAPI (Kerberos) is not supported: set PLAIN, \
                 SCRAM-SHA-256, SCRAM-SHA-512 or OAUTHBEARER"
                    .into(),
            ))
        }
        Some(m) => m
            .parse::<SaslMechanism>()
            .map_err(|reason| invalid(props, "sasl.mechanism", reason))?,
    };
    if mechanism == SaslMechanism::OAuthBearer {
        return oauth::oauth_config(props);
    }
    let module = match mechanism {
        SaslMechanism::Plain => "org.apache.kafka.common.security.plain.PlainLoginModule",
        _ => "org.apache.kafka.common.security.scram.ScramLoginModule",
    };
    let (username, password) = match jaas_login(props, module, &format!("{mechanism} credentials"))?
    {
        Some(config) => {
            let option = |name: &str| {
                config.options.get(name).cloned().ok_or_else(|| {
                    invalid(
                        props,
                        "sasl.jaas.config",
                        format!("the JAAS config has no `{name}` option"),
                    )
                })
            };
            (option("username")?, option("password")?)
        }
        None => {
            let username = value(props, "sasl.username")?;
            let password = value(props, "sasl.password")?;
            match (username, password) {
                (Some(u), Some(p)) => (u, p),
                _ => {
                    return Err(invalid(
                        props,
                        "sasl.jaas.config",
                        format!(
                            "{mechanism} needs credentials: set sasl.jaas.config (e.g. \
                             org.apache.kafka.common.security.plain.PlainLoginModule required \
                             username=\"...\" password=\"${{file:/path/secrets.properties:password}}\";) \
                             or sasl.username and sasl.password"
                        ),
                    ))
                }
            }
        }
    };
    Ok(SaslConfig::new(mechanism, &username, Secret::new(password)))
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;

    fn props(pairs: &[(&str, &str)]) -> ClientProps {
        let map: BTreeMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        ClientProps::new("east", map)
    }

    #[test]
    fn plaintext_by_default_and_protocols_checked() {
        let s = client_security(&props(&[])).unwrap();
        assert_eq!(s.protocol, SecurityProtocol::Plaintext);
        assert!(s.connector.is_none() && s.sasl.is_none());
        let e = client_security(&props(&[("security.protocol", "TLS")])).unwrap_err();
        assert!(e.to_string().contains("east.security.protocol"), "{e}");
    }

    #[test]
    fn tls_connections_get_the_socket_buffers() {
        let s = client_security(&props(&[
            ("security.protocol", "SSL"),
            ("receive.buffer.bytes", "65536"),
        ]))
        .unwrap();
        let connector = format!("{:?}", s.connector.unwrap());
        assert!(
            connector.contains("receive: Some(65536)") && connector.contains("send: None"),
            "{connector}"
        );
    }

    #[test]
    fn jaas_credentials_and_secret_free_errors() {
        let jaas = "org.apache.kafka.common.security.scram.ScramLoginModule required \
                    username=\"alice\" password=\"hunter2-secret\";";
        let s = client_security(&props(&[
            ("security.protocol", "SASL_PLAINTEXT"),
            ("sasl.mechanism", "SCRAM-SHA-512"),
            ("sasl.jaas.config", jaas),
        ]))
        .unwrap();
        let sasl = s.sasl.unwrap();
        assert_eq!(sasl.username, "alice");
        assert_eq!(sasl.password.expose(), "hunter2-secret");
        assert!(!format!("{sasl:?}").contains("hunter2"));

        let e = client_security(&props(&[
            ("security.protocol", "SASL_PLAINTEXT"),
            ("sasl.mechanism", "PLAIN"),
            ("sasl.jaas.config", jaas),
        ]))
        .unwrap_err()
        .to_string();
        assert!(
            e.contains("PlainLoginModule") && !e.contains("hunter2"),
            "{e}"
        );

        let e = client_security(&props(&[("security.protocol", "SASL_SSL")]))
            .unwrap_err()
            .to_string();
        assert!(e.contains("sasl.mechanism") && e.contains("GSSAPI"), "{e}");
    }

    #[test]
    fn username_password_keys_and_providers() {
        std::env::set_var("STRAIT_SECURITY_TEST_PW", "from-env");
        let s = client_security(&props(&[
            ("security.protocol", "SASL_PLAINTEXT"),
            ("sasl.mechanism", "PLAIN"),
            ("sasl.username", "bob"),
            ("sasl.password", "${env:STRAIT_SECURITY_TEST_PW}"),
        ]))
        .unwrap();
        assert_eq!(s.sasl.unwrap().password.expose(), "from-env");
        let e = client_security(&props(&[
            ("security.protocol", "SASL_PLAINTEXT"),
            ("sasl.mechanism", "PLAIN"),
            ("sasl.username", "bob"),
            ("sasl.password", "${env:STRAIT_SECURITY_TEST_UNSET}"),
        ]))
        .unwrap_err()
        .to_string();
        assert!(
            e.contains("east.sasl.password") && e.contains("STRAIT_SECURITY_TEST_UNSET"),
            "{e}"
        );
    }

    #[test]
    fn java_keystores_get_conversion_commands() {
        let dir = tempfile::tempdir().unwrap();
        let jks = dir.path().join("truststore.jks");
        std::fs::write(&jks, [0xfe, 0xed, 0xfe, 0xed, 0, 0, 0, 2]).unwrap();
        let path = jks.to_str().unwrap();
        let e = client_security(&props(&[
            ("security.protocol", "SSL"),
            ("ssl.truststore.location", path),
            ("ssl.truststore.password", "changeit-secret"),
        ]))
        .unwrap_err()
        .to_string();
        assert!(
            e.contains("JKS") && e.contains("keytool -importkeystore"),
            "{e}"
        );
        assert!(e.contains("ssl.truststore.type=PKCS12"), "{e}");
        assert!(!e.contains("changeit-secret"), "{e}");
        let e = client_security(&props(&[
            ("security.protocol", "SSL"),
            ("ssl.keystore.location", path),
            ("ssl.keystore.type", "PKCS12"),
            ("ssl.keystore.password", "changeit-secret"),
        ]))
        .unwrap_err()
        .to_string();
        assert!(
            e.contains("east.ssl.keystore.location") && e.contains("cannot open the PKCS12 store"),
            "{e}"
        );
        assert!(!e.contains("changeit-secret"), "{e}");
    }

    #[test]
    fn hostname_verification_setting() {
        let ok = client_security(&props(&[
            ("security.protocol", "SSL"),
            ("ssl.endpoint.identification.algorithm", ""),
        ]))
        .unwrap();
        assert_eq!(ok.protocol, SecurityProtocol::Ssl);
        assert!(ok.connector.is_some() && ok.sasl.is_none());
        let e = client_security(&props(&[
            ("security.protocol", "SSL"),
            ("ssl.endpoint.identification.algorithm", "ldap"),
        ]))
        .unwrap_err()
        .to_string();
        assert!(
            e.contains("ssl.endpoint.identification.algorithm") && e.contains("`ldap`"),
            "{e}"
        );
    }

    #[test]
    fn printed_configuration_shows_no_secret() {
        let config = super::super::parse_str(
            "clusters = a, b\n\
             a.bootstrap.servers = h:1\n\
             b.bootstrap.servers = h:2\n\
             a->b.enabled = true\n\
             a.security.protocol = SASL_SSL\n\
             a.sasl.mechanism = PLAIN\n\
             a.sasl.jaas.config = x.PlainLoginModule required username=\"u\" password=\"jaas-secret\";\n\
             b.producer.ssl.key.password = key-secret\n\
             b.ssl.truststore.password = store-secret\n\
             a.sasl.oauthbearer.token = token-secret\n\
             a.consumer.max.poll.records = 7\n",
        )
        .unwrap();
        let printed = format!("{config:?}");
        for secret in ["jaas-secret", "key-secret", "store-secret", "token-secret"] {
            assert!(!printed.contains(secret), "{secret} in {printed}");
        }
        assert!(printed.contains("[redacted]") && printed.contains("max.poll.records"));
    }
}
