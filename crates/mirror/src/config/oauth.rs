//! OAUTHBEARER logins from a client's properties, with Kafka's keys: a token endpoint
//! (`sasl.oauthbearer.token.endpoint.url`, client-credentials grant, id and secret from the
//! `sasl.oauthbearer.client.credentials.*` keys or the JAAS `clientId`/`clientSecret`), a token
//! file (`file:` URL), or strait's static `sasl.oauthbearer.token`.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock, Weak};
use std::time::Duration;

use strait_kafka::net::http::HttpUrl;
use strait_kafka::net::sasl::oauth::refresh::RefreshConfig;
use strait_kafka::net::sasl::oauth::TokenEndpoint;
use strait_kafka::net::{Connector, TcpConnector};
use strait_kafka::{OAuthLogin, SaslConfig, SaslMechanism, Secret, TokenSource};

use super::client::ClientProps;
use super::error::{ConfigError, KeyProblem};
use super::security::{invalid, jaas_login, tls_connector, value};

const ENDPOINT_KEY: &str = "sasl.oauthbearer.token.endpoint.url";

/// The OAUTHBEARER settings of a client.
pub(super) fn oauth_config(props: &ClientProps) -> Result<SaslConfig, ConfigError> {
    if let Some(token) = value(props, "sasl.oauthbearer.token")? {
        return Ok(SaslConfig::new(
            SaslMechanism::OAuthBearer,
            "",
            Secret::new(token.trim()),
        ));
    }
    let Some(url) = value(props, ENDPOINT_KEY)? else {
        return Err(invalid(
            props,
            ENDPOINT_KEY,
            "OAUTHBEARER needs a token source: set sasl.oauthbearer.token.endpoint.url to the \
             identity provider's token endpoint (with the client id and secret) or to a file:// \
             token, or sasl.oauthbearer.token to a bearer token (unsecured tokens are not \
             supported)"
                .into(),
        ));
    };
    check_handler_classes(props)?;
    let jaas = jaas_login(
        props,
        "org.apache.kafka.common.security.oauthbearer.OAuthBearerLoginModule",
        "OAUTHBEARER tokens",
    )?;
    let jaas_option = |name: &str| jaas.as_ref().and_then(|j| j.options.get(name).cloned());
    let endpoint = if let Some(path) = url.strip_prefix("file:") {
        TokenEndpoint::File(path.trim_start_matches("//").into())
    } else {
        TokenEndpoint::Http(
            HttpUrl::parse(&url).map_err(|reason| invalid(props, ENDPOINT_KEY, reason))?,
        )
    };
    let (client_id, client_secret) = match &endpoint {
        TokenEndpoint::File(_) => (String::new(), String::new()),
        TokenEndpoint::Http(_) => {
            let id = value(props, "sasl.oauthbearer.client.credentials.client.id")?
                .or_else(|| jaas_option("clientId"));
            let secret = value(props, "sasl.oauthbearer.client.credentials.client.secret")?
                .or_else(|| jaas_option("clientSecret"));
            match (id, secret) {
                (Some(id), Some(secret)) if !id.is_empty() => (id, secret),
                _ => {
                    return Err(invalid(
                        props,
                        "sasl.oauthbearer.client.credentials.client.id",
                        "the client-credentials grant needs a client id and secret: set \
                         sasl.oauthbearer.client.credentials.client.id and .client.secret, or \
                         clientId=\"...\" clientSecret=\"...\" in sasl.jaas.config \
                         (org.apache.kafka.common.security.oauthbearer.OAuthBearerLoginModule)"
                            .into(),
                    ))
                }
            }
        }
    };
    let connector: Arc<dyn Connector> = match &endpoint {
        TokenEndpoint::Http(u) if u.tls => tls_connector(props)?,
        _ => Arc::new(TcpConnector::default()),
    };
    let extensions = jaas
        .as_ref()
        .map(|j| {
            j.options
                .iter()
                .filter_map(|(k, v)| Some((k.strip_prefix("extension_")?.to_owned(), v.clone())))
                .collect()
        })
        .unwrap_or_default();
    let login = OAuthLogin {
        cluster: props.cluster.clone(),
        url: url.clone(),
        endpoint,
        client_id,
        client_secret: Secret::new(client_secret),
        scope: value(props, "sasl.oauthbearer.scope")?.or_else(|| jaas_option("scope")),
        urlencode_header: props
            .get_bool("sasl.oauthbearer.header.urlencode")?
            .unwrap_or(false),
        subject_claim: value(props, "sasl.oauthbearer.sub.claim.name")?
            .unwrap_or_else(|| "sub".into()),
        extensions,
        refresh: refresh_config(props)?,
        connect_timeout: duration(props, "sasl.login.connect.timeout.ms", 10_000)?,
        read_timeout: duration(props, "sasl.login.read.timeout.ms", 10_000)?,
        retry_backoff: duration(props, "sasl.login.retry.backoff.ms", 100)?,
        retry_backoff_max: duration(props, "sasl.login.retry.backoff.max.ms", 10_000)?,
        connector,
    };
    Ok(SaslConfig::oauth(shared_source(props, login)))
}

/// One token source per login in the process, as Kafka's Java clients share a login per JAAS
/// config: a flow's consumer, producer and admin clients of a cluster (and flows that reach the
/// same cluster with the same settings) ask the provider once per refresh, not once each.
fn shared_source(props: &ClientProps, login: OAuthLogin) -> Arc<TokenSource> {
    static SOURCES: OnceLock<Mutex<HashMap<String, Weak<TokenSource>>>> = OnceLock::new();
    // Everything the login is made of: the cluster, its SASL and TLS keys as written.
    let mut fingerprint = props.cluster.clone();
    for (key, value) in &props.props {
        if key.starts_with("sasl.") || key.starts_with("ssl.") {
            fingerprint.push_str(&format!("\0{key}={value}"));
        }
    }
    let mut sources = SOURCES
        .get_or_init(Default::default)
        .lock()
        .expect("token source cache lock");
    sources.retain(|_, source| source.strong_count() > 0);
    if let Some(source) = sources.get(&fingerprint).and_then(Weak::upgrade) {
        return source;
    }
    let source = Arc::new(TokenSource::new(login));
    sources.insert(fingerprint, Arc::downgrade(&source));
    source
}

/// Kafka's client picks the login through classes; strait knows the client-credentials and
/// file logins, so any other class is an error rather than silently ignored.
fn check_handler_classes(props: &ClientProps) -> Result<(), ConfigError> {
    let checks: [(&str, &[&str]); 2] = [
        (
            "sasl.login.callback.handler.class",
            &["OAuthBearerLoginCallbackHandler"],
        ),
        (
            "sasl.oauthbearer.jwt.retriever.class",
            &[
                "DefaultJwtRetriever",
                "ClientCredentialsJwtRetriever",
                "FileJwtRetriever",
            ],
        ),
    ];
    for (key, known) in checks {
        if let Some(class) = value(props, key)? {
            let simple = class.rsplit('.').next().unwrap_or_default();
            if !known.contains(&simple) {
                return Err(invalid(
                    props,
                    key,
                    format!(
                        "class {class} is not supported: strait logs in with the \
                         client-credentials grant or a token file ({})",
                        known.join(", ")
                    ),
                ));
            }
        }
    }
    Ok(())
}

fn refresh_config(props: &ClientProps) -> Result<RefreshConfig, ConfigError> {
    let defaults = RefreshConfig::default();
    let ranged =
        |key: &str, default: f64, low: f64, high: f64, requirement: &'static str| match props
            .get_f64(key)?
        {
            None => Ok(default),
            Some(v) if (low..=high).contains(&v) => Ok(v),
            Some(v) => Err(props.error(
                key,
                KeyProblem::OutOfRange {
                    value: v.to_string(),
                    requirement,
                },
            )),
        };
    Ok(RefreshConfig {
        window_factor: ranged(
            "sasl.login.refresh.window.factor",
            defaults.window_factor,
            0.5,
            1.0,
            "must be between 0.5 and 1.0",
        )?,
        window_jitter: ranged(
            "sasl.login.refresh.window.jitter",
            defaults.window_jitter,
            0.0,
            0.25,
            "must be between 0 and 0.25",
        )?,
        min_period_secs: ranged(
            "sasl.login.refresh.min.period.seconds",
            defaults.min_period_secs as f64,
            0.0,
            900.0,
            "must be between 0 and 900",
        )? as u64,
        buffer_secs: ranged(
            "sasl.login.refresh.buffer.seconds",
            defaults.buffer_secs as f64,
            0.0,
            3600.0,
            "must be between 0 and 3600",
        )? as u64,
    })
}

fn duration(props: &ClientProps, key: &str, default_ms: u64) -> Result<Duration, ConfigError> {
    Ok(props
        .get_duration_ms(key)?
        .unwrap_or(Duration::from_millis(default_ms)))
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::super::security::client_security;
    use super::*;

    fn props(pairs: &[(&str, &str)]) -> ClientProps {
        let mut map: BTreeMap<String, String> = [
            ("security.protocol", "SASL_SSL"),
            ("sasl.mechanism", "OAUTHBEARER"),
        ]
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        map.extend(pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())));
        ClientProps::new("east", map)
    }

    fn login(pairs: &[(&str, &str)]) -> OAuthLogin {
        let sasl = client_security(&props(pairs)).unwrap().sasl.unwrap();
        sasl.oauth.expect("a token source").login().clone()
    }

    fn error(pairs: &[(&str, &str)]) -> String {
        client_security(&props(pairs)).unwrap_err().to_string()
    }

    const JAAS: &str = "org.apache.kafka.common.security.oauthbearer.OAuthBearerLoginModule \
                        required clientId=\"mirror\" clientSecret=\"jaas-secret\" scope=\"kafka\" \
                        extension_logicalCluster=\"lkc-1\";";

    #[test]
    fn a_static_token_is_still_accepted() {
        let s = client_security(&props(&[("sasl.oauthbearer.token", "abc")])).unwrap();
        let sasl = s.sasl.unwrap();
        assert!(sasl.oauth.is_none());
        assert_eq!(sasl.password.expose(), "abc");
    }

    #[test]
    fn client_credentials_from_jaas_as_mm2_writes_them() {
        let l = login(&[
            (ENDPOINT_KEY, "https://idp.example.com/oauth2/token"),
            (
                "sasl.login.callback.handler.class",
                "org.apache.kafka.common.security.oauthbearer.secured.OAuthBearerLoginCallbackHandler",
            ),
            ("sasl.jaas.config", JAAS),
        ]);
        assert_eq!(l.client_id, "mirror");
        assert_eq!(l.client_secret.expose(), "jaas-secret");
        assert_eq!(l.scope.as_deref(), Some("kafka"));
        assert_eq!(
            l.extensions,
            vec![("logicalCluster".into(), "lkc-1".into())]
        );
        assert!(matches!(&l.endpoint, TokenEndpoint::Http(u) if u.tls && u.port == 443));
        assert_eq!(
            (l.subject_claim.as_str(), l.urlencode_header),
            ("sub", false)
        );
        assert_eq!(l.refresh, RefreshConfig::default());
        assert!(!format!("{l:?}").contains("jaas-secret"));
    }

    #[test]
    fn kafka_4_keys_win_over_jaas_options() {
        let l = login(&[
            (ENDPOINT_KEY, "http://127.0.0.1:8080/token"),
            ("sasl.jaas.config", JAAS),
            ("sasl.oauthbearer.client.credentials.client.id", "from-key"),
            (
                "sasl.oauthbearer.client.credentials.client.secret",
                "key-secret",
            ),
            ("sasl.oauthbearer.scope", "other"),
            ("sasl.oauthbearer.header.urlencode", "true"),
            ("sasl.oauthbearer.sub.claim.name", "client_id"),
            ("sasl.login.refresh.window.factor", "0.6"),
            ("sasl.login.refresh.buffer.seconds", "10"),
            ("sasl.login.retry.backoff.max.ms", "2000"),
        ]);
        assert_eq!(
            (l.client_id.as_str(), l.client_secret.expose()),
            ("from-key", "key-secret")
        );
        assert_eq!(l.scope.as_deref(), Some("other"));
        assert!(l.urlencode_header);
        assert_eq!(l.subject_claim, "client_id");
        assert_eq!((l.refresh.window_factor, l.refresh.buffer_secs), (0.6, 10));
        assert_eq!(l.retry_backoff_max, Duration::from_secs(2));
    }

    #[test]
    fn the_clients_of_one_login_share_its_tokens() {
        let settings = [
            (ENDPOINT_KEY, "http://127.0.0.1:8080/token"),
            ("sasl.jaas.config", JAAS),
        ];
        let source = || {
            client_security(&props(&settings))
                .unwrap()
                .sasl
                .unwrap()
                .oauth
                .unwrap()
        };
        let (a, b) = (source(), source());
        assert!(
            Arc::ptr_eq(&a, &b),
            "two clients of one login share a source"
        );
        let other = client_security(&props(&[
            (ENDPOINT_KEY, "http://127.0.0.1:8080/token"),
            ("sasl.jaas.config", JAAS),
            ("sasl.oauthbearer.client.credentials.client.id", "another"),
        ]))
        .unwrap()
        .sasl
        .unwrap()
        .oauth
        .unwrap();
        assert!(
            !Arc::ptr_eq(&a, &other),
            "another client id is another login"
        );
        let weak = Arc::downgrade(&a);
        drop((a, b));
        assert!(
            weak.upgrade().is_none(),
            "the cache does not keep a source alive"
        );
    }

    #[test]
    fn a_token_file_needs_no_credentials() {
        let l = login(&[(ENDPOINT_KEY, "file:///var/run/secrets/token")]);
        assert!(
            matches!(&l.endpoint, TokenEndpoint::File(p) if p.to_str() == Some("/var/run/secrets/token"))
        );
    }

    /// Settings, the key the error must name, and a phrase of its fix.
    type ErrorCase<'a> = (&'a [(&'a str, &'a str)], &'a str, &'a str);

    #[test]
    fn errors_name_the_key_and_the_fix() {
        let cases: &[ErrorCase<'_>] = &[
            (
                &[],
                "east.sasl.oauthbearer.token.endpoint.url",
                "token source",
            ),
            (
                &[(ENDPOINT_KEY, "https://idp/token")],
                "client.credentials.client.id",
                "clientId",
            ),
            (&[(ENDPOINT_KEY, "idp/token")], ENDPOINT_KEY, "not a URL"),
            (
                &[
                    (ENDPOINT_KEY, "https://idp/token"),
                    ("sasl.jaas.config", JAAS),
                    ("sasl.oauthbearer.jwt.retriever.class", "org.example.Custom"),
                ],
                "jwt.retriever.class",
                "not supported",
            ),
            (
                &[
                    (ENDPOINT_KEY, "https://idp/token"),
                    (
                        "sasl.jaas.config",
                        "org.apache.kafka.common.security.plain.PlainLoginModule required;",
                    ),
                ],
                "sasl.jaas.config",
                "OAuthBearerLoginModule",
            ),
            (
                &[
                    (ENDPOINT_KEY, "https://idp/token"),
                    ("sasl.jaas.config", JAAS),
                    ("sasl.login.refresh.window.factor", "0.2"),
                ],
                "window.factor",
                "between 0.5 and 1.0",
            ),
        ];
        for (pairs, key, text) in cases {
            let e = error(pairs);
            assert!(e.contains(key) && e.contains(text), "{pairs:?}: {e}");
            assert!(!e.contains("jaas-secret"), "{e}");
        }
    }
}
