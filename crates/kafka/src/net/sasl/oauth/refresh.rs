//! When to refresh a token and when to re-authenticate a connection: Kafka's client rules
//! (`sasl.login.refresh.*`, KIP-368), as pure functions of the clock.

/// The `sasl.login.refresh.*` settings.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RefreshConfig {
    /// Fraction of the token's lifetime after which it is refreshed (`window.factor`, 0.8).
    pub window_factor: f64,
    /// Random extra fraction added to the factor (`window.jitter`, 0.05).
    pub window_jitter: f64,
    /// Least time between refreshes, in seconds (`min.period.seconds`, 60).
    pub min_period_secs: u64,
    /// Time kept before expiry, in seconds (`buffer.seconds`, 300).
    pub buffer_secs: u64,
}

impl Default for RefreshConfig {
    fn default() -> Self {
        RefreshConfig {
            window_factor: 0.8,
            window_jitter: 0.05,
            min_period_secs: 60,
            buffer_secs: 300,
        }
    }
}

/// When a token valid from `start_ms` to `expires_ms`, obtained at `now_ms`, is refreshed;
/// `random` is in `[0, 1)`. Like Kafka's client: the window factor plus jitter of the
/// lifetime, moved before the end buffer and after the minimum period, both ignored when the
/// token lives shorter than their sum.
pub fn refresh_at_ms(
    config: &RefreshConfig,
    now_ms: i64,
    start_ms: i64,
    expires_ms: i64,
    random: f64,
) -> i64 {
    let pct = config.window_factor + config.window_jitter * random;
    let min_period_ms = 1000 * config.min_period_secs as i64;
    let buffer_ms = 1000 * config.buffer_secs as i64;
    if now_ms >= expires_ms {
        return now_ms;
    }
    if now_ms + min_period_ms + buffer_ms > expires_ms {
        return now_ms + ((expires_ms - now_ms) as f64 * pct) as i64;
    }
    let proposed = start_ms + ((expires_ms - start_ms) as f64 * pct) as i64;
    if proposed > expires_ms - buffer_ms {
        return expires_ms - buffer_ms;
    }
    proposed.max(now_ms + min_period_ms)
}

/// When a connection whose session lasts `session_ms` from authentication re-authenticates:
/// at 85 % to 95 % of it, as Kafka's client does, leaving room for latency and clock drift.
pub fn reauthenticate_after_ms(session_ms: i64, random: f64) -> i64 {
    (session_ms as f64 * (0.85 + 0.10 * random)) as i64
}

#[cfg(test)]
mod tests {
    use super::*;

    const HOUR: i64 = 3_600_000;

    #[test]
    fn an_hour_token_refreshes_at_the_window_factor() {
        let c = RefreshConfig::default();
        assert_eq!(refresh_at_ms(&c, 0, 0, HOUR, 0.0), 2_880_000);
        assert_eq!(refresh_at_ms(&c, 0, 0, HOUR, 1.0), 3_060_000);
    }

    #[test]
    fn the_end_buffer_and_the_minimum_period_move_the_refresh() {
        let c = RefreshConfig {
            window_factor: 0.95,
            window_jitter: 0.0,
            ..RefreshConfig::default()
        };
        // 0.95 of an hour is inside the last five minutes: refresh when they begin.
        assert_eq!(refresh_at_ms(&c, 0, 0, HOUR, 0.0), HOUR - 300_000);
        let c = RefreshConfig {
            window_factor: 0.1,
            window_jitter: 0.0,
            ..RefreshConfig::default()
        };
        // 0.1 of an hour is 6 minutes, but a token issued 50 minutes before expiry, obtained
        // now, is not refreshed within the minimum period.
        let start = -10 * 60_000;
        assert_eq!(refresh_at_ms(&c, 0, start, 50 * 60_000, 0.0), 60_000);
    }

    #[test]
    fn a_short_token_ignores_the_buffers() {
        let c = RefreshConfig::default();
        // 20 s left: 80 % of what is left.
        assert_eq!(refresh_at_ms(&c, 1_000, 0, 21_000, 0.0), 17_000);
        assert_eq!(refresh_at_ms(&c, 30_000, 0, 21_000, 0.0), 30_000);
    }

    #[test]
    fn reauthentication_lands_between_85_and_95_percent() {
        assert_eq!(reauthenticate_after_ms(10_000, 0.0), 8_500);
        assert_eq!(reauthenticate_after_ms(10_000, 1.0), 9_500);
    }
}
