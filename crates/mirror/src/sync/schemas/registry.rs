//! A client of the Confluent Schema Registry REST API (the subset a sync needs): subjects,
//! their versions, lookups, registrations, compatibility levels and the registry's mode.

use std::sync::Arc;
use std::time::Duration;

use base64::Engine as _;
use serde::{Deserialize, Serialize};
use serde_json::json;
use strait_kafka::net::http::{path_encode, send, HttpRequest, HttpResponse};
use strait_kafka::net::{Connector, TcpConnector, TlsConnector, TlsSettings, TrustRoots};

use crate::config::RegistryEndpoint;

const CONTENT_TYPE: &str = "application/vnd.schemaregistry.v1+json";
const ACCEPT: &str = "application/vnd.schemaregistry.v1+json, application/json";
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
const READ_TIMEOUT: Duration = Duration::from_secs(30);

/// A request to a registry that did not give the expected answer.
#[derive(Debug, thiserror::Error)]
pub enum RegistryError {
    /// No answer (connection refused, TLS, timeout).
    #[error("{registry}: {what}: {reason}")]
    Unreachable {
        /// `registry of cluster A (url)`.
        registry: String,
        /// The request, e.g. `GET /subjects`.
        what: String,
        /// What went wrong.
        reason: String,
    },
    /// An error status.
    #[error("{registry}: {what}: HTTP {status}: {message}")]
    Status {
        /// `registry of cluster A (url)`.
        registry: String,
        /// The request.
        what: String,
        /// The HTTP status.
        status: u16,
        /// The registry's `message` (or the body).
        message: String,
    },
    /// A 2xx answer that is not what the API documents.
    #[error("{registry}: {what}: unexpected answer: {reason}")]
    Answer {
        /// `registry of cluster A (url)`.
        registry: String,
        /// The request.
        what: String,
        /// Why it could not be read.
        reason: String,
    },
    /// The configured trust store cannot be used.
    #[error("{registry}: {reason}")]
    Trust {
        /// `registry of cluster A (url)`.
        registry: String,
        /// What is wrong.
        reason: String,
    },
}

impl RegistryError {
    /// The HTTP status of an error answer.
    pub fn status(&self) -> Option<u16> {
        match self {
            RegistryError::Status { status, .. } => Some(*status),
            _ => None,
        }
    }
}

/// A schema another one imports (Protobuf imports, JSON `$ref`s, Avro named types).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Reference {
    /// The name the referring schema uses.
    pub name: String,
    /// The subject holding the referenced schema.
    pub subject: String,
    /// Its version.
    pub version: i32,
}

/// One version of a subject.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct SchemaVersion {
    /// The subject.
    pub subject: String,
    /// The version number within the subject.
    pub version: i32,
    /// The registry-wide schema id (what serialized records carry).
    pub id: i64,
    /// The schema text.
    pub schema: String,
    /// `AVRO` (when absent), `JSON` or `PROTOBUF`.
    #[serde(rename = "schemaType", default)]
    pub schema_type: Option<String>,
    /// Schemas it references.
    #[serde(default)]
    pub references: Vec<Reference>,
}

impl SchemaVersion {
    /// The schema as a registration or lookup sends it.
    fn body(&self, keep: Option<(i64, i32)>) -> serde_json::Value {
        let mut body = json!({ "schema": self.schema });
        if let Some(kind) = self.schema_type.as_deref().filter(|t| *t != "AVRO") {
            body["schemaType"] = json!(kind);
        }
        if !self.references.is_empty() {
            body["references"] = json!(self.references);
        }
        if let Some((id, version)) = keep {
            body["id"] = json!(id);
            body["version"] = json!(version);
        }
        body
    }
}

/// Where a schema sits in a subject.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
pub struct Found {
    /// Its version there.
    pub version: i32,
    /// Its id there.
    pub id: i64,
}

/// One cluster's registry.
#[derive(Debug, Clone)]
pub struct Registry {
    endpoint: RegistryEndpoint,
    connector: Arc<dyn Connector>,
    auth: Option<String>,
}

impl Registry {
    /// A client of `endpoint` (reads the trust store of an `https://` URL).
    pub fn new(endpoint: &RegistryEndpoint) -> Result<Registry, RegistryError> {
        let connector: Arc<dyn Connector> = if endpoint.base.tls {
            let trust = match &endpoint.truststore {
                None => TrustRoots::WebPki,
                Some(path) => {
                    TrustRoots::Pem(std::fs::read(path).map_err(|e| RegistryError::Trust {
                        registry: describe(endpoint),
                        reason: format!("cannot read the trust store {path}: {e}"),
                    })?)
                }
            };
            let settings = TlsSettings {
                trust,
                ..TlsSettings::default()
            };
            Arc::new(
                TlsConnector::new(&settings).map_err(|e| RegistryError::Trust {
                    registry: describe(endpoint),
                    reason: e.to_string(),
                })?,
            )
        } else {
            Arc::new(TcpConnector::default())
        };
        let auth = endpoint.user_info.as_ref().map(|info| {
            format!(
                "Basic {}",
                base64::engine::general_purpose::STANDARD.encode(info)
            )
        });
        Ok(Registry {
            endpoint: endpoint.clone(),
            connector,
            auth,
        })
    }

    /// `registry of cluster A (url)`, for messages.
    pub fn describe(&self) -> String {
        describe(&self.endpoint)
    }

    /// Every live subject.
    pub async fn subjects(&self) -> Result<Vec<String>, RegistryError> {
        let what = "GET /subjects".to_owned();
        let answer = self.call("GET", "/subjects", None, &what).await?;
        self.read(&what, &answer)
    }

    /// The live versions of `subject`, ascending (`None`: no such subject).
    pub async fn versions(&self, subject: &str) -> Result<Option<Vec<i32>>, RegistryError> {
        let path = format!("/subjects/{}/versions", path_encode(subject));
        let what = format!("GET {path}");
        match self.call("GET", &path, None, &what).await {
            Ok(answer) => {
                let mut versions: Vec<i32> = self.read(&what, &answer)?;
                versions.sort_unstable();
                Ok(Some(versions))
            }
            Err(e) if e.status() == Some(404) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Version `version` of `subject` (`None`: deleted meanwhile).
    pub async fn version(
        &self,
        subject: &str,
        version: i32,
    ) -> Result<Option<SchemaVersion>, RegistryError> {
        let path = format!("/subjects/{}/versions/{version}", path_encode(subject));
        let what = format!("GET {path}");
        match self.call("GET", &path, None, &what).await {
            Ok(answer) => {
                let mut found: SchemaVersion = self.read(&what, &answer)?;
                // Some registries leave the subject out of the answer.
                if found.subject.is_empty() {
                    found.subject = subject.to_owned();
                }
                Ok(Some(found))
            }
            Err(e) if e.status() == Some(404) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Where `schema` sits in `subject`, by the registry's own notion of equal schemas.
    pub async fn lookup(
        &self,
        subject: &str,
        schema: &SchemaVersion,
    ) -> Result<Option<Found>, RegistryError> {
        let path = format!("/subjects/{}", path_encode(subject));
        let what = format!("POST {path} (version {} of the source)", schema.version);
        let body = schema.body(None).to_string();
        match self.call("POST", &path, Some(&body), &what).await {
            Ok(answer) => self.read(&what, &answer).map(Some),
            Err(e) if e.status() == Some(404) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Registers `schema` under `subject`, with its id and version when `keep` (import mode);
    /// returns the id the registry gave it.
    pub async fn register(
        &self,
        subject: &str,
        schema: &SchemaVersion,
        keep: bool,
    ) -> Result<i64, RegistryError> {
        let path = format!("/subjects/{}/versions", path_encode(subject));
        let what = format!("POST {path} (version {} of the source)", schema.version);
        let body = schema
            .body(keep.then_some((schema.id, schema.version)))
            .to_string();
        let answer = self.call("POST", &path, Some(&body), &what).await?;
        #[derive(Deserialize)]
        struct Registered {
            id: i64,
        }
        let registered: Registered = self.read(&what, &answer)?;
        Ok(registered.id)
    }

    /// The compatibility level of `subject`, or the registry-wide one for `None`; `None` when
    /// none is set for the subject.
    pub async fn compatibility(
        &self,
        subject: Option<&str>,
    ) -> Result<Option<String>, RegistryError> {
        let path = config_path(subject);
        let what = format!("GET {path}");
        #[derive(Deserialize)]
        struct Level {
            #[serde(rename = "compatibilityLevel", alias = "compatibility")]
            level: String,
        }
        match self.call("GET", &path, None, &what).await {
            Ok(answer) => Ok(Some(self.read::<Level>(&what, &answer)?.level)),
            Err(e) if e.status() == Some(404) && subject.is_some() => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Sets the compatibility level of `subject` (registry-wide for `None`).
    pub async fn set_compatibility(
        &self,
        subject: Option<&str>,
        level: &str,
    ) -> Result<(), RegistryError> {
        let path = config_path(subject);
        let what = format!("PUT {path} ({level})");
        let body = json!({ "compatibility": level }).to_string();
        self.call("PUT", &path, Some(&body), &what).await?;
        Ok(())
    }

    /// The registry's mode (`READWRITE`, `READONLY`, `IMPORT`); `None` when it has no mode API.
    pub async fn mode(&self) -> Result<Option<String>, RegistryError> {
        let what = "GET /mode".to_owned();
        #[derive(Deserialize)]
        struct Mode {
            mode: String,
        }
        match self.call("GET", "/mode", None, &what).await {
            Ok(answer) => Ok(Some(self.read::<Mode>(&what, &answer)?.mode)),
            Err(e) if e.status() == Some(404) => Ok(None),
            Err(e) => Err(e),
        }
    }

    async fn call(
        &self,
        method: &str,
        path: &str,
        body: Option<&str>,
        what: &str,
    ) -> Result<HttpResponse, RegistryError> {
        let target = format!("{}{path}", self.endpoint.base.target.trim_end_matches('/'));
        let mut headers = vec![("Accept", ACCEPT.to_owned())];
        if let Some(auth) = &self.auth {
            headers.push(("Authorization", auth.clone()));
        }
        let request = HttpRequest {
            method,
            target: &target,
            headers: &headers,
            body: body.map(|b| (CONTENT_TYPE, b.as_bytes())),
        };
        let answer = send(
            self.connector.as_ref(),
            &self.endpoint.base,
            &request,
            CONNECT_TIMEOUT,
            READ_TIMEOUT,
        )
        .await
        .map_err(|e| RegistryError::Unreachable {
            registry: self.describe(),
            what: what.to_owned(),
            reason: e.reason,
        })?;
        if (200..300).contains(&answer.status) {
            return Ok(answer);
        }
        Err(RegistryError::Status {
            registry: self.describe(),
            what: what.to_owned(),
            status: answer.status,
            message: error_message(&answer.body),
        })
    }

    fn read<T: serde::de::DeserializeOwned>(
        &self,
        what: &str,
        answer: &HttpResponse,
    ) -> Result<T, RegistryError> {
        serde_json::from_slice(&answer.body).map_err(|e| RegistryError::Answer {
            registry: self.describe(),
            what: what.to_owned(),
            reason: format!("{e}: {}", snippet(&answer.body)),
        })
    }
}

fn describe(endpoint: &RegistryEndpoint) -> String {
    format!(
        "registry of cluster {} ({})",
        endpoint.cluster, endpoint.url
    )
}

fn config_path(subject: Option<&str>) -> String {
    match subject {
        Some(s) => format!("/config/{}", path_encode(s)),
        None => "/config".to_owned(),
    }
}

/// The `message` of a registry's error body (`{"error_code":…,"message":…}`), else the body.
fn error_message(body: &[u8]) -> String {
    serde_json::from_slice::<serde_json::Value>(body)
        .ok()
        .and_then(|v| v.get("message")?.as_str().map(str::to_owned))
        .unwrap_or_else(|| snippet(body))
}

fn snippet(body: &[u8]) -> String {
    let text = String::from_utf8_lossy(body);
    let mut cut: String = text.chars().take(300).collect();
    if cut.len() < text.len() {
        cut.push('…');
    }
    cut
}

#[cfg(test)]
mod tests {
    use super::*;

    fn avro(version: i32, id: i64) -> SchemaVersion {
        SchemaVersion {
            subject: "s".into(),
            version,
            id,
            schema: r#"{"type":"string"}"#.into(),
            schema_type: None,
            references: Vec::new(),
        }
    }

    #[test]
    fn registrations_carry_type_references_and_kept_ids() {
        let plain = avro(3, 41).body(None);
        assert_eq!(plain, json!({"schema": "{\"type\":\"string\"}"}));
        let mut proto = avro(2, 7);
        proto.schema_type = Some("PROTOBUF".into());
        proto.references = vec![Reference {
            name: "common.proto".into(),
            subject: "common".into(),
            version: 1,
        }];
        let body = proto.body(Some((7, 2)));
        assert_eq!(body["schemaType"], "PROTOBUF");
        assert_eq!(body["references"][0]["subject"], "common");
        assert_eq!(
            (body["id"].clone(), body["version"].clone()),
            (json!(7), json!(2))
        );
        let mut explicit_avro = avro(1, 1);
        explicit_avro.schema_type = Some("AVRO".into());
        assert!(explicit_avro.body(None).get("schemaType").is_none());
    }

    #[test]
    fn versions_read_with_or_without_type_and_references() {
        let v: SchemaVersion = serde_json::from_str(
            r#"{"id":1,"subject":"u","version":1,"schema":"{}","references":[]}"#,
        )
        .unwrap();
        assert_eq!((v.id, v.schema_type, v.references.len()), (1, None, 0));
        let v: SchemaVersion = serde_json::from_str(
            r#"{"id":2,"subject":"u","version":2,"schemaType":"JSON","schema":"{}"}"#,
        )
        .unwrap();
        assert_eq!(v.schema_type.as_deref(), Some("JSON"));
    }

    #[test]
    fn error_messages_come_from_the_body() {
        assert_eq!(
            error_message(br#"{"error_code":40401,"message":"Subject 'x' not found."}"#),
            "Subject 'x' not found."
        );
        assert_eq!(
            error_message(b"<html>bad gateway</html>"),
            "<html>bad gateway</html>"
        );
    }
}
