//! OAUTHBEARER with an OIDC identity provider against Apache Kafka's own token validation
//! (`OAuthBearerValidatorCallbackHandler`, JWKS, issuer and audience): the client-credentials
//! flow, token refresh before expiry, KIP-368 re-authentication on a live connection, an
//! identity provider outage, and the errors of a wrong secret or an untrusted token.

use std::sync::Arc;
use std::time::{Duration, Instant};

use kafka_protocol::messages::MetadataRequest;
use strait_fixtures::*;
use strait_kafka::net::http::HttpUrl;
use strait_kafka::net::sasl::oauth::refresh::RefreshConfig;
use strait_kafka::net::sasl::oauth::TokenEndpoint;
use strait_kafka::net::{Connection, ConnectionOptions, TcpConnector};
use strait_kafka::{
    Cluster, ClusterConfig, Error, OAuthError, OAuthLogin, SaslConfig, Secret, TlsConnector,
    TlsSettings, TokenSource, TrustRoots,
};
use strait_testkit::{
    BrokerKind, IdentityProvider, IdentityProviderOptions, KafkaCluster, KafkaOptions,
    SecureListener, TestCa, Usage,
};

strait_testkit::per_broker!(;
    // Only Apache Kafka validates OAuth tokens itself here.
    kafka_only: tokens_refresh_and_sessions_renew_on_the_same_connection,
    a_wrong_client_secret_is_a_clear_error,
    the_broker_refuses_a_token_signed_by_another_key,
);

const CLIENT: &str = "strait-mirror";
const SECRET: &str = "idp-Secret-7f3a";

fn identity_provider(token_lifetime: Duration) -> IdentityProvider {
    IdentityProvider::start(IdentityProviderOptions {
        clients: vec![(CLIENT.into(), SECRET.into())],
        token_lifetime,
        ..IdentityProviderOptions::default()
    })
    .expect("the identity provider starts")
}

/// A Kafka broker whose SECURE listener takes OAUTHBEARER tokens of `idp`, with sessions of at
/// most `reauth_ms` (`connections.max.reauth.ms`).
async fn kafka_trusting(idp: &IdentityProvider, reauth_ms: u64) -> KafkaCluster {
    let options = KafkaOptions::default()
        .secure(SecureListener::OAuthBearer {
            jwks_url: idp.jwks_url(),
            issuer: idp.issuer().to_owned(),
            audience: idp.audience().to_owned(),
        })
        .broker_config("connections.max.reauth.ms", &reauth_ms.to_string());
    tokio::task::spawn_blocking(move || KafkaCluster::start(options))
        .await
        .unwrap()
        .expect("Kafka with an OAUTHBEARER listener starts")
}

fn login(idp: &IdentityProvider, secret: &str) -> OAuthLogin {
    OAuthLogin {
        cluster: "east".into(),
        url: idp.token_url(),
        endpoint: TokenEndpoint::Http(HttpUrl::parse(&idp.token_url()).unwrap()),
        client_id: CLIENT.into(),
        client_secret: Secret::new(secret),
        scope: Some("kafka".into()),
        urlencode_header: false,
        subject_claim: "sub".into(),
        extensions: Vec::new(),
        refresh: RefreshConfig::default(),
        connect_timeout: Duration::from_secs(5),
        read_timeout: Duration::from_secs(5),
        retry_backoff: Duration::from_millis(100),
        retry_backoff_max: Duration::from_secs(1),
        connector: Arc::new(TcpConnector::default()),
    }
}

fn cluster_config(node: &KafkaCluster, source: Arc<TokenSource>) -> ClusterConfig {
    let mut config = ClusterConfig::new("east", &node.secure_bootstrap().unwrap()).unwrap();
    config.sasl = Some(SaslConfig::oauth(source));
    config.retry.max_attempts = 2;
    config
}

/// Tokens live 12 s and sessions at most 4 s: over 25 s of requests on one connection the
/// client renews its session several times on that connection (KIP-368) and refreshes its
/// token before it expires, and no request fails. Data flows over the same login.
async fn tokens_refresh_and_sessions_renew_on_the_same_connection(_kind: BrokerKind) {
    let idp = identity_provider(Duration::from_secs(12));
    let node = kafka_trusting(&idp, 4000).await;
    let source = Arc::new(TokenSource::new(login(&idp, SECRET)));
    let port = node.secure_bootstrap().unwrap();
    let (host, port) = port.split(',').next().unwrap().rsplit_once(':').unwrap();
    let options = ConnectionOptions {
        cluster: "east".into(),
        client_id: "oauth-test".into(),
        connect_timeout: Duration::from_secs(10),
        request_timeout: Duration::from_secs(10),
        connector: Arc::new(TcpConnector::default()),
        sasl: Some(Arc::new(SaslConfig::oauth(source.clone()))),
    };
    let conn = Connection::open(options, host, port.parse().unwrap())
        .await
        .expect("OAUTHBEARER login with a token from the identity provider");
    let started = Instant::now();
    let mut requests = 0;
    while started.elapsed() < Duration::from_secs(25) {
        let response = conn
            .send(&MetadataRequest::default())
            .await
            .unwrap_or_else(|e| panic!("request {requests} at {:?}: {e}", started.elapsed()));
        assert!(!response.brokers.is_empty());
        requests += 1;
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert!(!conn.is_closed(), "the connection was closed");
    let renewed = conn.reauthentications();
    assert!(
        conn.reauthentications() >= 4,
        "25 s of 4 s sessions renew at least 4 times on the connection, got {}",
        conn.reauthentications()
    );
    assert!(
        source.tokens_fetched() >= 2 && idp.issued_to(CLIENT) == source.tokens_fetched(),
        "a 12 s token is refreshed within 25 s: fetched {}, issued {}",
        source.tokens_fetched(),
        idp.issued_to(CLIENT)
    );
    // The same login carries produce and fetch (new connections take the cached token).
    let cluster = Cluster::connect(cluster_config(&node, source.clone()))
        .await
        .expect("cluster over OAUTHBEARER");
    create_topic(&connect("plain", &node.bootstrap()).await, "oauth-data", 1).await;
    let records = rich_records(3, 20);
    let producer = strait_kafka::Producer::idempotent(&cluster)
        .await
        .expect("producer");
    let ack = producer
        .send(
            "oauth-data",
            0,
            &batch(strait_kafka::batch::Compression::Lz4, &records),
        )
        .await
        .expect("produce over OAUTHBEARER");
    let read = read_from(&cluster, "oauth-data", 0, ack.base_offset).await;
    assert_same_records("oauth-data", &records, &read);
    // Idle past its session's end, the connection counts as closed (the broker would drop it
    // at the next request): clients open a new one instead of failing a request on it.
    tokio::time::sleep(Duration::from_secs(5)).await;
    assert!(
        conn.is_closed(),
        "a connection idle past its session is replaced"
    );
    assert_eq!(conn.reauthentications(), renewed);
    let again = producer
        .send(
            "oauth-data",
            0,
            &batch(strait_kafka::batch::Compression::Lz4, &records),
        )
        .await
        .expect("produce after an idle spell");
    assert_eq!(again.base_offset, ack.base_offset + 20);
}

/// A wrong client secret: the identity provider answers 401; the error names the cluster and
/// the endpoint, says what to check, is not retried, and never shows the secret.
async fn a_wrong_client_secret_is_a_clear_error(_kind: BrokerKind) {
    let idp = identity_provider(Duration::from_secs(60));
    let node = kafka_trusting(&idp, 60_000).await;
    let source = Arc::new(TokenSource::new(login(&idp, "wrong-Secret-0000")));
    let err = Cluster::connect(cluster_config(&node, source))
        .await
        .expect_err("a wrong secret gets no token");
    let text = err.to_string();
    assert!(
        matches!(
            &err,
            Error::OAuth(OAuthError::Endpoint {
                retriable: false,
                ..
            })
        ),
        "{err:?}"
    );
    assert!(!err.is_retriable(), "{text}");
    for expected in ["east", &idp.token_url(), "HTTP 401", "client id and secret"] {
        assert!(text.contains(expected), "`{expected}` missing: {text}");
    }
    assert!(
        !format!("{text} {err:?}").contains("wrong-Secret"),
        "{text}"
    );
    assert_eq!(idp.refused(), 1, "a 401 is not retried");
}

/// A token from another identity provider (same issuer and audience, another signing key):
/// Kafka's validator refuses it, which shows the broker really checks signatures here.
async fn the_broker_refuses_a_token_signed_by_another_key(_kind: BrokerKind) {
    let trusted = identity_provider(Duration::from_secs(60));
    let impostor = identity_provider(Duration::from_secs(60));
    let node = kafka_trusting(&trusted, 60_000).await;
    let source = Arc::new(TokenSource::new(login(&impostor, SECRET)));
    let err = Cluster::connect(cluster_config(&node, source))
        .await
        .expect_err("an untrusted token is refused");
    assert!(
        matches!(
            err,
            Error::Auth {
                mechanism: "OAUTHBEARER",
                ..
            }
        ),
        "{err:?}"
    );
    let text = err.to_string();
    assert!(
        text.contains("rejected by the broker") && text.contains("invalid_token"),
        "{text}"
    );
    assert_eq!(impostor.issued_to(CLIENT), 1);
}

/// An identity provider outage: while the current token is valid it keeps being used and the
/// refresh is retried; once the provider is back, the next refresh gets a new token. With no
/// token at all, the error says the endpoint is unavailable and is retriable.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_outage_keeps_the_current_token_until_a_refresh_succeeds() {
    let idp = identity_provider(Duration::from_secs(10));
    let source = TokenSource::new(login(&idp, SECRET));
    let first = source.token().await.expect("first token");
    let obtained = now_ms();
    idp.set_down(true);
    // The refresh is due at 80-85 % of what is left of the token's life when it came (`exp` is
    // whole seconds: 9 to 10 s); just past that, its retries (within 1 s) end before the
    // remaining 14.5 % (1.3 s or more) run out. A fixed 8.6 s left as little as 0.4 s.
    let due = obtained + (first.claims.expires_ms - obtained) * 855 / 1000;
    let wait = u64::try_from(due - now_ms()).unwrap_or(0);
    tokio::time::sleep(Duration::from_millis(wait)).await;
    let first = first.value;
    let during = source
        .token()
        .await
        .expect("the current token while it is valid");
    assert_eq!(during.value, first);
    assert!(idp.refused() >= 1, "the refresh was attempted");
    idp.set_down(false);
    // The failed refresh is retried after `retry_backoff_max` (1 s).
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let after = source.token().await.expect("a new token");
    assert_ne!(after.value, first);
    assert_eq!(idp.issued_to(CLIENT), 2);

    idp.set_down(true);
    let fresh = TokenSource::new(login(&idp, SECRET));
    let err = fresh.token().await.expect_err("no token while down");
    assert!(err.is_retriable(), "{err}");
    assert!(err.to_string().contains("HTTP 503"), "{err}");
}

/// An HTTPS token endpoint is verified against the cluster's trusted CAs: a certificate of the
/// trusted CA gives a token; one of another CA fails, says why, and is not retriable.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_https_endpoint_is_verified_like_a_broker() {
    let ca = TestCa::new("idp-ca");
    let idp = IdentityProvider::start(IdentityProviderOptions {
        clients: vec![(CLIENT.into(), SECRET.into())],
        tls: Some(ca.issue(&["127.0.0.1", "localhost"], Usage::Server)),
        ..IdentityProviderOptions::default()
    })
    .expect("the identity provider starts");
    assert!(idp.token_url().starts_with("https://"));
    let trusting = |ca_pem: &str| {
        let settings = TlsSettings {
            trust: TrustRoots::Pem(ca_pem.as_bytes().to_vec()),
            ..TlsSettings::default()
        };
        let mut login = login(&idp, SECRET);
        login.connector = Arc::new(TlsConnector::new(&settings).unwrap());
        TokenSource::new(login)
    };
    let token = trusting(&ca.cert_pem)
        .token()
        .await
        .expect("a token over HTTPS");
    assert_eq!(token.claims.subject, CLIENT);

    let stranger = TestCa::new("another-ca");
    let err = trusting(&stranger.cert_pem)
        .token()
        .await
        .expect_err("an endpoint certificate of an untrusted CA");
    assert!(!err.is_retriable(), "{err}");
    assert!(err.to_string().contains("TLS handshake failed"), "{err}");
    assert_eq!(idp.issued_to(CLIENT), 1);
}
