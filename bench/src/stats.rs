//! Latency histograms and the order statistics the reports are made of.
//!
//! Latencies go into an HDR histogram (microseconds, 3 significant digits) per client
//! task, merged at the end of a phase, so recording costs no lock and no allocation.
//! Across rounds, [`median`] of the per-round figures is what the comparison shows:
//! one slow round (a compaction, a neighbour's build) does not move it.

use std::time::Duration;

use hdrhistogram::Histogram;
use serde::{Deserialize, Serialize};

use crate::{Error, Result};

/// The largest latency the histogram holds exactly: 60 s; longer ones are clamped.
const MAX_LATENCY_US: u64 = 60_000_000;
/// Significant decimal digits kept: 0.1 % relative error at every magnitude.
const SIGNIFICANT_DIGITS: u8 = 3;

/// Latencies of completed requests, in microseconds.
#[derive(Debug, Clone)]
pub struct Latencies(Histogram<u64>);

impl Latencies {
    /// An empty histogram covering 1 µs to 60 s.
    pub fn new() -> Result<Self> {
        Histogram::new_with_bounds(1, MAX_LATENCY_US, SIGNIFICANT_DIGITS)
            .map(Latencies)
            .map_err(|e| Error::Histogram(e.to_string()))
    }

    /// Records one request's latency; below 1 µs counts as 1 µs, above 60 s as 60 s.
    pub fn record(&mut self, latency: Duration) {
        let micros = u64::try_from(latency.as_micros()).unwrap_or(u64::MAX);
        self.0.saturating_record(micros.clamp(1, MAX_LATENCY_US));
    }

    /// Adds every latency of `other` (another client task of the same phase).
    pub fn merge(&mut self, other: &Latencies) -> Result<()> {
        self.0
            .add(&other.0)
            .map_err(|e| Error::Histogram(format!("{e:?}")))
    }

    /// How many latencies were recorded.
    pub fn count(&self) -> u64 {
        self.0.len()
    }

    /// p50, p99, p99.9, max and mean; all zero when nothing was recorded.
    pub fn summary(&self) -> LatencySummary {
        if self.0.is_empty() {
            return LatencySummary::default();
        }
        LatencySummary {
            p50_us: self.0.value_at_quantile(0.50),
            p99_us: self.0.value_at_quantile(0.99),
            p999_us: self.0.value_at_quantile(0.999),
            max_us: self.0.max(),
            mean_us: self.0.mean().round() as u64,
        }
    }
}

/// A phase's latency figures, in microseconds, as written to the JSON result.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct LatencySummary {
    pub p50_us: u64,
    pub p99_us: u64,
    pub p999_us: u64,
    pub max_us: u64,
    /// Rounded to whole microseconds, like the others, so the JSON round-trips exactly.
    pub mean_us: u64,
}

/// The `q`-quantile (0 ≤ q ≤ 1) of `values`, interpolating linearly between the two
/// closest ranks (the R-7 / numpy default); `None` for no values or a `q` outside [0, 1].
/// NaNs sort last, so they only show up when asked for the top of the range.
pub fn percentile(values: &[f64], q: f64) -> Option<f64> {
    if values.is_empty() || !(0.0..=1.0).contains(&q) {
        return None;
    }
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    let rank = q * (sorted.len() - 1) as f64;
    let low = rank.floor() as usize;
    let high = rank.ceil() as usize;
    let fraction = rank - low as f64;
    Some(sorted[low] + (sorted[high] - sorted[low]) * fraction)
}

/// The median of `values`: the middle one, or the mean of the two middle ones.
pub fn median(values: &[f64]) -> Option<f64> {
    percentile(values, 0.5)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn median_of_odd_and_even_counts() {
        assert_eq!(median(&[3.0, 1.0, 2.0]), Some(2.0));
        assert_eq!(median(&[4.0, 1.0, 3.0, 2.0]), Some(2.5));
        assert_eq!(median(&[7.0]), Some(7.0));
        assert_eq!(median(&[]), None);
    }

    #[test]
    fn median_ignores_one_outlier_round() {
        assert_eq!(median(&[1000.0, 1010.0, 20.0]), Some(1000.0));
    }

    #[test]
    fn percentile_interpolates_between_ranks() {
        let values: Vec<f64> = (1..=5).map(f64::from).collect();
        assert_eq!(percentile(&values, 0.0), Some(1.0));
        assert_eq!(percentile(&values, 1.0), Some(5.0));
        assert_eq!(percentile(&values, 0.25), Some(2.0));
        assert_eq!(percentile(&values, 0.9), Some(4.6));
        assert_eq!(percentile(&[10.0, 20.0], 0.5), Some(15.0));
    }

    #[test]
    fn percentile_rejects_out_of_range_quantiles() {
        assert_eq!(percentile(&[1.0], -0.1), None);
        assert_eq!(percentile(&[1.0], 1.1), None);
        assert_eq!(percentile(&[1.0], f64::NAN), None);
    }

    #[test]
    fn summary_of_one_to_a_thousand_microseconds() {
        let mut latencies = Latencies::new().unwrap();
        for us in 1..=1000 {
            latencies.record(Duration::from_micros(us));
        }
        let summary = latencies.summary();
        assert_eq!(latencies.count(), 1000);
        assert_eq!(summary.p50_us, 500);
        assert_eq!(summary.p99_us, 990);
        assert_eq!(summary.p999_us, 999);
        assert_eq!(summary.max_us, 1000);
        assert!(
            (500..=501).contains(&summary.mean_us),
            "{}",
            summary.mean_us
        );
    }

    #[test]
    fn merged_histograms_count_every_latency() {
        let mut a = Latencies::new().unwrap();
        let mut b = Latencies::new().unwrap();
        a.record(Duration::from_millis(1));
        b.record(Duration::from_millis(3));
        b.record(Duration::from_millis(5));
        a.merge(&b).unwrap();
        assert_eq!(a.count(), 3);
        let max_ms = a.summary().max_us as f64 / 1000.0;
        assert!((max_ms - 5.0).abs() < 0.01, "{max_ms}");
    }

    #[test]
    fn empty_and_extreme_latencies() {
        let mut latencies = Latencies::new().unwrap();
        assert_eq!(latencies.summary(), LatencySummary::default());
        latencies.record(Duration::ZERO);
        latencies.record(Duration::from_secs(3600));
        let summary = latencies.summary();
        assert_eq!(summary.p50_us, 1);
        assert!(summary.max_us >= MAX_LATENCY_US && summary.max_us <= MAX_LATENCY_US * 1001 / 1000);
    }
}
