use proptest::prelude::*;

use super::*;

fn topic(name: &str, count: i32, rate: u64) -> BTreeMap<PartitionKey, u64> {
    (0..count).map(|p| ((name.to_owned(), p), rate)).collect()
}

fn key(topic: &str, partition: i32) -> PartitionKey {
    (topic.to_owned(), partition)
}

fn members(names: &[&str]) -> BTreeMap<String, MemberClaim> {
    names
        .iter()
        .map(|m| (m.to_string(), MemberClaim::default()))
        .collect()
}

/// The members after they adopt `plan`: each owns what it was assigned.
fn adopt(plan: &Plan) -> BTreeMap<String, MemberClaim> {
    plan.assigned
        .iter()
        .map(|(m, owned)| {
            let owned = owned.clone();
            (m.clone(), MemberClaim { owned })
        })
        .collect()
}

fn counts(plan: &Plan) -> Vec<usize> {
    plan.assigned.values().map(BTreeSet::len).collect()
}

/// Every generation until no move is pending (at most `limit`), the last plan and the count.
fn converge(
    partitions: &BTreeMap<PartitionKey, u64>,
    mut members: BTreeMap<String, MemberClaim>,
    limit: usize,
) -> (Plan, usize) {
    for generation in 1..=limit {
        let plan = assign(partitions, &members);
        if !plan.moves_pending() {
            return (plan, generation);
        }
        members = adopt(&plan);
    }
    panic!("no stable assignment after {limit} generations");
}

#[test]
fn a_fresh_group_gets_every_partition_spread_evenly() {
    let partitions = topic("orders", 10, 0);
    let plan = assign(&partitions, &members(&["a", "b", "c"]));
    assert_eq!(counts(&plan), [4, 3, 3]);
    assert!(!plan.moves_pending());
    let all: BTreeSet<_> = plan.assigned.values().flatten().cloned().collect();
    assert_eq!(all.len(), 10);
}

#[test]
fn one_member_alone_gets_everything() {
    let partitions = topic("orders", 12, 0);
    let plan = assign(&partitions, &members(&["solo"]));
    assert_eq!(counts(&plan), [12]);
}

#[test]
fn no_members_no_assignment() {
    let plan = assign(&topic("orders", 3, 0), &BTreeMap::new());
    assert!(plan.assigned.is_empty() && plan.held_back.is_empty());
}

#[test]
fn a_join_moves_only_the_new_members_share_in_two_generations() {
    let partitions = topic("orders", 12, 0);
    let two = assign(&partitions, &members(&["a", "b"]));
    let mut group = adopt(&two);
    group.insert("c".into(), MemberClaim::default());

    // Generation 1: a and b each give up 2; c gets nothing yet (no partition is unowned).
    let first = assign(&partitions, &group);
    assert_eq!(counts(&first), [4, 4, 0]);
    assert_eq!(first.held_back.len(), 4);
    for m in ["a", "b"] {
        assert!(first.assigned[m].is_subset(&two.assigned[m]), "{m} gained");
    }

    // Generation 2: the four given up go to c; a and b keep what they kept.
    let second = assign(&partitions, &adopt(&first));
    assert!(!second.moves_pending());
    assert_eq!(counts(&second), [4, 4, 4]);
    assert_eq!(second.assigned["c"], first.held_back);
    for m in ["a", "b"] {
        assert_eq!(second.assigned[m], first.assigned[m]);
    }
}

#[test]
fn a_leave_hands_out_only_the_leavers_partitions_at_once() {
    let partitions = topic("orders", 12, 0);
    let three = assign(&partitions, &members(&["a", "b", "c"]));
    let mut group = adopt(&three);
    let gone = group.remove("c").unwrap().owned;
    let plan = assign(&partitions, &group);
    assert!(!plan.moves_pending());
    assert_eq!(counts(&plan), [6, 6]);
    for m in ["a", "b"] {
        assert!(three.assigned[m].is_subset(&plan.assigned[m]));
        let gained: BTreeSet<_> = plan.assigned[m].difference(&three.assigned[m]).collect();
        assert!(
            gained.iter().all(|p| gone.contains(*p)),
            "{m} took a live member's"
        );
    }
}

#[test]
fn a_partition_claimed_twice_goes_to_neither_until_both_gave_it_up() {
    let partitions = topic("orders", 2, 0);
    let mut group = members(&["a", "b"]);
    for m in ["a", "b"] {
        group.get_mut(m).unwrap().owned.insert(key("orders", 0));
    }
    let plan = assign(&partitions, &group);
    assert_eq!(plan.held_back, BTreeSet::from([key("orders", 0)]));
    assert!(plan
        .assigned
        .values()
        .all(|ps| !ps.contains(&key("orders", 0))));
    let next = assign(&partitions, &adopt(&plan));
    assert!(!next.moves_pending());
    assert_eq!(counts(&next), [1, 1]);
}

#[test]
fn unowned_partitions_spread_by_byte_rate() {
    let mut partitions = topic("big", 2, 1_000_000);
    partitions.extend(topic("small", 2, 10));
    let plan = assign(&partitions, &members(&["a", "b"]));
    for m in ["a", "b"] {
        let big = plan.assigned[m].iter().filter(|(t, _)| t == "big").count();
        assert_eq!(big, 1, "{m}: {:?}", plan.assigned[m]);
    }
}

#[test]
fn a_member_over_its_share_gives_up_its_lightest_partitions() {
    let mut partitions = topic("hot", 1, 500);
    partitions.extend(topic("cold", 3, 1));
    let mut group = members(&["a", "b"]);
    group.get_mut("a").unwrap().owned = partitions.keys().cloned().collect();
    let plan = assign(&partitions, &group);
    assert!(plan.assigned["a"].contains(&key("hot", 0)));
    assert_eq!(plan.held_back.len(), 2);
    assert!(plan.held_back.iter().all(|(t, _)| t == "cold"));
}

#[test]
fn claims_of_deleted_partitions_are_dropped() {
    let partitions = topic("orders", 2, 0);
    let mut group = members(&["a"]);
    group.get_mut("a").unwrap().owned = BTreeSet::from([key("gone", 0), key("orders", 5)]);
    let plan = assign(&partitions, &group);
    assert_eq!(plan.assigned["a"], partitions.keys().cloned().collect());
    assert!(!plan.moves_pending());
}

#[test]
fn new_partitions_join_a_stable_group_without_moving_others() {
    let mut partitions = topic("orders", 6, 0);
    let before = assign(&partitions, &members(&["a", "b", "c"]));
    partitions.extend(topic("payments", 3, 0));
    let after = assign(&partitions, &adopt(&before));
    assert!(!after.moves_pending());
    assert_eq!(counts(&after), [3, 3, 3]);
    for (m, ps) in &before.assigned {
        assert!(ps.is_subset(&after.assigned[m]));
    }
}

fn scenario() -> impl Strategy<Value = (BTreeMap<PartitionKey, u64>, BTreeMap<String, MemberClaim>)>
{
    (1usize..40, 1usize..7).prop_flat_map(|(n, m)| {
        let rates = proptest::collection::vec(0u64..1000, n);
        // Each partition claimed by nobody, one or two members (by index, maybe the same).
        let claims = proptest::collection::vec((0..m + 2, 0..m + 4), n);
        (Just(m), rates, claims).prop_map(|(m, rates, claims)| {
            let partitions: BTreeMap<PartitionKey, u64> = rates
                .into_iter()
                .enumerate()
                .map(|(i, r)| ((format!("t{}", i % 3), i as i32), r))
                .collect();
            let mut group: BTreeMap<String, MemberClaim> = (0..m)
                .map(|i| (format!("m{i}"), MemberClaim::default()))
                .collect();
            for (p, (first, second)) in partitions.keys().zip(claims) {
                for who in [first, second] {
                    if let Some(claim) = group.get_mut(&format!("m{who}")) {
                        claim.owned.insert(p.clone());
                    }
                }
            }
            (partitions, group)
        })
    })
}

proptest! {
    #[test]
    fn no_partition_ever_has_two_writers_and_the_group_settles_balanced(
        (partitions, group) in scenario()
    ) {
        let plan = assign(&partitions, &group);
        let n = partitions.len();
        let m = group.len();
        let mut seen = BTreeSet::new();
        for (member, ps) in &plan.assigned {
            prop_assert!(ps.len() <= n.div_ceil(m), "{member} over its share");
            for p in ps {
                prop_assert!(seen.insert(p.clone()), "{p:?} assigned twice");
                prop_assert!(!plan.held_back.contains(p));
                // Never straight from one member to another.
                let others = group.iter().filter(|(o, c)| *o != member && c.owned.contains(p));
                prop_assert_eq!(others.count(), 0, "{:?} moved straight to {}", p, member);
            }
        }
        let covered: BTreeSet<_> = seen.union(&plan.held_back).cloned().collect();
        prop_assert_eq!(covered, partitions.keys().cloned().collect::<BTreeSet<_>>());

        // Once the members adopt it, the next generation finishes every move, evenly.
        let (last, generations) = converge(&partitions, adopt(&plan), 2);
        prop_assert!(generations <= 2);
        let sizes = counts(&last);
        prop_assert_eq!(sizes.iter().sum::<usize>(), n);
        prop_assert!(sizes.iter().max().unwrap() - sizes.iter().min().unwrap() <= 1);
    }
}
