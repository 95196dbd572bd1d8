//! Latency histograms and their JSON summaries.

use hdrhistogram::Histogram;
use serde_json::{Value, json};
use std::collections::BTreeMap;

/// A latency histogram in microseconds, from 1 us to 10 minutes, 3 significant digits.
pub fn new_histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, 600_000_000, 3)
        .expect("constant bounds satisfy the histogram's preconditions")
}

/// Records `us` microseconds, clamped into the histogram's range.
pub fn record(h: &mut Histogram<u64>, us: u64) {
    let v = us.clamp(1, h.high());
    h.saturating_record(v);
}

/// Percentiles of a histogram in microseconds, as JSON.
pub fn summary_us(h: &Histogram<u64>) -> Value {
    if h.is_empty() {
        return Value::Null;
    }
    json!({
        "min": h.min(),
        "mean": (h.mean() * 10.0).round() / 10.0,
        "p50": h.value_at_quantile(0.50),
        "p90": h.value_at_quantile(0.90),
        "p99": h.value_at_quantile(0.99),
        "p999": h.value_at_quantile(0.999),
        "max": h.max(),
    })
}

/// A one-line human rendering of a histogram in milliseconds.
pub fn human_ms(h: &Histogram<u64>) -> String {
    if h.is_empty() {
        return "no samples".to_owned();
    }
    let ms = |us: u64| us as f64 / 1000.0;
    format!(
        "p50 {:.2} ms, p90 {:.2} ms, p99 {:.2} ms, max {:.2} ms",
        ms(h.value_at_quantile(0.5)),
        ms(h.value_at_quantile(0.9)),
        ms(h.value_at_quantile(0.99)),
        ms(h.max())
    )
}

/// Counts of failures by kind.
#[derive(Debug, Default, Clone)]
pub struct Errors(BTreeMap<String, u64>);

impl Errors {
    /// Counts one failure of `kind`.
    pub fn add(&mut self, kind: impl Into<String>) {
        *self.0.entry(kind.into()).or_default() += 1;
    }

    /// Adds another set of counts.
    pub fn merge(&mut self, other: &Errors) {
        for (k, v) in &other.0 {
            *self.0.entry(k.clone()).or_default() += v;
        }
    }

    /// Total failures.
    pub fn total(&self) -> u64 {
        self.0.values().sum()
    }

    /// As a JSON object.
    pub fn to_json(&self) -> Value {
        json!(self.0)
    }

    /// As `kind=count, ...`.
    pub fn human(&self) -> String {
        if self.0.is_empty() {
            return "none".to_owned();
        }
        self.0.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join(", ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn summaries_report_percentiles() {
        let mut h = new_histogram();
        for us in 1..=1000 {
            record(&mut h, us);
        }
        record(&mut h, u64::MAX);
        let s = summary_us(&h);
        assert!(s["p50"].as_u64().is_some_and(|p| (495..=505).contains(&p)));
        assert!(summary_us(&new_histogram()).is_null());
    }

    #[test]
    fn errors_merge() {
        let mut a = Errors::default();
        a.add("timeout");
        let mut b = Errors::default();
        b.add("timeout");
        b.add("http_401");
        a.merge(&b);
        assert_eq!(a.total(), 3);
        assert_eq!(a.human(), "http_401=1, timeout=2");
    }
}
