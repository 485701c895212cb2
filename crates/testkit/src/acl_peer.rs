//! A scripted Kafka peer for ACL tests: a stand-in for an authorizer-enabled broker (see
//! [`AclPeer`]).

use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread::JoinHandle;

use bytes::{BufMut, Bytes, BytesMut};
use kafka_protocol::messages::api_versions_response::ApiVersion;
use kafka_protocol::messages::create_acls_response::AclCreationResult;
use kafka_protocol::messages::describe_acls_response::{AclDescription, DescribeAclsResource};
use kafka_protocol::messages::metadata_response::{
    MetadataResponseBroker, MetadataResponsePartition, MetadataResponseTopic,
};
use kafka_protocol::messages::{
    ApiKey, ApiVersionsResponse, BrokerId, CreateAclsRequest, CreateAclsResponse,
    DescribeAclsRequest, DescribeAclsResponse, MetadataRequest, MetadataResponse, RequestHeader,
    ResponseHeader, TopicName,
};
use kafka_protocol::protocol::{Decodable, Encodable, StrBytes};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::oneshot;

/// The peer's broker id (it is the only broker and the controller).
const NODE_ID: i32 = 1;
/// Largest request frame accepted.
const MAX_FRAME: usize = 16 * 1024 * 1024;
/// Kafka's SECURITY_DISABLED error code.
const SECURITY_DISABLED: i16 = 54;
/// Kafka's INVALID_REQUEST error code.
const INVALID_REQUEST: i16 = 42;
/// Kafka's UNKNOWN_TOPIC_OR_PARTITION error code.
const UNKNOWN_TOPIC_OR_PARTITION: i16 = 3;
/// Kafka's UNSUPPORTED_VERSION error code.
const UNSUPPORTED_VERSION: i16 = 35;

/// The APIs the peer answers, with the versions it advertises.
const APIS: [(ApiKey, i16, i16); 4] = [
    (ApiKey::ApiVersions, 0, 3),
    (ApiKey::Metadata, 0, 12),
    (ApiKey::DescribeAcls, 1, 3),
    (ApiKey::CreateAcls, 1, 3),
];

// Kafka's numeric ACL codes used here (see `org.apache.kafka.common.acl` / `resource`).
const ANY: i8 = 1;
const MATCH: i8 = 2;
const LITERAL: i8 = 3;
const PREFIXED: i8 = 4;
const TOPIC: i8 = 2;
const USER: i8 = 7;
const DENY: i8 = 2;
const ALLOW: i8 = 3;
const LAST_OPERATION: i8 = 14;

/// One ACL binding held by the peer, with Kafka's numeric codes (resource type 2 = TOPIC,
/// 3 = GROUP; pattern type 3 = LITERAL, 4 = PREFIXED; operation 2 = ALL, 3 = READ, 4 = WRITE,
/// 8 = DESCRIBE; permission 2 = DENY, 3 = ALLOW).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PeerAcl {
    /// Resource type.
    pub resource_type: i8,
    /// Resource name (the prefix for PREFIXED patterns).
    pub resource_name: String,
    /// Pattern type.
    pub pattern_type: i8,
    /// Principal, e.g. `User:alice`.
    pub principal: String,
    /// Host, `*` for any.
    pub host: String,
    /// Operation.
    pub operation: i8,
    /// Permission type.
    pub permission_type: i8,
}

impl PeerAcl {
    /// A LITERAL topic ACL from any host.
    pub fn topic(topic: &str, principal: &str, operation: i8, permission_type: i8) -> PeerAcl {
        PeerAcl {
            resource_type: TOPIC,
            resource_name: topic.to_owned(),
            pattern_type: LITERAL,
            principal: principal.to_owned(),
            host: "*".to_owned(),
            operation,
            permission_type,
        }
    }
}

struct State {
    topics: Vec<(String, i32)>,
    authorizer: bool,
    acls: Vec<PeerAcl>,
}

/// A scripted Kafka peer on 127.0.0.1: a stand-in for an authorizer-enabled broker in ACL
/// tests, not a broker.
///
/// Neither test broker runs an authorizer (noida-db answers ACL requests with
/// `SECURITY_DISABLED`; tansu describes an empty list and answers CreateAcls with a malformed
/// response), so ACL sync is tested against this peer, which keeps ACLs in memory the way an
/// authorizer-enabled broker does. It answers only
///
/// * ApiVersions v0-3 (advertising exactly these four APIs),
/// * Metadata v0-12 (one broker, itself, and the topics given at start, every partition led by
///   it),
/// * DescribeAcls v1-3 (its ACLs filtered with Kafka's `AclBindingFilter` matching rules),
/// * CreateAcls v1-3 (adds the bindings, idempotently, validated like Kafka: concrete codes and
///   a `Type:name` principal; answers per binding),
///
/// and closes the connection (logging a warning) on any other request. With the authorizer
/// off it answers the ACL requests with `SECURITY_DISABLED` (54), like Kafka without an
/// authorizer. Nothing is checked against principals: every client may do everything.
///
/// It serves from its own thread and runtime, so [`AclPeer::start`] is synchronous and works
/// from sync tests and any tokio runtime alike; dropping the peer stops it and closes its
/// connections.
///
/// ```no_run
/// use strait_testkit::{AclPeer, PeerAcl};
///
/// let peer = AclPeer::start(&[("orders", 3)], true);
/// peer.add_acl(PeerAcl::topic("orders", "User:alice", 3, 3));
/// let bootstrap = peer.bootstrap(); // connect a client here
/// assert_eq!(peer.acls().len(), 1);
/// ```
pub struct AclPeer {
    addr: SocketAddr,
    state: Arc<Mutex<State>>,
    stop: Option<oneshot::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl std::fmt::Debug for AclPeer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AclPeer")
            .field("addr", &self.addr)
            .finish_non_exhaustive()
    }
}

impl AclPeer {
    /// Starts a peer holding `topics` (name, partition count) and no ACLs, on a free port.
    /// `authorizer = false` makes it answer ACL requests with `SECURITY_DISABLED`, like Kafka
    /// without an authorizer.
    ///
    /// Panics if it cannot listen on 127.0.0.1 (a test tool: there is nothing to fall back to).
    pub fn start(topics: &[(&str, i32)], authorizer: bool) -> AclPeer {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("AclPeer: bind 127.0.0.1");
        listener
            .set_nonblocking(true)
            .expect("AclPeer: non-blocking listener");
        let addr = listener.local_addr().expect("AclPeer: local address");
        let state = Arc::new(Mutex::new(State {
            topics: topics.iter().map(|(t, n)| ((*t).to_owned(), *n)).collect(),
            authorizer,
            acls: Vec::new(),
        }));
        let (stop, stopped) = oneshot::channel();
        let shared = state.clone();
        let thread = std::thread::Builder::new()
            .name(format!("acl-peer-{}", addr.port()))
            .spawn(move || {
                let runtime = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .expect("AclPeer: tokio runtime");
                runtime.block_on(accept_loop(listener, addr, shared, stopped));
            })
            .expect("AclPeer: spawn thread");
        AclPeer {
            addr,
            state,
            stop: Some(stop),
            thread: Some(thread),
        }
    }

    /// `127.0.0.1:<port>`, for `bootstrap.servers`.
    pub fn bootstrap(&self) -> String {
        self.addr.to_string()
    }

    /// The ACLs the peer holds, in creation order.
    pub fn acls(&self) -> Vec<PeerAcl> {
        self.lock().acls.clone()
    }

    /// Adds an ACL (idempotently, like an authorizer), whatever the authorizer flag.
    pub fn add_acl(&self, acl: PeerAcl) {
        let mut state = self.lock();
        if !state.acls.contains(&acl) {
            state.acls.push(acl);
        }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl Drop for AclPeer {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

async fn accept_loop(
    listener: std::net::TcpListener,
    addr: SocketAddr,
    state: Arc<Mutex<State>>,
    mut stopped: oneshot::Receiver<()>,
) {
    let listener = match tokio::net::TcpListener::from_std(listener) {
        Ok(l) => l,
        Err(e) => {
            tracing::error!("AclPeer {addr}: cannot listen: {e}");
            return;
        }
    };
    loop {
        tokio::select! {
            _ = &mut stopped => return,
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => {
                    tokio::spawn(serve(stream, addr, state.clone()));
                }
                Err(e) => tracing::warn!("AclPeer {addr}: accept failed: {e}"),
            },
        }
    }
}

/// Answers one connection's requests in order until the client closes it or sends something
/// the peer does not answer.
async fn serve(mut stream: TcpStream, addr: SocketAddr, state: Arc<Mutex<State>>) {
    loop {
        let size = match stream.read_i32().await {
            Ok(size) => size,
            Err(_) => return, // closed by the client
        };
        let Some(size) = usize::try_from(size)
            .ok()
            .filter(|s| (4..=MAX_FRAME).contains(s))
        else {
            tracing::warn!("AclPeer {addr}: invalid request frame size {size}, closing");
            return;
        };
        let mut frame = vec![0u8; size];
        if stream.read_exact(&mut frame).await.is_err() {
            return;
        }
        match respond(Bytes::from(frame), addr, &state) {
            Ok(response) => {
                if stream.write_all(&response).await.is_err() {
                    return;
                }
            }
            Err(reason) => {
                tracing::warn!("AclPeer {addr}: {reason}; closing the connection");
                return;
            }
        }
    }
}

/// The response frame (with its size prefix) for one request frame, or why the connection is
/// closed instead.
fn respond(mut frame: Bytes, addr: SocketAddr, state: &Mutex<State>) -> Result<Bytes, String> {
    let api_key = i16::from_be_bytes([frame[0], frame[1]]);
    let version = i16::from_be_bytes([frame[2], frame[3]]);
    let key = ApiKey::try_from(api_key).map_err(|()| format!("unknown API key {api_key}"))?;
    let supported = APIS
        .iter()
        .find(|(k, _, _)| *k == key)
        .map(|(_, min, max)| (*min..=*max).contains(&version));
    if key == ApiKey::ApiVersions && supported != Some(true) {
        // Kafka answers an ApiVersions version it does not know in the v0 shape, with
        // UNSUPPORTED_VERSION and its ranges, so that the client can retry.
        let correlation_id = frame
            .get(4..8)
            .map(|b| i32::from_be_bytes([b[0], b[1], b[2], b[3]]))
            .ok_or("short ApiVersions request")?;
        let body = api_versions().with_error_code(UNSUPPORTED_VERSION);
        return encode(ApiKey::ApiVersions, 0, correlation_id, &body);
    }
    if supported != Some(true) {
        return Err(format!(
            "{key:?} v{version} is not answered by this scripted peer"
        ));
    }
    let header = RequestHeader::decode(&mut frame, key.request_header_version(version))
        .map_err(|e| format!("{key:?} v{version}: bad request header: {e}"))?;
    let id = header.correlation_id;
    let mut state = state.lock().unwrap_or_else(|e| e.into_inner());
    match key {
        ApiKey::ApiVersions => encode(key, version, id, &api_versions()),
        ApiKey::Metadata => {
            let request = MetadataRequest::decode(&mut frame, version)
                .map_err(|e| format!("Metadata v{version}: {e}"))?;
            encode(key, version, id, &metadata(&request, version, addr, &state))
        }
        ApiKey::DescribeAcls => {
            let request = DescribeAclsRequest::decode(&mut frame, version)
                .map_err(|e| format!("DescribeAcls v{version}: {e}"))?;
            encode(key, version, id, &describe_acls(&request, &state))
        }
        ApiKey::CreateAcls => {
            let request = CreateAclsRequest::decode(&mut frame, version)
                .map_err(|e| format!("CreateAcls v{version}: {e}"))?;
            let response = create_acls(&request, &mut state);
            encode(key, version, id, &response)
        }
        _ => unreachable!("only the APIs in APIS pass the version check"),
    }
}

fn encode<M: Encodable>(
    key: ApiKey,
    version: i16,
    correlation_id: i32,
    body: &M,
) -> Result<Bytes, String> {
    let header = ResponseHeader::default().with_correlation_id(correlation_id);
    let header_version = key.response_header_version(version);
    let mut buf = BytesMut::new();
    buf.put_i32(0);
    header
        .encode(&mut buf, header_version)
        .and_then(|()| body.encode(&mut buf, version))
        .map_err(|e| format!("{key:?} v{version}: cannot encode the response: {e}"))?;
    let size = i32::try_from(buf.len() - 4).map_err(|_| "response too large".to_owned())?;
    buf[..4].copy_from_slice(&size.to_be_bytes());
    Ok(buf.freeze())
}

fn api_versions() -> ApiVersionsResponse {
    ApiVersionsResponse::default().with_api_keys(
        APIS.iter()
            .map(|(key, min, max)| {
                ApiVersion::default()
                    .with_api_key(*key as i16)
                    .with_min_version(*min)
                    .with_max_version(*max)
            })
            .collect(),
    )
}

fn metadata(
    request: &MetadataRequest,
    version: i16,
    addr: SocketAddr,
    state: &State,
) -> MetadataResponse {
    let wanted: Option<Vec<String>> = match &request.topics {
        None => None,
        Some(topics) if topics.is_empty() && version == 0 => None, // v0: empty means all
        Some(topics) => Some(
            topics
                .iter()
                .filter_map(|t| t.name.as_ref().map(|n| n.0.to_string()))
                .collect(),
        ),
    };
    let names: Vec<String> = match wanted {
        None => state.topics.iter().map(|(t, _)| t.clone()).collect(),
        Some(names) => names,
    };
    let topics = names
        .into_iter()
        .map(|name| {
            let topic = MetadataResponseTopic::default()
                .with_name(Some(TopicName(StrBytes::from_string(name.clone()))));
            match state.topics.iter().find(|(t, _)| *t == name) {
                None => topic.with_error_code(UNKNOWN_TOPIC_OR_PARTITION),
                Some((_, partitions)) => topic.with_partitions(
                    (0..*partitions)
                        .map(|p| {
                            MetadataResponsePartition::default()
                                .with_partition_index(p)
                                .with_leader_id(BrokerId(NODE_ID))
                                .with_leader_epoch(if version >= 7 { 0 } else { -1 })
                                .with_replica_nodes(vec![BrokerId(NODE_ID)])
                                .with_isr_nodes(vec![BrokerId(NODE_ID)])
                        })
                        .collect(),
                ),
            }
        })
        .collect();
    MetadataResponse::default()
        .with_brokers(vec![MetadataResponseBroker::default()
            .with_node_id(BrokerId(NODE_ID))
            .with_host(StrBytes::from_string(addr.ip().to_string()))
            .with_port(i32::from(addr.port()))])
        .with_cluster_id(Some(StrBytes::from_string(format!(
            "acl-peer-{}",
            addr.port()
        ))))
        .with_controller_id(BrokerId(NODE_ID))
        .with_topics(topics)
}

fn describe_acls(request: &DescribeAclsRequest, state: &State) -> DescribeAclsResponse {
    let response = DescribeAclsResponse::default().with_error_message(None);
    if !state.authorizer {
        return response
            .with_error_code(SECURITY_DISABLED)
            .with_error_message(Some(StrBytes::from_static_str(
                "No Authorizer is configured.",
            )));
    }
    // Kafka rejects filters with UNKNOWN (0) or out-of-range codes.
    let valid = (ANY..=USER).contains(&request.resource_type_filter)
        && (ANY..=PREFIXED).contains(&request.pattern_type_filter)
        && (ANY..=LAST_OPERATION).contains(&request.operation)
        && (ANY..=ALLOW).contains(&request.permission_type);
    if !valid {
        return response
            .with_error_code(INVALID_REQUEST)
            .with_error_message(Some(StrBytes::from_static_str("invalid ACL filter")));
    }
    let mut resources: Vec<DescribeAclsResource> = Vec::new();
    for acl in state.acls.iter().filter(|a| filter_matches(request, a)) {
        let description = AclDescription::default()
            .with_principal(StrBytes::from_string(acl.principal.clone()))
            .with_host(StrBytes::from_string(acl.host.clone()))
            .with_operation(acl.operation)
            .with_permission_type(acl.permission_type);
        let same = |r: &&mut DescribeAclsResource| {
            r.resource_type == acl.resource_type
                && r.pattern_type == acl.pattern_type
                && *r.resource_name == *acl.resource_name
        };
        match resources.iter_mut().find(same) {
            Some(resource) => resource.acls.push(description),
            None => resources.push(
                DescribeAclsResource::default()
                    .with_resource_type(acl.resource_type)
                    .with_resource_name(StrBytes::from_string(acl.resource_name.clone()))
                    .with_pattern_type(acl.pattern_type)
                    .with_acls(vec![description]),
            ),
        }
    }
    response.with_resources(resources)
}

/// Kafka's `AclBindingFilter.matches`: `ResourcePatternFilter` (including MATCH semantics:
/// literal name, the literal `*` wildcard, or a prefix of the name) and
/// `AccessControlEntryFilter`.
fn filter_matches(f: &DescribeAclsRequest, acl: &PeerAcl) -> bool {
    let resource_type =
        f.resource_type_filter == ANY || f.resource_type_filter == acl.resource_type;
    let pattern = f.pattern_type_filter;
    let pattern_type = pattern == ANY || pattern == MATCH || pattern == acl.pattern_type;
    let name = match f.resource_name_filter.as_deref() {
        None => true,
        Some(name) if pattern == ANY || pattern == acl.pattern_type => name == acl.resource_name,
        Some(name) => match acl.pattern_type {
            LITERAL => name == acl.resource_name || acl.resource_name == "*",
            PREFIXED => name.starts_with(acl.resource_name.as_str()),
            _ => false,
        },
    };
    let text =
        |filter: &Option<StrBytes>, value: &str| filter.as_deref().is_none_or(|f| f == value);
    resource_type
        && pattern_type
        && name
        && text(&f.principal_filter, &acl.principal)
        && text(&f.host_filter, &acl.host)
        && (f.operation == ANY || f.operation == acl.operation)
        && (f.permission_type == ANY || f.permission_type == acl.permission_type)
}

fn create_acls(request: &CreateAclsRequest, state: &mut State) -> CreateAclsResponse {
    let results = request
        .creations
        .iter()
        .map(|c| {
            let result = AclCreationResult::default().with_error_message(None);
            if !state.authorizer {
                return result
                    .with_error_code(SECURITY_DISABLED)
                    .with_error_message(Some(StrBytes::from_static_str(
                        "No Authorizer is configured.",
                    )));
            }
            let acl = PeerAcl {
                resource_type: c.resource_type,
                resource_name: c.resource_name.to_string(),
                pattern_type: c.resource_pattern_type,
                principal: c.principal.to_string(),
                host: c.host.to_string(),
                operation: c.operation,
                permission_type: c.permission_type,
            };
            // Like Kafka's validation of a new binding: concrete codes, `Type:name` principal.
            let valid = (TOPIC..=USER).contains(&acl.resource_type)
                && (acl.pattern_type == LITERAL || acl.pattern_type == PREFIXED)
                && (ANY + 1..=LAST_OPERATION).contains(&acl.operation)
                && (acl.permission_type == DENY || acl.permission_type == ALLOW)
                && !acl.resource_name.is_empty()
                && acl.principal.split_once(':').is_some();
            if !valid {
                return result
                    .with_error_code(INVALID_REQUEST)
                    .with_error_message(Some(StrBytes::from_string(format!(
                        "invalid ACL binding {acl:?}"
                    ))));
            }
            if !state.acls.contains(&acl) {
                state.acls.push(acl);
            }
            result
        })
        .collect();
    CreateAclsResponse::default().with_results(results)
}
