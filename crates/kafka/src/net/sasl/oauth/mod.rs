//! OAUTHBEARER logins (KIP-768): access tokens from an OAuth/OIDC token endpoint by the
//! client-credentials grant, or from a file, cached and refreshed before they expire.
//! Connections ask [`TokenSource::token`] each time they authenticate or re-authenticate.

pub mod jwt;
pub mod refresh;

use std::fmt;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::Engine as _;

use self::jwt::TokenClaims;
use self::refresh::{refresh_at_ms, RefreshConfig};
use super::Secret;
use crate::net::http::{self, form_encode, post_form, HttpUrl};
use crate::net::Connector;

/// Where tokens come from (`sasl.oauthbearer.token.endpoint.url`).
#[derive(Debug, Clone)]
pub enum TokenEndpoint {
    /// An HTTP(S) token endpoint, asked with the client-credentials grant.
    Http(HttpUrl),
    /// A file holding a token (a `file:` URL), read again at every refresh.
    File(PathBuf),
}

/// How one client logs in with OAUTHBEARER. `Debug` shows no secret.
#[derive(Clone)]
pub struct OAuthLogin {
    /// The cluster alias, for errors and logs.
    pub cluster: String,
    /// The endpoint URL as configured, for errors and logs.
    pub url: String,
    /// Where tokens come from.
    pub endpoint: TokenEndpoint,
    /// `clientId` (`sasl.oauthbearer.client.credentials.client.id`).
    pub client_id: String,
    /// `clientSecret` (`sasl.oauthbearer.client.credentials.client.secret`).
    pub client_secret: Secret,
    /// `scope` asked for, if any (`sasl.oauthbearer.scope`).
    pub scope: Option<String>,
    /// Whether the id and secret are URL-encoded in the Basic header
    /// (`sasl.oauthbearer.header.urlencode`).
    pub urlencode_header: bool,
    /// The claim naming the principal (`sasl.oauthbearer.sub.claim.name`, `sub`).
    pub subject_claim: String,
    /// SASL extensions sent beside the token (JAAS `extension_<name>` options).
    pub extensions: Vec<(String, String)>,
    /// When tokens are refreshed.
    pub refresh: RefreshConfig,
    /// `sasl.login.connect.timeout.ms` and `sasl.login.read.timeout.ms`.
    pub connect_timeout: Duration,
    /// See `connect_timeout`.
    pub read_timeout: Duration,
    /// `sasl.login.retry.backoff.ms`: the first wait between attempts, doubled each time.
    pub retry_backoff: Duration,
    /// `sasl.login.retry.backoff.max.ms`: the longest wait, and the time allowed for retries.
    pub retry_backoff_max: Duration,
    /// Opens the stream to the endpoint (TCP, or TLS with the client's `ssl.*` trust).
    pub connector: Arc<dyn Connector>,
}

impl fmt::Debug for OAuthLogin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OAuthLogin")
            .field("url", &self.url)
            .field("client_id", &self.client_id)
            .field("scope", &self.scope)
            .finish_non_exhaustive()
    }
}

/// Why no token could be had.
#[derive(Debug, Clone, thiserror::Error)]
pub enum OAuthError {
    /// The token endpoint could not be reached or refused the request.
    #[error("cluster {cluster}: OAUTHBEARER token endpoint {url}: {reason}")]
    Endpoint {
        cluster: String,
        url: String,
        reason: String,
        /// Whether a later attempt may succeed (unreachable, 5xx, 429).
        retriable: bool,
    },
    /// The endpoint answered, but not with a usable token.
    #[error("cluster {cluster}: the OAUTHBEARER token from {url} is unusable: {reason}")]
    Token {
        cluster: String,
        url: String,
        reason: String,
    },
}

impl OAuthError {
    /// Whether a later attempt may succeed.
    pub fn is_retriable(&self) -> bool {
        matches!(
            self,
            OAuthError::Endpoint {
                retriable: true,
                ..
            }
        )
    }
}

/// A token and what it says of itself.
#[derive(Debug, Clone)]
pub struct BearerToken {
    /// The serialized token.
    pub value: Secret,
    /// Its claims.
    pub claims: TokenClaims,
}

struct Current {
    token: BearerToken,
    refresh_at_ms: i64,
}

/// The tokens of one login, shared by all connections of a client.
pub struct TokenSource {
    login: OAuthLogin,
    current: tokio::sync::Mutex<Option<Current>>,
    fetched: AtomicU64,
}

impl fmt::Debug for TokenSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("TokenSource").field(&self.login).finish()
    }
}

impl TokenSource {
    /// A source that fetches its first token when first asked.
    pub fn new(login: OAuthLogin) -> TokenSource {
        TokenSource {
            login,
            current: tokio::sync::Mutex::new(None),
            fetched: AtomicU64::new(0),
        }
    }

    /// The login's settings.
    pub fn login(&self) -> &OAuthLogin {
        &self.login
    }

    /// How many tokens were obtained so far.
    pub fn tokens_fetched(&self) -> u64 {
        self.fetched.load(Ordering::Relaxed)
    }

    /// A token to authenticate with now: the cached one until its refresh time, then a new
    /// one. A failed refresh keeps the cached token while it is valid and tries again later.
    pub async fn token(&self) -> Result<BearerToken, OAuthError> {
        let mut current = self.current.lock().await;
        let now = now_ms();
        if let Some(cached) = current.as_ref().filter(|c| now < c.refresh_at_ms) {
            return Ok(cached.token.clone());
        }
        match self.fetch().await {
            Ok(token) => {
                let now = now_ms();
                let start = token.claims.issued_ms.unwrap_or(now);
                let refresh_at_ms = refresh_at_ms(
                    &self.login.refresh,
                    now,
                    start,
                    token.claims.expires_ms,
                    rand::random(),
                );
                tracing::info!(
                    cluster = %self.login.cluster,
                    endpoint = %self.login.url,
                    principal = %token.claims.subject,
                    expires_in_s = (token.claims.expires_ms - now) / 1000,
                    refresh_in_s = (refresh_at_ms - now) / 1000,
                    "OAUTHBEARER token obtained"
                );
                self.fetched.fetch_add(1, Ordering::Relaxed);
                *current = Some(Current {
                    token: token.clone(),
                    refresh_at_ms,
                });
                Ok(token)
            }
            Err(error) => match current.as_mut() {
                Some(cached) if now_ms() < cached.token.claims.expires_ms => {
                    let retry_in = self.login.retry_backoff_max.as_millis() as i64;
                    tracing::warn!(
                        cluster = %self.login.cluster,
                        %error,
                        expires_in_s = (cached.token.claims.expires_ms - now_ms()) / 1000,
                        "OAUTHBEARER token refresh failed; the current token is used until it \
                         expires, next attempt in {retry_in} ms"
                    );
                    cached.refresh_at_ms = (now_ms() + retry_in)
                        .min(cached.token.claims.expires_ms)
                        .max(now_ms() + 1);
                    Ok(cached.token.clone())
                }
                _ => Err(error),
            },
        }
    }

    async fn fetch(&self) -> Result<BearerToken, OAuthError> {
        let raw = match &self.login.endpoint {
            TokenEndpoint::File(path) => std::fs::read_to_string(path)
                .map(|s| s.trim().to_owned())
                .map_err(|e| {
                    self.endpoint_error(format!("cannot read the token file: {e}"), false)
                })?,
            TokenEndpoint::Http(url) => self.fetch_http(url).await?,
        };
        let claims =
            jwt::claims(&raw, &self.login.subject_claim).map_err(|reason| OAuthError::Token {
                cluster: self.login.cluster.clone(),
                url: self.login.url.clone(),
                reason,
            })?;
        if claims.expires_ms <= now_ms() {
            return Err(OAuthError::Token {
                cluster: self.login.cluster.clone(),
                url: self.login.url.clone(),
                reason: format!(
                    "it expired {} s ago (exp claim); check the clocks",
                    (now_ms() - claims.expires_ms) / 1000
                ),
            });
        }
        Ok(BearerToken {
            value: Secret::new(raw),
            claims,
        })
    }

    /// Client-credentials requests, retried with doubling waits within `retry_backoff_max`.
    async fn fetch_http(&self, url: &HttpUrl) -> Result<String, OAuthError> {
        let login = &self.login;
        let (id, secret) = if login.urlencode_header {
            (
                form_encode(&login.client_id),
                form_encode(login.client_secret.expose()),
            )
        } else {
            (
                login.client_id.clone(),
                login.client_secret.expose().to_owned(),
            )
        };
        let basic = base64::engine::general_purpose::STANDARD.encode(format!("{id}:{secret}"));
        let headers = [
            ("Authorization", format!("Basic {basic}")),
            ("Accept", "application/json".to_owned()),
            ("Cache-Control", "no-cache".to_owned()),
        ];
        let mut body = "grant_type=client_credentials".to_owned();
        if let Some(scope) = login.scope.as_deref().filter(|s| !s.is_empty()) {
            body.push_str(&format!("&scope={}", form_encode(scope)));
        }
        let deadline = tokio::time::Instant::now() + login.retry_backoff_max;
        let mut wait = login.retry_backoff;
        loop {
            let attempt = post_form(
                login.connector.as_ref(),
                url,
                &headers,
                &body,
                login.connect_timeout,
                login.read_timeout,
            )
            .await
            .map_err(|failure| self.endpoint_error(failure.reason, failure.retriable))
            .and_then(|response| self.access_token(response));
            match attempt {
                Err(e) if e.is_retriable() && tokio::time::Instant::now() + wait < deadline => {
                    tracing::debug!(cluster = %login.cluster, error = %e, "token request retried");
                    tokio::time::sleep(wait).await;
                    wait = (wait * 2).min(login.retry_backoff_max);
                }
                other => return other,
            }
        }
    }

    fn access_token(&self, response: http::HttpResponse) -> Result<String, OAuthError> {
        let text = String::from_utf8_lossy(&response.body);
        let doc: Option<serde_json::Value> = serde_json::from_str(&text).ok();
        if !(200..300).contains(&response.status) {
            let detail = doc
                .as_ref()
                .and_then(|d| {
                    let error = d.get("error")?.as_str()?;
                    let description = d.get("error_description").and_then(|v| v.as_str());
                    Some(match description {
                        Some(text) => format!("{error}: {text}"),
                        None => error.to_owned(),
                    })
                })
                .unwrap_or_else(|| text.chars().take(200).collect());
            let retriable = response.status >= 500 || response.status == 429;
            let hint = if response.status == 401 {
                " (check the client id and secret)"
            } else {
                ""
            };
            return Err(self.endpoint_error(
                format!("HTTP {}{hint}: {detail}", response.status),
                retriable,
            ));
        }
        doc.as_ref()
            .and_then(|d| d.get("access_token")?.as_str())
            .map(str::to_owned)
            .ok_or_else(|| OAuthError::Token {
                cluster: self.login.cluster.clone(),
                url: self.login.url.clone(),
                reason: "the answer has no `access_token` string".into(),
            })
    }

    fn endpoint_error(&self, reason: String, retriable: bool) -> OAuthError {
        OAuthError::Endpoint {
            cluster: self.login.cluster.clone(),
            url: self.login.url.clone(),
            reason,
            retriable,
        }
    }
}

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}
