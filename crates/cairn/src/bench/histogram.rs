//! A log-linear latency histogram: exact below 64 µs, then 32 buckets per
//! power of two, so any recorded value is off by at most 1/32 (about 3%).
//! Fixed memory (1,920 counters), O(1) recording, and histograms of
//! different clients merge by adding counters.

/// Sub-buckets per power of two, as a power of two.
const SUB_BUCKET_BITS: u32 = 5;
const SUB_BUCKETS: u64 = 1 << SUB_BUCKET_BITS;
/// Values below this are counted exactly, one bucket each.
const EXACT_BELOW: u64 = 2 * SUB_BUCKETS;
/// Enough buckets for every `u64`: the exact range, then 32 per power of two
/// from 2^6 to 2^63.
const BUCKETS: usize = ((64 - SUB_BUCKET_BITS + 1) * SUB_BUCKETS as u32) as usize;

#[derive(Clone, Debug)]
pub struct Histogram {
    counts: Vec<u64>,
    count: u64,
    sum: u128,
    min: u64,
    max: u64,
}

impl Default for Histogram {
    fn default() -> Self {
        Histogram::new()
    }
}

/// The bucket that holds `value`.
fn bucket_of(value: u64) -> usize {
    if value < EXACT_BELOW {
        return value as usize;
    }
    let exponent = 63 - value.leading_zeros();
    let shift = exponent - SUB_BUCKET_BITS;
    // `top` is in [SUB_BUCKETS, 2 * SUB_BUCKETS).
    let top = value >> shift;
    (u64::from(shift) * SUB_BUCKETS + top) as usize
}

/// The smallest and largest values that land in `bucket`.
fn bucket_bounds(bucket: usize) -> (u64, u64) {
    let bucket = bucket as u64;
    if bucket < EXACT_BELOW {
        return (bucket, bucket);
    }
    let shift = bucket / SUB_BUCKETS - 1;
    let top = bucket % SUB_BUCKETS + SUB_BUCKETS;
    let low = top << shift;
    let high = low + ((1u64 << shift) - 1);
    (low, high)
}

impl Histogram {
    pub fn new() -> Histogram {
        Histogram {
            counts: vec![0; BUCKETS],
            count: 0,
            sum: 0,
            min: u64::MAX,
            max: 0,
        }
    }

    pub fn record(&mut self, value: u64) {
        self.counts[bucket_of(value)] += 1;
        self.count += 1;
        self.sum += u128::from(value);
        self.min = self.min.min(value);
        self.max = self.max.max(value);
    }

    pub fn merge(&mut self, other: &Histogram) {
        for (mine, theirs) in self.counts.iter_mut().zip(&other.counts) {
            *mine += theirs;
        }
        self.count += other.count;
        self.sum += other.sum;
        self.min = self.min.min(other.min);
        self.max = self.max.max(other.max);
    }

    pub fn count(&self) -> u64 {
        self.count
    }

    /// The smallest recorded value, if any.
    pub fn min(&self) -> Option<u64> {
        (self.count > 0).then_some(self.min)
    }

    /// The largest recorded value, exactly, if any.
    pub fn max(&self) -> Option<u64> {
        (self.count > 0).then_some(self.max)
    }

    pub fn mean(&self) -> Option<f64> {
        (self.count > 0).then(|| self.sum as f64 / self.count as f64)
    }

    /// The value at `quantile` (0.0 to 1.0): the upper bound of the bucket
    /// holding the ⌈quantile × count⌉-th smallest value, clamped to the
    /// exact minimum and maximum. So it never understates a latency by more
    /// than a bucket's width and never reports more than was seen.
    pub fn quantile(&self, quantile: f64) -> Option<u64> {
        if self.count == 0 {
            return None;
        }
        let quantile = quantile.clamp(0.0, 1.0);
        let rank = ((quantile * self.count as f64).ceil() as u64).clamp(1, self.count);
        let mut seen = 0u64;
        for (bucket, &count) in self.counts.iter().enumerate() {
            seen += count;
            if seen >= rank {
                let (_, high) = bucket_bounds(bucket);
                return Some(high.clamp(self.min, self.max));
            }
        }
        // The counters add up to `count`, so the loop returned.
        Some(self.max)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_tile_the_whole_range() {
        // Consecutive buckets meet with neither gap nor overlap.
        let mut expected_low = 0u64;
        for bucket in 0..BUCKETS {
            let (low, high) = bucket_bounds(bucket);
            assert_eq!(low, expected_low, "bucket {bucket}");
            assert!(high >= low);
            assert_eq!(bucket_of(low), bucket);
            assert_eq!(bucket_of(high), bucket);
            expected_low = high.wrapping_add(1);
        }
        // The last bucket ends at u64::MAX.
        assert_eq!(expected_low, 0);
        assert_eq!(bucket_of(u64::MAX), BUCKETS - 1);
    }

    #[test]
    fn relative_error_is_bounded() {
        for value in [
            0u64,
            1,
            63,
            64,
            65,
            100,
            1_000,
            12_345,
            999_999,
            1 << 40,
            u64::MAX / 3,
        ] {
            let (low, high) = bucket_bounds(bucket_of(value));
            assert!(low <= value && value <= high, "{value} in [{low}, {high}]");
            let width = high - low;
            assert!(
                width as f64 <= value as f64 / SUB_BUCKETS as f64,
                "{value}: width {width}"
            );
        }
    }

    #[test]
    fn quantiles_of_a_uniform_run() {
        let mut histogram = Histogram::new();
        for value in 1..=10_000u64 {
            histogram.record(value);
        }
        assert_eq!(histogram.count(), 10_000);
        assert_eq!(histogram.min(), Some(1));
        assert_eq!(histogram.max(), Some(10_000));
        assert_eq!(histogram.mean(), Some(5_000.5));
        for (quantile, exact) in [(0.5, 5_000.0), (0.9, 9_000.0), (0.99, 9_900.0)] {
            let found = histogram.quantile(quantile).unwrap() as f64;
            // Never below the truth, at most one bucket (≤ 1/32) above it.
            assert!(found >= exact, "p{quantile}: {found} < {exact}");
            assert!(found <= exact * (1.0 + 1.0 / 32.0), "p{quantile}: {found}");
        }
        assert_eq!(histogram.quantile(1.0), Some(10_000));
        assert_eq!(histogram.quantile(0.0), Some(1));
    }

    #[test]
    fn small_values_are_exact_and_outliers_show_in_max() {
        let mut histogram = Histogram::new();
        for _ in 0..99 {
            histogram.record(7);
        }
        histogram.record(1_000_000);
        assert_eq!(histogram.quantile(0.5), Some(7));
        assert_eq!(histogram.quantile(0.99), Some(7));
        assert_eq!(histogram.quantile(0.999), Some(1_000_000));
        assert_eq!(histogram.max(), Some(1_000_000));
    }

    #[test]
    fn empty_histograms_have_no_quantiles() {
        let histogram = Histogram::new();
        assert_eq!(histogram.quantile(0.5), None);
        assert_eq!(histogram.max(), None);
        assert_eq!(histogram.min(), None);
        assert_eq!(histogram.mean(), None);
    }

    #[test]
    fn merging_equals_recording_together() {
        let mut left = Histogram::new();
        let mut right = Histogram::new();
        let mut together = Histogram::new();
        for value in 0..5_000u64 {
            let value = value * value % 77_777;
            if value % 3 == 0 {
                left.record(value);
            } else {
                right.record(value);
            }
            together.record(value);
        }
        left.merge(&right);
        assert_eq!(left.counts, together.counts);
        assert_eq!(left.count(), together.count());
        assert_eq!(left.max(), together.max());
        assert_eq!(left.min(), together.min());
        for quantile in [0.5, 0.9, 0.99] {
            assert_eq!(left.quantile(quantile), together.quantile(quantile));
        }
        // Merging an empty histogram changes nothing.
        left.merge(&Histogram::new());
        assert_eq!(left.min(), together.min());
    }
}
