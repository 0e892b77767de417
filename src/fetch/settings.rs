//! The settings of the HTTP client: CA file, timeouts, retries and proxy variables.

use std::path::PathBuf;
use std::time::Duration;

use crate::fetch::proxy::ProxyEnv;

/// The settings a client is built from.
#[derive(Clone, Debug, Default)]
pub struct ClientSettings {
    /// A PEM file of CA certificates to trust in addition to the system's.
    pub ca_file: Option<PathBuf>,
    pub timeouts: Timeouts,
    pub retry: RetryPolicy,
    pub proxy_env: ProxyEnv,
}

/// Network timeouts. No limit applies to a whole download.
#[derive(Clone, Copy, Debug)]
pub struct Timeouts {
    /// The limit for opening a TCP connection.
    pub connect: Duration,
    /// The maximum wait for any data, from the request to the last byte of the body.
    pub stall: Duration,
}

impl Default for Timeouts {
    fn default() -> Timeouts {
        Timeouts {
            connect: Duration::from_secs(30),
            stall: Duration::from_secs(60),
        }
    }
}

/// The number of retries after a transient failure, and the wait before each.
#[derive(Clone, Copy, Debug)]
pub struct RetryPolicy {
    /// Attempts after the first one.
    pub retries: u32,
    /// The wait before the first retry. It doubles for each further retry.
    pub first_delay: Duration,
}

impl Default for RetryPolicy {
    fn default() -> RetryPolicy {
        RetryPolicy {
            retries: 3,
            first_delay: Duration::from_secs(1),
        }
    }
}

impl RetryPolicy {
    /// Returns the wait after failed attempt number `attempt` (counted from 1).
    pub(crate) fn delay(self, attempt: u32) -> Duration {
        self.first_delay
            .saturating_mul(2u32.saturating_pow(attempt.saturating_sub(1)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_delays_double() {
        let policy = RetryPolicy::default();
        let delays: Vec<u64> = (1..=3)
            .map(|attempt| policy.delay(attempt).as_secs())
            .collect();
        assert_eq!(delays, [1, 2, 4]);
    }
}
