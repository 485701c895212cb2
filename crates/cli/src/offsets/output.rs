//! Printing translation rows as an aligned table or as JSON.

use std::collections::BTreeMap;

use super::translate::Row;

fn opt(v: Option<i64>) -> String {
    v.map_or_else(|| "-".to_owned(), |v| v.to_string())
}

/// Prints `rows` as a table; `actions` (row index → action) adds an ACTION column.
pub(crate) fn print_table(rows: &[Row], actions: Option<&BTreeMap<usize, &str>>) {
    let mut lines = vec![vec![
        "GROUP".to_owned(),
        "TOPIC".to_owned(),
        "PARTITION".to_owned(),
        "SOURCE-OFFSET".to_owned(),
        "TARGET-OFFSET".to_owned(),
        "HOW".to_owned(),
        "CURRENT".to_owned(),
    ]];
    if actions.is_some() {
        lines[0].push("ACTION".to_owned());
    }
    for (i, r) in rows.iter().enumerate() {
        let mut line = vec![
            r.group.clone(),
            r.topic.clone(),
            r.partition.to_string(),
            opt(r.source_offset),
            opt(r.target_offset),
            r.how.word().to_owned(),
            opt(r.current),
        ];
        if let Some(actions) = actions {
            line.push(actions.get(&i).copied().unwrap_or("-").to_owned());
        }
        lines.push(line);
    }
    let widths: Vec<usize> = (0..lines[0].len())
        .map(|c| lines.iter().map(|l| l[c].len()).max().unwrap_or(0))
        .collect();
    for line in lines {
        let cells: Vec<String> = line
            .iter()
            .zip(&widths)
            .map(|(cell, w)| format!("{cell:<w$}"))
            .collect();
        println!("{}", cells.join("  ").trim_end());
    }
}

/// Prints `rows` as a JSON array; `actions` adds an `action` field.
pub(crate) fn print_json(rows: &[Row], actions: Option<&BTreeMap<usize, &str>>) {
    let items: Vec<serde_json::Value> = rows
        .iter()
        .enumerate()
        .map(|(i, r)| {
            let mut v = serde_json::json!({
                "group": r.group,
                "topic": r.topic,
                "partition": r.partition,
                "source_offset": r.source_offset,
                "target_offset": r.target_offset,
                "how": r.how.word(),
                "current": r.current,
            });
            if let Some(a) = actions.and_then(|a| a.get(&i)) {
                v["action"] = serde_json::Value::from(*a);
            }
            v
        })
        .collect();
    println!(
        "{}",
        serde_json::to_string_pretty(&items).expect("JSON of plain values")
    );
}
