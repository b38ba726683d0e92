//! Side by side: many runs of `rudder-bench store` or `rudder-bench apiserver` (rounds ×
//! targets × cluster sizes) folded into one table with one row per workload, concurrency
//! and cluster size.
//!
//! Each cell is the median over the rounds of that target, so one disturbed round does
//! not decide a row. A row passes when it meets every target that applies to it and the
//! candidate had no errors. The store's targets are ratios to the baseline (issue 3: ≥
//! 1.0× etcd's ops/s, ≤ 1.2× etcd's p99); the API server's are absolute p99 limits per
//! workload (issue 4: mutating requests under 25 ms, a list from the cache under 100 ms).

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;

use crate::result::{Document, Workload};
use crate::stats::median;

/// The bar the candidate is held to.
#[derive(Debug, Clone, PartialEq)]
pub struct Targets {
    /// Candidate ops/s ÷ baseline ops/s must be at least this.
    pub min_throughput_ratio: Option<f64>,
    /// Candidate p99 ÷ baseline p99 must be at most this.
    pub max_p99_ratio: Option<f64>,
    /// The candidate's p99 of these workloads must be at most this many milliseconds.
    pub max_p99_ms: Vec<(Workload, f64)>,
}

impl Default for Targets {
    /// Issue 3's targets for rudder-store against etcd.
    fn default() -> Self {
        Targets {
            min_throughput_ratio: Some(1.0),
            max_p99_ratio: Some(1.2),
            max_p99_ms: Vec::new(),
        }
    }
}

impl Targets {
    /// Issue 4's targets for the API server: absolute, whatever store is under it.
    pub fn apiserver() -> Self {
        Targets {
            min_throughput_ratio: None,
            max_p99_ratio: None,
            max_p99_ms: vec![
                (Workload::Create, 25.0),
                (Workload::Update, 25.0),
                (Workload::ListCache, 100.0),
            ],
        }
    }

    /// The defaults for these documents: the API server's when every one is an API
    /// server run, the store's otherwise.
    pub fn for_documents(runs: &[Document]) -> Self {
        if !runs.is_empty() && runs.iter().all(|r| matches!(r, Document::Apiserver(_))) {
            Targets::apiserver()
        } else {
            Targets::default()
        }
    }

    fn p99_limit_ms(&self, workload: Workload) -> Option<f64> {
        self.max_p99_ms
            .iter()
            .find(|(w, _)| *w == workload)
            .map(|(_, ms)| *ms)
    }

    /// One line saying what a row is held to.
    fn describe(&self, baseline: &str, candidate: &str) -> String {
        let mut parts = Vec::new();
        if let Some(r) = self.min_throughput_ratio {
            parts.push(format!("{candidate} ops/s ≥ {r:.1}× {baseline}"));
        }
        if let Some(r) = self.max_p99_ratio {
            parts.push(format!("{candidate} p99 ≤ {r:.1}× {baseline}"));
        }
        for (workload, ms) in &self.max_p99_ms {
            parts.push(format!("{candidate} {} p99 < {ms} ms", workload.name()));
        }
        parts.push("no errors".to_string());
        parts.join(", ")
    }
}

/// One round's figures for one row and one target.
#[derive(Debug, Clone, Copy)]
struct Round {
    ops_per_sec: f64,
    p99_ms: f64,
    errors: u64,
}

/// Which cell of the table: rows sort by cluster size, then workload, then clients.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct RowKey {
    pub members: usize,
    pub workload: Workload,
    pub clients: usize,
}

/// One target's figures in a row: medians over its rounds.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Side {
    pub rounds: usize,
    pub ops_per_sec: f64,
    pub p99_ms: f64,
    /// Failed requests, summed over the rounds.
    pub errors: u64,
}

/// How a row measures up to the targets.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    Pass,
    /// The targets missed: any of `ops/s`, `p99`, `p99 limit`, `errors`.
    Fail(Vec<&'static str>),
    /// One side has no runs, or the baseline's figures are zero: nothing to hold to.
    NoData,
}

/// One row of the table.
#[derive(Debug, Clone, PartialEq)]
pub struct Row {
    pub key: RowKey,
    pub baseline: Option<Side>,
    pub candidate: Option<Side>,
    /// candidate ops/s ÷ baseline ops/s.
    pub throughput_ratio: Option<f64>,
    /// candidate p99 ÷ baseline p99.
    pub p99_ratio: Option<f64>,
    pub verdict: Verdict,
}

/// The table and what did not fit in it.
#[derive(Debug, Clone, PartialEq)]
pub struct Comparison {
    pub baseline: String,
    pub candidate: String,
    pub targets: Targets,
    pub rows: Vec<Row>,
    /// Labels of runs that are neither baseline nor candidate (left out).
    pub ignored_labels: Vec<String>,
}

impl Comparison {
    /// Whether any row failed its targets (rows without data do not count).
    pub fn any_failed(&self) -> bool {
        self.rows
            .iter()
            .any(|row| matches!(row.verdict, Verdict::Fail(_)))
    }
}

/// Folds `runs` into one row per (members, workload, clients) seen in any of them.
pub fn compare(runs: &[Document], baseline: &str, candidate: &str, targets: Targets) -> Comparison {
    // (row, is candidate) -> that target's rounds
    let mut cells: BTreeMap<(RowKey, bool), Vec<Round>> = BTreeMap::new();
    let mut keys = BTreeSet::new();
    let mut ignored = BTreeSet::new();
    for run in runs {
        let is_candidate = if run.label() == candidate {
            true
        } else if run.label() == baseline {
            false
        } else {
            ignored.insert(run.label().to_string());
            continue;
        };
        for phase in run.phases() {
            let key = RowKey {
                members: run.members(),
                workload: phase.workload,
                clients: phase.clients,
            };
            keys.insert(key);
            cells.entry((key, is_candidate)).or_default().push(Round {
                ops_per_sec: phase.ops_per_sec,
                p99_ms: phase.latency.p99_us as f64 / 1000.0,
                errors: phase.errors,
            });
        }
    }
    let side = |key: RowKey, is_candidate: bool| -> Option<Side> {
        let rounds = cells.get(&(key, is_candidate))?;
        let ops: Vec<f64> = rounds.iter().map(|r| r.ops_per_sec).collect();
        let p99: Vec<f64> = rounds.iter().map(|r| r.p99_ms).collect();
        Some(Side {
            rounds: rounds.len(),
            ops_per_sec: median(&ops)?,
            p99_ms: median(&p99)?,
            errors: rounds.iter().map(|r| r.errors).sum(),
        })
    };
    let rows = keys
        .into_iter()
        .map(|key| row(key, side(key, false), side(key, true), &targets))
        .collect();
    Comparison {
        baseline: baseline.to_string(),
        candidate: candidate.to_string(),
        targets,
        rows,
        ignored_labels: ignored.into_iter().collect(),
    }
}

fn ratio(candidate: f64, baseline: f64) -> Option<f64> {
    (baseline > 0.0).then(|| candidate / baseline)
}

fn row(key: RowKey, baseline: Option<Side>, candidate: Option<Side>, targets: &Targets) -> Row {
    let throughput_ratio = baseline
        .zip(candidate)
        .and_then(|(b, c)| ratio(c.ops_per_sec, b.ops_per_sec));
    let p99_ratio = baseline
        .zip(candidate)
        .and_then(|(b, c)| ratio(c.p99_ms, b.p99_ms));
    let verdict = verdict(
        key,
        baseline,
        candidate,
        throughput_ratio,
        p99_ratio,
        targets,
    );
    Row {
        key,
        baseline,
        candidate,
        throughput_ratio,
        p99_ratio,
        verdict,
    }
}

/// Ratio targets need both sides; an absolute limit needs the candidate only.
fn verdict(
    key: RowKey,
    baseline: Option<Side>,
    candidate: Option<Side>,
    throughput_ratio: Option<f64>,
    p99_ratio: Option<f64>,
    targets: &Targets,
) -> Verdict {
    let Some(c) = candidate else {
        return Verdict::NoData;
    };
    let limit = targets.p99_limit_ms(key.workload);
    let by_ratio = targets.min_throughput_ratio.is_some() || targets.max_p99_ratio.is_some();
    if limit.is_none() && (!by_ratio || baseline.is_none()) {
        // Nothing to measure against, but failed requests fail a row on their own.
        return if c.errors > 0 {
            Verdict::Fail(vec!["errors"])
        } else {
            Verdict::NoData
        };
    }
    let mut missed = Vec::new();
    if by_ratio && baseline.is_some() {
        let (Some(t), Some(p)) = (throughput_ratio, p99_ratio) else {
            return Verdict::NoData;
        };
        if targets.min_throughput_ratio.is_some_and(|min| t < min) {
            missed.push("ops/s");
        }
        if targets.max_p99_ratio.is_some_and(|max| p > max) {
            missed.push("p99");
        }
    }
    if limit.is_some_and(|ms| c.p99_ms >= ms) {
        missed.push("p99 limit");
    }
    if c.errors > 0 {
        missed.push("errors");
    }
    if missed.is_empty() {
        Verdict::Pass
    } else {
        Verdict::Fail(missed)
    }
}

/// The comparison as a Markdown table (readable in a terminal, pasteable in a note),
/// with a line stating the targets and the rounds behind each median.
pub fn render(comparison: &Comparison) -> String {
    let (b, c) = (&comparison.baseline, &comparison.candidate);
    let mut out = String::new();
    let _ = writeln!(
        out,
        "| workload | clients | members | {b} ops/s | {c} ops/s | ratio | {b} p99 ms | {c} p99 ms | ratio | target | rounds |"
    );
    let _ = writeln!(out, "|---|--:|--:|--:|--:|--:|--:|--:|--:|---|--:|");
    // Lists of 10,000 pods run a few a second: keep a decimal below 10.
    let ops = |s: Option<Side>| {
        s.map_or("—".to_string(), |s| match s.ops_per_sec {
            r if r < 10.0 => format!("{r:.1}"),
            r => format!("{r:.0}"),
        })
    };
    let p99 = |s: Option<Side>| s.map_or("—".to_string(), |s| format!("{:.2}", s.p99_ms));
    let times = |r: Option<f64>| r.map_or("—".to_string(), |r| format!("{r:.2}×"));
    let rounds = |s: Option<Side>| s.map_or(0, |s| s.rounds);
    for row in &comparison.rows {
        let verdict = match &row.verdict {
            Verdict::Pass => "pass".to_string(),
            Verdict::Fail(missed) => format!("FAIL ({})", missed.join(", ")),
            Verdict::NoData => "—".to_string(),
        };
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {}+{} |",
            row.key.workload.name(),
            row.key.clients,
            row.key.members,
            ops(row.baseline),
            ops(row.candidate),
            times(row.throughput_ratio),
            p99(row.baseline),
            p99(row.candidate),
            times(row.p99_ratio),
            verdict,
            rounds(row.baseline),
            rounds(row.candidate),
        );
    }
    let _ = writeln!(
        out,
        "\nmedians over rounds ({b}+{c}); target: {}",
        comparison.targets.describe(b, c)
    );
    for row in &comparison.rows {
        for (name, side) in [(b, row.baseline), (c, row.candidate)] {
            if let Some(side) = side.filter(|s| s.errors > 0) {
                let _ = writeln!(
                    out,
                    "{name}: {} failed requests in {} × {} clients at {} member(s)",
                    side.errors,
                    row.key.workload.name(),
                    row.key.clients,
                    row.key.members
                );
            }
        }
    }
    if !comparison.ignored_labels.is_empty() {
        let _ = writeln!(
            out,
            "left out: runs labelled {}",
            comparison.ignored_labels.join(", ")
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::result::fixtures;
    use Workload::{Create, ListCache, Put, Range};

    fn run(label: &str, members: usize, phases: &[(Workload, usize, f64, u64)]) -> Document {
        Document::Store(fixtures::run(label, members, phases))
    }

    fn key(members: usize, workload: Workload, clients: usize) -> RowKey {
        RowKey {
            members,
            workload,
            clients,
        }
    }

    #[test]
    fn medians_over_rounds_and_ratios() {
        let runs = vec![
            run("etcd", 1, &[(Put, 16, 1000.0, 10_000)]),
            run("rudder", 1, &[(Put, 16, 1500.0, 9_000)]),
            run("etcd", 1, &[(Put, 16, 900.0, 30_000)]),
            run("rudder", 1, &[(Put, 16, 1100.0, 11_000)]),
            run("etcd", 1, &[(Put, 16, 1100.0, 12_000)]),
            run("rudder", 1, &[(Put, 16, 100.0, 12_000)]),
        ];
        let table = compare(&runs, "etcd", "rudder", Targets::default());
        assert_eq!(table.rows.len(), 1);
        let row = &table.rows[0];
        assert_eq!(row.baseline.unwrap().ops_per_sec, 1000.0);
        assert_eq!(row.baseline.unwrap().p99_ms, 12.0);
        assert_eq!(row.candidate.unwrap().ops_per_sec, 1100.0);
        assert_eq!(row.candidate.unwrap().p99_ms, 11.0);
        assert_eq!(row.candidate.unwrap().rounds, 3);
        assert!((row.throughput_ratio.unwrap() - 1.1).abs() < 1e-9);
        assert!((row.p99_ratio.unwrap() - 11.0 / 12.0).abs() < 1e-9);
        assert_eq!(row.verdict, Verdict::Pass);
        assert!(!table.any_failed());
    }

    #[test]
    fn rows_sort_by_members_workload_clients() {
        let runs = vec![
            run("etcd", 3, &[(Put, 1, 1.0, 1), (Range, 16, 1.0, 1)]),
            run(
                "etcd",
                1,
                &[(Range, 16, 1.0, 1), (Put, 64, 1.0, 1), (Put, 1, 1.0, 1)],
            ),
        ];
        let keys: Vec<RowKey> = compare(&runs, "etcd", "rudder", Targets::default())
            .rows
            .iter()
            .map(|r| r.key)
            .collect();
        assert_eq!(
            keys,
            vec![
                key(1, Put, 1),
                key(1, Put, 64),
                key(1, Range, 16),
                key(3, Put, 1),
                key(3, Range, 16),
            ]
        );
    }

    #[test]
    fn targets_at_their_edges() {
        let at_edge = vec![
            run("etcd", 1, &[(Put, 1, 100.0, 10_000)]),
            run("rudder", 1, &[(Put, 1, 100.0, 12_000)]),
        ];
        let table = compare(&at_edge, "etcd", "rudder", Targets::default());
        assert_eq!(table.rows[0].verdict, Verdict::Pass);

        let slower_and_later = vec![
            run("etcd", 1, &[(Put, 1, 100.0, 10_000)]),
            run("rudder", 1, &[(Put, 1, 99.0, 12_100)]),
        ];
        let table = compare(&slower_and_later, "etcd", "rudder", Targets::default());
        assert_eq!(table.rows[0].verdict, Verdict::Fail(vec!["ops/s", "p99"]));
        assert!(table.any_failed());
    }

    #[test]
    fn candidate_errors_fail_the_row() {
        let mut rudder = fixtures::run("rudder", 1, &[(Put, 1, 200.0, 1_000)]);
        rudder.phases[0].errors = 3;
        let runs = vec![
            run("etcd", 1, &[(Put, 1, 100.0, 10_000)]),
            Document::Store(rudder),
        ];
        let table = compare(&runs, "etcd", "rudder", Targets::default());
        assert_eq!(table.rows[0].verdict, Verdict::Fail(vec!["errors"]));
        assert!(
            render(&table).contains("rudder: 3 failed requests in put × 1 clients at 1 member(s)")
        );
    }

    #[test]
    fn baseline_alone_has_no_verdict() {
        let runs = vec![
            run("etcd", 1, &[(Put, 1, 250.0, 4_000)]),
            run("other", 1, &[(Put, 1, 1.0, 1)]),
        ];
        let table = compare(&runs, "etcd", "rudder", Targets::default());
        assert_eq!(table.rows[0].verdict, Verdict::NoData);
        assert!(table.rows[0].candidate.is_none());
        assert_eq!(table.ignored_labels, vec!["other".to_string()]);
        assert!(!table.any_failed());
    }

    #[test]
    fn renders_one_markdown_table() {
        let runs = vec![
            run("etcd", 1, &[(Put, 16, 1000.0, 10_000)]),
            run("rudder", 1, &[(Put, 16, 1500.0, 9_000)]),
            run("etcd", 3, &[(Range, 16, 5000.0, 4_000)]),
        ];
        let text = render(&compare(&runs, "etcd", "rudder", Targets::default()));
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(
            lines[0],
            "| workload | clients | members | etcd ops/s | rudder ops/s | ratio | etcd p99 ms | rudder p99 ms | ratio | target | rounds |"
        );
        assert_eq!(
            lines[2],
            "| put | 16 | 1 | 1000 | 1500 | 1.50× | 10.00 | 9.00 | 0.90× | pass | 1+1 |"
        );
        assert_eq!(
            lines[3],
            "| range | 16 | 3 | 5000 | — | — | 4.00 | — | — | — | 1+0 |"
        );
        assert!(text.contains("rudder ops/s ≥ 1.0× etcd, rudder p99 ≤ 1.2× etcd"));
    }

    #[test]
    fn apiserver_rows_are_held_to_absolute_limits() {
        let apiserver = |label: &str, phases: &[(Workload, usize, f64, u64)]| {
            Document::Apiserver(fixtures::apiserver_run(label, phases))
        };
        let runs = vec![
            apiserver(
                "etcd",
                &[(Create, 1, 300.0, 30_000), (ListCache, 1, 10.0, 80_000)],
            ),
            apiserver(
                "rudder",
                &[(Create, 1, 100.0, 24_000), (ListCache, 1, 5.0, 120_000)],
            ),
            apiserver("rudder", &[(Workload::Get, 1, 1000.0, 90_000)]),
            apiserver("rudder", &[(Workload::ListQuorum, 1, 0.0, 0)]),
        ];
        let mut runs = runs;
        if let Document::Apiserver(failing) = &mut runs[3] {
            failing.phases[0].errors = 20;
        }
        let targets = Targets::for_documents(&runs);
        assert_eq!(targets, Targets::apiserver());
        let table = compare(&runs, "etcd", "rudder", targets);
        let verdicts: Vec<(Workload, &Verdict)> = table
            .rows
            .iter()
            .map(|r| (r.key.workload, &r.verdict))
            .collect();
        // A third of etcd's throughput is no failure here; only the limits count.
        assert_eq!(
            verdicts,
            vec![
                (Create, &Verdict::Pass),
                (Workload::Get, &Verdict::NoData),
                (ListCache, &Verdict::Fail(vec!["p99 limit"])),
                (Workload::ListQuorum, &Verdict::Fail(vec!["errors"])),
            ]
        );
        let text = render(&table);
        assert!(
            text.contains(
                "| create | 1 | 1 | 300 | 100 | 0.33× | 30.00 | 24.00 | 0.80× | pass | 1+1 |"
            ),
            "{text}"
        );
        assert!(
            text.contains("rudder create p99 < 25 ms, rudder update p99 < 25 ms, rudder list_cache p99 < 100 ms, no errors"),
            "{text}"
        );
    }

    #[test]
    fn store_documents_keep_the_ratio_targets() {
        let runs = vec![run("etcd", 1, &[(Put, 1, 1.0, 1)])];
        assert_eq!(Targets::for_documents(&runs), Targets::default());
        assert_eq!(Targets::for_documents(&[]), Targets::default());
    }
}
