//! Capped, jittered exponential back-off, shared by call retries, the watcher and the
//! work queue's rate limiter.

use std::collections::hash_map::RandomState;
use std::hash::{BuildHasher, Hasher};
use std::time::Duration;

/// The shape of a back-off: `initial`, doubled per failure up to `max`, each delay
/// jittered into `[d/2, d]` so that many clients failing together do not retry in step.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BackoffConfig {
    /// Delay after the first failure (before jitter).
    pub initial: Duration,
    /// Largest delay (before jitter).
    pub max: Duration,
    /// Whether delays are jittered; off makes delays exact (for tests).
    pub jitter: bool,
}

impl Default for BackoffConfig {
    /// 200 ms doubling to 30 s, jittered.
    fn default() -> Self {
        BackoffConfig {
            initial: Duration::from_millis(200),
            max: Duration::from_secs(30),
            jitter: true,
        }
    }
}

impl BackoffConfig {
    /// The un-jittered delay after `failures` consecutive failures (1 = first).
    pub fn delay_for(&self, failures: u32) -> Duration {
        let exponent = failures.saturating_sub(1).min(31);
        self.initial
            .checked_mul(1u32 << exponent)
            .unwrap_or(self.max)
            .min(self.max)
    }

    /// A back-off counter starting at zero failures.
    pub fn start(&self) -> Backoff {
        Backoff {
            config: *self,
            failures: 0,
        }
    }
}

/// A back-off counter: [`Backoff::next_delay`] after each failure, [`Backoff::reset`]
/// after a success.
#[derive(Debug, Clone)]
pub struct Backoff {
    config: BackoffConfig,
    failures: u32,
}

impl Backoff {
    /// Counts one more failure and returns how long to wait before the next attempt.
    pub fn next_delay(&mut self) -> Duration {
        self.failures = self.failures.saturating_add(1);
        let delay = self.config.delay_for(self.failures);
        if self.config.jitter {
            jitter(delay)
        } else {
            delay
        }
    }

    /// Consecutive failures counted so far.
    pub fn failures(&self) -> u32 {
        self.failures
    }

    /// Forgets past failures.
    pub fn reset(&mut self) {
        self.failures = 0;
    }
}

/// A delay uniformly in `[d/2, d]`. The randomness is the std hasher's per-process
/// random keys: enough to spread clients, no extra crate.
pub(crate) fn jitter(delay: Duration) -> Duration {
    let mut hasher = RandomState::new().build_hasher();
    hasher.write_u128(delay.as_nanos());
    let fraction = (hasher.finish() >> 11) as f64 / (1u64 << 53) as f64;
    delay / 2 + delay.mul_f64(fraction / 2.0)
}

/// How a [`crate::Client`] retries calls that failed with an [`crate::Error::Transient`]:
/// reads (get, list, watch set-up) on any transient error, writes only when the request
/// certainly did not reach the server.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Attempts in all, the first included; 1 disables retries.
    pub max_attempts: u32,
    /// Delays between attempts.
    pub backoff: BackoffConfig,
}

impl Default for RetryPolicy {
    /// 6 attempts, 100 ms doubling to 5 s: about 3 s of trying before giving up.
    fn default() -> Self {
        RetryPolicy {
            max_attempts: 6,
            backoff: BackoffConfig {
                initial: Duration::from_millis(100),
                max: Duration::from_secs(5),
                jitter: true,
            },
        }
    }
}

impl RetryPolicy {
    /// No retries: every failure is returned at once.
    pub fn none() -> Self {
        RetryPolicy {
            max_attempts: 1,
            ..RetryPolicy::default()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delays_double_up_to_the_cap() {
        let config = BackoffConfig {
            initial: Duration::from_millis(100),
            max: Duration::from_secs(1),
            jitter: false,
        };
        let mut backoff = config.start();
        let delays: Vec<_> = (0..6).map(|_| backoff.next_delay().as_millis()).collect();
        assert_eq!(delays, [100, 200, 400, 800, 1000, 1000]);
        backoff.reset();
        assert_eq!(backoff.next_delay(), Duration::from_millis(100));
        assert_eq!(config.delay_for(200), Duration::from_secs(1));
    }

    #[test]
    fn jitter_stays_within_half_to_full() {
        for _ in 0..100 {
            let d = jitter(Duration::from_millis(1000));
            assert!(d >= Duration::from_millis(500) && d <= Duration::from_millis(1000));
        }
    }
}
