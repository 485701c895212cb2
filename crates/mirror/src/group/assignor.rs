//! The group leader's assignment of a flow's source partitions to members: balanced, sticky and
//! cooperative (like Kafka's KIP-429), pure so every rule is unit-tested.
//!
//! Rules, in order:
//! - A partition claimed by exactly one member stays with it while that member is within its
//!   fair share (`n / m`, `+1` for `n % m` of them).
//! - A partition never goes straight from one member to another: the owner first gives it up in
//!   one generation (its assignment lacks it; it drains, stores progress and rejoins), and
//!   only in the next generation, unowned, is it assigned to its new member. So a partition has
//!   at most one writer at a time.
//! - A partition claimed by two members (an old owner back from a freeze) goes to neither this
//!   generation: both give it up, and the next generation assigns it fresh.
//! - Unowned partitions (new ones, or a departed member's) go to the least loaded member under
//!   its share: heaviest first (by recent bytes per second where known), so load spreads by
//!   bytes as well as by count.

use std::collections::{BTreeMap, BTreeSet};

/// A source partition: (topic, partition).
pub type PartitionKey = (String, i32);

/// What the leader knows of one member when assigning.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MemberClaim {
    /// The partitions the member says it owns (runs now).
    pub owned: BTreeSet<PartitionKey>,
}

/// The leader's decision for one generation.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Plan {
    /// Each member's partitions for this generation (every member listed, maybe with none).
    pub assigned: BTreeMap<String, BTreeSet<PartitionKey>>,
    /// Partitions held back this generation: being given up by their owner (a move) or claimed
    /// twice. The next generation assigns them.
    pub held_back: BTreeSet<PartitionKey>,
}

impl Plan {
    /// Whether another generation must follow to finish moves.
    pub fn moves_pending(&self) -> bool {
        !self.held_back.is_empty()
    }
}

/// Assigns `partitions` (with recent bytes per second, 0 where unknown) to `members`.
pub fn assign(
    partitions: &BTreeMap<PartitionKey, u64>,
    members: &BTreeMap<String, MemberClaim>,
) -> Plan {
    let mut plan = Plan {
        assigned: members
            .keys()
            .map(|m| (m.clone(), BTreeSet::new()))
            .collect(),
        held_back: BTreeSet::new(),
    };
    if members.is_empty() {
        return plan;
    }
    let claimants = claimants(partitions, members);
    let (floor, mut above_floor) = (
        partitions.len() / members.len(),
        partitions.len() % members.len(),
    );

    // Sticky: each member keeps its sole claims, the heaviest first, up to its share. Members
    // keeping most are served first, so they are the ones that keep `floor + 1`.
    let mut kept: Vec<(String, Vec<PartitionKey>)> = members
        .keys()
        .map(|m| {
            let mut own: Vec<PartitionKey> = claimants
                .iter()
                .filter(|(_, c)| c.len() == 1 && c[0] == m)
                .map(|(p, _)| (*p).clone())
                .collect();
            own.sort_by(|a, b| partitions[b].cmp(&partitions[a]).then(a.cmp(b)));
            (m.clone(), own)
        })
        .collect();
    kept.sort_by(|a, b| b.1.len().cmp(&a.1.len()).then(a.0.cmp(&b.0)));
    for (member, own) in kept {
        let mut share = floor;
        if own.len() > floor && above_floor > 0 {
            share += 1;
            above_floor -= 1;
        }
        let (keep, give_up) = own.split_at(own.len().min(share));
        plan.assigned
            .get_mut(&member)
            .expect("every member listed")
            .extend(keep.iter().cloned());
        plan.held_back.extend(give_up.iter().cloned());
    }
    plan.held_back.extend(
        claimants
            .iter()
            .filter(|(_, c)| c.len() > 1)
            .map(|(p, _)| (*p).clone()),
    );

    // Unowned partitions, heaviest first, each to the least loaded member under its share.
    let mut unowned: Vec<&PartitionKey> = partitions
        .keys()
        .filter(|p| !claimants.contains_key(p))
        .collect();
    unowned.sort_by(|a, b| partitions[*b].cmp(&partitions[*a]).then(a.cmp(b)));
    let mut load: BTreeMap<String, u64> = plan
        .assigned
        .iter()
        .map(|(m, ps)| (m.clone(), ps.iter().map(|p| partitions[p]).sum()))
        .collect();
    for p in unowned {
        let open = |count: usize| count < floor || (count == floor && above_floor > 0);
        let member = plan
            .assigned
            .iter()
            .filter(|(_, ps)| open(ps.len()))
            .min_by_key(|(m, ps)| (load[*m], ps.len(), m.as_str()))
            .map(|(m, _)| m.clone())
            .expect("shares add up to the partition count");
        let ps = plan.assigned.get_mut(&member).expect("member listed");
        if ps.len() == floor {
            above_floor -= 1;
        }
        ps.insert(p.clone());
        *load.get_mut(&member).expect("member listed") += partitions[p];
    }
    plan
}

/// Who claims each existing partition (claims of partitions that no longer exist are dropped).
fn claimants<'a>(
    partitions: &'a BTreeMap<PartitionKey, u64>,
    members: &'a BTreeMap<String, MemberClaim>,
) -> BTreeMap<&'a PartitionKey, Vec<&'a String>> {
    let mut out: BTreeMap<&PartitionKey, Vec<&String>> = BTreeMap::new();
    for (member, claim) in members {
        for p in &claim.owned {
            if let Some((key, _)) = partitions.get_key_value(p) {
                out.entry(key).or_default().push(member);
            }
        }
    }
    out
}

#[cfg(test)]
mod tests;
