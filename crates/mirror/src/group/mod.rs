//! Scale-out: the strait processes running one flow form a group on the flow's target cluster
//! (Kafka's group coordinator, strait's own protocol type) and share its source partitions.
//! [`assignor`] is the leader's pure decision; the member loop turns the coordinator's answers
//! into assignments for the flow.

pub mod assignor;
pub(crate) mod member;
pub mod protocol;

pub use member::GroupStatus;
