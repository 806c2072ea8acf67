//! `docs/compatibility.md` tells the truth about the action tables: every action a table
//! serves is listed as done or partial, and every action listed so is served.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use rampart_api::product::products;

const DOC: &str = include_str!("../../../docs/compatibility.md");

/// `(section heading, action, status)` of every table row under a product heading.
fn rows() -> Vec<(String, String, String)> {
    let mut section = String::new();
    let mut out = Vec::new();
    for line in DOC.lines() {
        if let Some(h) = line.strip_prefix("## ") {
            section = h.to_owned();
            continue;
        }
        let cells: Vec<&str> = line.split('|').map(str::trim).collect();
        if cells.len() >= 4
            && !cells[1].is_empty()
            && cells[1] != "action"
            && !cells[1].starts_with('-')
        {
            out.push((section.clone(), cells[1].to_owned(), cells[2].to_owned()));
        }
    }
    out
}

#[test]
fn the_matrix_matches_the_tables() {
    let rows = rows();
    for product in products() {
        let heading = format!("{} {}", product.name.to_uppercase(), product.version);
        if product.name == "Rampart" {
            continue;
        }
        let mine: Vec<_> = rows.iter().filter(|r| r.0.starts_with(&heading)).collect();
        assert!(
            !mine.is_empty(),
            "no section {heading:?} in docs/compatibility.md"
        );
        for action in product.actions {
            let row = mine
                .iter()
                .find(|r| r.1 == action.name)
                .unwrap_or_else(|| panic!("{} {} is not in the matrix", product.name, action.name));
            assert!(
                row.2 == "done" || row.2 == "partial",
                "{} is served but listed as {}",
                action.name,
                row.2
            );
        }
        for row in &mine {
            if row.2 == "done" || row.2 == "partial" {
                assert!(
                    product.action(&row.1).is_some(),
                    "{} is listed as {} but not served",
                    row.1,
                    row.2
                );
            }
        }
    }
}
