//! The sample file Kafka ships as `config/connect-mirror-maker.properties` parses as MM2 reads it.

use std::time::Duration;

use strait_mirror::config::{parse_bytes, parse_file, parse_str, MirrorConfig, SyncsLocation};

/// Kafka's `config/connect-mirror-maker.properties`, comments included.
const SAMPLE: &str = r#"# Licensed to the Apache Software Foundation (ASF) under one or more
# contributor license agreements.  See the NOTICE file distributed with
# this work for additional information regarding copyright ownership.
# The ASF licenses this file to You under the Apache License, Version 2.0
# (the "License"); you may not use this file except in compliance with
# the License.  You may obtain a copy of the License at
#
#    http://www.apache.org/licenses/LICENSE-2.0
#
# Unless required by applicable law or agreed to in writing, software
# distributed under the License is distributed on an "AS IS" BASIS,
# WITHOUT WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied.
# See the License for the specific language governing permissions and
# limitations under the License.
# see org.apache.kafka.clients.consumer.ConsumerConfig for more details

# Sample MirrorMaker 2.0 top-level configuration file
# Run with ./bin/connect-mirror-maker.sh connect-mirror-maker.properties 

# specify any number of cluster aliases
clusters = A, B

# connection information for each cluster
# This is a comma separated host:port pairs for each cluster
# for e.g. "A_host1:9092, A_host2:9092, A_host3:9092"
A.bootstrap.servers = A_host1:9092, A_host2:9092, A_host3:9092
B.bootstrap.servers = B_host1:9092, B_host2:9092, B_host3:9092

# enable and configure individual replication flows
A->B.enabled = true

# regex which defines which topics gets replicated. For eg "foo-.*"
A->B.topics = .*

B->A.enabled = true
B->A.topics = .*

# Setting replication factor of newly created remote topics
replication.factor=1

############################# Internal Topic Settings  #############################
# The replication factor for mm2 internal topics "heartbeats", "B.checkpoints.internal" and
# "mm2-offset-syncs.B.internal"
# For anything other than development testing, a value greater than 1 is recommended to ensure availability such as 3.
checkpoints.topic.replication.factor=1
heartbeats.topic.replication.factor=1
offset-syncs.topic.replication.factor=1

# The replication factor for connect internal topics "mm2-configs.B.internal", "mm2-offsets.B.internal" and
# "mm2-status.B.internal"
# For anything other than development testing, a value greater than 1 is recommended to ensure availability such as 3.
offset.storage.replication.factor=1
status.storage.replication.factor=1
config.storage.replication.factor=1

# customize as needed
# replication.policy.separator = _
# sync.topic.acls.enabled = false
# emit.heartbeats.interval.seconds = 5
"#;

fn check(config: &MirrorConfig) {
    assert_eq!(config.clusters, ["A", "B"]);
    let names: Vec<String> = config.flows.iter().map(|f| f.name()).collect();
    assert_eq!(names, ["A->B", "B->A"]);
    for flow in &config.flows {
        assert!(flow.replication_enabled, "{}", flow.name());
        assert_eq!(flow.topics, [".*"]);
        assert!(flow.topic_filter.test("orders"));
        assert_eq!(flow.replication_factor, 1);
        assert_eq!(flow.checkpoints_topic_replication_factor, 1);
        assert_eq!(flow.heartbeats_topic_replication_factor, 1);
        assert_eq!(flow.offset_syncs_topic_replication_factor, 1);
        assert_eq!(flow.offset_storage_replication_factor, 1);
        assert_eq!(
            flow.offset_storage_topic,
            format!("mm2-offsets.{}.internal", flow.source)
        );
        assert_eq!(flow.offset_syncs_location, SyncsLocation::Source);
        assert_eq!(flow.emit_heartbeats_interval, Some(Duration::from_secs(1)));
        assert_eq!(
            flow.policy.format_remote_topic(&flow.source, "orders"),
            format!("{}.orders", flow.source)
        );
    }
    let ab = config.flow("A", "B").unwrap();
    assert_eq!(
        ab.source_consumer.bootstrap_servers().unwrap(),
        "A_host1:9092, A_host2:9092, A_host3:9092"
    );
    assert_eq!(
        ab.source_consumer.get_list("bootstrap.servers").unwrap(),
        ["A_host1:9092", "A_host2:9092", "A_host3:9092"]
    );
    assert_eq!(
        ab.target_producer.bootstrap_servers().unwrap(),
        "B_host1:9092, B_host2:9092, B_host3:9092"
    );
    let origin = ab.source_consumer.origin("bootstrap.servers").unwrap();
    assert_eq!(
        (origin.key.as_str(), origin.line),
        ("A.bootstrap.servers", 26)
    );
}

#[test]
fn sample_parses_from_text_bytes_and_file() {
    check(&parse_str(SAMPLE).unwrap());
    check(&parse_bytes(SAMPLE.as_bytes()).unwrap());

    let path =
        std::env::temp_dir().join(format!("strait-sample-{}.properties", std::process::id()));
    std::fs::write(&path, SAMPLE).unwrap();
    let parsed = parse_file(&path);
    std::fs::remove_file(&path).unwrap();
    check(&parsed.unwrap());
}

#[test]
fn sample_with_crlf_line_endings() {
    check(&parse_str(&SAMPLE.replace('\n', "\r\n")).unwrap());
}
