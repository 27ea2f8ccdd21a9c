//! Rate limiting of failed token checks, per peer IP address.
//!
//! A peer whose requests fail the token check ([`AuthLimit::max_failures`] answers of 401 within
//! one [`AuthLimit::window`], counted from its first failure) is refused with 429, a `Retry-After`
//! and a JSON error on every route that needs a token until that window ends; then it starts
//! afresh. Station tokens are 256 random bits, so this is not what keeps them from being guessed: it
//! keeps a misconfigured or hostile client from hammering the token lookup and the log, and tells it
//! plainly to stop. Routes without a token (plant queries, `/metrics`) are not limited.
//!
//! A request with a good token costs one lock and one map lookup and is never delayed; only a
//! peer that has failed is tracked at all. At most [`AuthLimit::max_peers`] peers are kept: when
//! full, peers whose window has ended go first, then the one whose window began longest ago.

use crate::protocol::ApiError;
use axum::extract::ConnectInfo;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::serve::IncomingStream;
use chrono::{DateTime, Utc};
use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

/// How many failed token checks a peer may make in one window.
pub const MAX_FAILURES: u32 = 10;

/// The window failures are counted in, and the longest a peer is refused.
pub const WINDOW: Duration = Duration::from_secs(60);

/// Most peers tracked at once: bounds the memory a flood from many addresses can take.
pub const MAX_PEERS: usize = 10_000;

/// The limits central applies to failed token checks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct AuthLimit {
    pub max_failures: u32,
    pub window: Duration,
    pub max_peers: usize,
}

impl Default for AuthLimit {
    fn default() -> Self {
        AuthLimit {
            max_failures: MAX_FAILURES,
            window: WINDOW,
            max_peers: MAX_PEERS,
        }
    }
}

/// The address of the client of a connection, as axum's `ConnectInfo` carries it, for plain TCP
/// and TLS connections alike.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Peer(pub SocketAddr);

impl axum::extract::connect_info::Connected<IncomingStream<'_, tokio::net::TcpListener>> for Peer {
    fn connect_info(stream: IncomingStream<'_, tokio::net::TcpListener>) -> Self {
        Peer(*stream.remote_addr())
    }
}

impl axum::extract::connect_info::Connected<IncomingStream<'_, super::tls::TlsListener>> for Peer {
    fn connect_info(stream: IncomingStream<'_, super::tls::TlsListener>) -> Self {
        Peer(*stream.remote_addr())
    }
}

#[derive(Debug, Clone, Copy)]
struct Failures {
    window_start: DateTime<Utc>,
    count: u32,
}

/// Failed token checks per peer address, against central's clock (so tests move time on).
pub(crate) struct AuthLimiter {
    limit: AuthLimit,
    peers: Mutex<HashMap<IpAddr, Failures>>,
}

impl AuthLimiter {
    pub(crate) fn new(limit: AuthLimit) -> Self {
        AuthLimiter {
            limit,
            peers: Mutex::new(HashMap::new()),
        }
    }

    fn window(&self) -> chrono::Duration {
        chrono::Duration::from_std(self.limit.window).unwrap_or(chrono::Duration::MAX)
    }

    /// How long `peer` is still refused, if it is.
    fn blocked_for(&self, peer: IpAddr, now: DateTime<Utc>) -> Option<Duration> {
        let peers = self.peers.lock().unwrap_or_else(PoisonError::into_inner);
        let failures = peers.get(&peer)?;
        let ends = failures.window_start + self.window();
        (failures.count >= self.limit.max_failures && now < ends).then(|| {
            // A clock set back must not keep a peer out for longer than one window.
            (ends - now)
                .to_std()
                .unwrap_or_default()
                .min(self.limit.window)
        })
    }

    /// Counts a failed token check of `peer`; answers how long it is refused from now on when this
    /// failure is the one that reached the limit.
    fn failed(&self, peer: IpAddr, now: DateTime<Utc>) -> Option<Duration> {
        let window = self.window();
        let mut peers = self.peers.lock().unwrap_or_else(PoisonError::into_inner);
        if !peers.contains_key(&peer) && peers.len() >= self.limit.max_peers {
            evict(&mut peers, now, window);
        }
        let failures = peers.entry(peer).or_insert(Failures {
            window_start: now,
            count: 0,
        });
        // A clock set back must not keep a peer out for longer than one window.
        if now >= failures.window_start + window || now < failures.window_start {
            *failures = Failures {
                window_start: now,
                count: 0,
            };
        }
        failures.count = failures.count.saturating_add(1);
        (failures.count == self.limit.max_failures).then(|| {
            (failures.window_start + window - now)
                .to_std()
                .unwrap_or_default()
        })
    }

    #[cfg(test)]
    fn tracked(&self) -> usize {
        self.peers
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .len()
    }
}

/// Makes room for one more peer: drops every peer whose window has ended, or else the one whose
/// window began first (a peer still refused may then come back early; memory stays bounded).
fn evict(peers: &mut HashMap<IpAddr, Failures>, now: DateTime<Utc>, window: chrono::Duration) {
    peers.retain(|_, failures| now < failures.window_start + window);
    if peers.is_empty() {
        return;
    }
    if let Some(oldest) = peers
        .iter()
        .min_by_key(|(_, failures)| failures.window_start)
        .map(|(peer, _)| *peer)
    {
        peers.remove(&oldest);
    }
}

/// Whole seconds, rounded up: `Retry-After` must not invite a retry that is still refused.
fn seconds_up(duration: Duration) -> u64 {
    duration
        .as_secs()
        .saturating_add(u64::from(duration.subsec_nanos() > 0))
        .max(1)
}

fn too_many(peer: IpAddr, retry_after: Duration) -> Response {
    let seconds = seconds_up(retry_after);
    let body = ApiError {
        error: format!(
            "too many requests with a missing or unknown token from {peer}: refused for {seconds} s; \
             check the token (a rotated or revoked one stays refused)"
        ),
        expected_seq: None,
    };
    let mut response = (StatusCode::TOO_MANY_REQUESTS, axum::Json(body)).into_response();
    response
        .headers_mut()
        .insert(header::RETRY_AFTER, HeaderValue::from(seconds));
    response
}

/// Middleware for the routes that need a token: a refused peer gets 429 before its request is
/// looked at; a 401 answer counts against its peer.
pub(crate) async fn guard(
    limiter: Arc<AuthLimiter>,
    clock: Arc<dyn crate::clock::Clock>,
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    // Served without connect info (no listener behind it): nothing to key on.
    let Some(peer) = request
        .extensions()
        .get::<ConnectInfo<Peer>>()
        .map(|ConnectInfo(Peer(addr))| addr.ip())
    else {
        return next.run(request).await;
    };
    if let Some(retry_after) = limiter.blocked_for(peer, clock.now()) {
        return too_many(peer, retry_after);
    }
    let response = next.run(request).await;
    if response.status() == StatusCode::UNAUTHORIZED
        && let Some(refused_for) = limiter.failed(peer, clock.now())
    {
        tracing::warn!(
            %peer,
            failures = limiter.limit.max_failures,
            refused_for_s = seconds_up(refused_for),
            "central: too many failed token checks; refusing this address for the rest of the window"
        );
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A limiter and a clock the test moves by hand.
    struct Rig {
        limiter: AuthLimiter,
        now: DateTime<Utc>,
    }

    impl Rig {
        fn new(max_failures: u32, max_peers: usize) -> Rig {
            let limit = AuthLimit {
                max_failures,
                window: Duration::from_secs(60),
                max_peers,
            };
            Rig {
                limiter: AuthLimiter::new(limit),
                now: Utc::now(),
            }
        }

        fn advance(&mut self, seconds: i64) {
            self.now += chrono::Duration::seconds(seconds);
        }

        fn failed(&self, peer: IpAddr) -> Option<Duration> {
            self.limiter.failed(peer, self.now)
        }

        fn blocked_for(&self, peer: IpAddr) -> Option<Duration> {
            self.limiter.blocked_for(peer, self.now)
        }
    }

    fn ip(last: u8) -> IpAddr {
        IpAddr::from([10, 0, 0, last])
    }

    #[test]
    fn the_failure_that_reaches_the_limit_blocks_for_the_rest_of_the_window() {
        let mut rig = Rig::new(3, 100);
        assert_eq!(rig.failed(ip(1)), None);
        rig.advance(20);
        assert_eq!(rig.failed(ip(1)), None);
        assert_eq!(rig.blocked_for(ip(1)), None);
        assert_eq!(rig.failed(ip(1)), Some(Duration::from_secs(40)));
        assert_eq!(rig.blocked_for(ip(1)), Some(Duration::from_secs(40)));
        assert_eq!(rig.blocked_for(ip(2)), None, "another peer is not touched");
        rig.advance(40);
        assert_eq!(rig.blocked_for(ip(1)), None, "the window has ended");
        assert_eq!(rig.failed(ip(1)), None, "a new window counts from one");
    }

    #[test]
    fn failures_spread_over_windows_never_block() {
        let mut rig = Rig::new(3, 100);
        for _ in 0..10 {
            assert_eq!(rig.failed(ip(1)), None);
            assert_eq!(rig.failed(ip(1)), None);
            rig.advance(61);
        }
    }

    #[test]
    fn memory_is_bounded_and_stale_peers_go_first() {
        let mut rig = Rig::new(2, 4);
        rig.failed(ip(1));
        rig.failed(ip(1));
        assert!(rig.blocked_for(ip(1)).is_some());
        rig.advance(1);
        for last in 2..=4 {
            rig.failed(ip(last));
        }
        assert_eq!(rig.limiter.tracked(), 4);
        // Full: the peer whose window began first makes room.
        rig.failed(ip(5));
        assert_eq!(rig.limiter.tracked(), 4);
        assert_eq!(rig.blocked_for(ip(1)), None);
        // Once their windows have ended, all of them go at the next newcomer.
        rig.advance(120);
        rig.failed(ip(6));
        assert_eq!(rig.limiter.tracked(), 1);
        for last in 7..=200 {
            rig.failed(ip(last));
        }
        assert!(rig.limiter.tracked() <= 4);
    }

    #[test]
    fn retry_after_rounds_up_to_whole_seconds() {
        assert_eq!(seconds_up(Duration::from_millis(59_001)), 60);
        assert_eq!(seconds_up(Duration::from_secs(60)), 60);
        assert_eq!(seconds_up(Duration::ZERO), 1);
    }
}
