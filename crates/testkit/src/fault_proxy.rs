//! A TCP proxy that injects network faults between a client and a server under test: it cuts connections after a
//! random number of bytes in either direction (mid request, mid response, during an authentication handshake,
//! since NTLM runs on a connection's first exchanges), drops a connection just as the client starts its next
//! request (between two Receives, from the server's point of view), resets connections (RST), and delays traffic.
//!
//! Every decision comes from one seeded generator, drawn in the order connections are accepted, so a failing run
//! can be replayed with the same fault plan: the seed is printed when the proxy starts, and
//! [`FAULT_SEED_ENV`] overrides it. (Thread scheduling can still move a cut by a few bytes relative to the
//! messages; the plan itself is reproducible.)
//!
//! The proxy starts disarmed (a transparent relay); [`FaultProxy::arm`] turns faults on, so a test can set up
//! cleanly and then exercise only the phase it is about. Disarming also spares connections already open.
//!
//! [`FaultProxy::outage`] simulates the network going away altogether: every open connection is cut and every new
//! one closed as soon as it is accepted, until the outage ends.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

/// Environment variable that overrides the fault plan's seed (decimal `u64`).
pub const FAULT_SEED_ENV: &str = "PSSESSION_FAULT_SEED";

/// SplitMix64: a small, well-mixed generator; enough for fault plans, and ours to keep reproducible across
/// dependency updates.
#[derive(Debug, Clone)]
pub struct SplitMix64(u64);

impl SplitMix64 {
    /// A generator from `seed`.
    pub fn new(seed: u64) -> Self {
        SplitMix64(seed)
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A number in `low..=high` (`low` when the range is empty).
    pub fn between(&mut self, low: u64, high: u64) -> u64 {
        if high <= low {
            return low;
        }
        let span = high - low;
        match span.checked_add(1) {
            Some(n) => low + self.next_u64() % n,
            None => self.next_u64(),
        }
    }

    /// `true` with probability `percent`/100.
    pub fn chance(&mut self, percent: u64) -> bool {
        self.next_u64() % 100 < percent
    }
}

/// The seed to use: [`FAULT_SEED_ENV`] when set, else one derived from the clock. Panics on an unparsable
/// override, so a typo never silently runs another plan.
pub fn seed_from_env() -> u64 {
    match std::env::var(FAULT_SEED_ENV) {
        Ok(text) => text.trim().parse().unwrap_or_else(|_| panic!("{FAULT_SEED_ENV}={text:?} is not a u64")),
        Err(_) => {
            let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
            SplitMix64::new(now.as_nanos() as u64 ^ u64::from(std::process::id())).next_u64()
        }
    }
}

/// The span of an "early" cut: about the size of an HTTP authentication handshake.
pub const EARLY_CUT_BYTES: u64 = 4096;

/// How hard the proxy strikes once armed. Every armed connection breaks sooner or later (so a keep-alive
/// connection cannot outlive the faults); some are also slowed down.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FaultPlan {
    /// Cut/reset points are drawn from `1..=max_cut_bytes` bytes after the connection's fault was drawn, counted
    /// in the direction being cut (so the cut may land in a later request or response of a keep-alive
    /// connection, or in the authentication of a new one).
    pub max_cut_bytes: u64,
    /// Percentage of cuts drawn from the first [`EARLY_CUT_BYTES`] bytes instead: on a new connection that is
    /// the HTTP authentication handshake (NTLM's negotiate/challenge/authenticate round trips).
    pub early_cut_percent: u64,
    /// For "between requests" faults: the most requests relayed whole before the connection is dropped as the
    /// next one starts.
    pub max_requests_before_drop: u64,
    /// Percentage of connections that are also delayed.
    pub delay_percent: u64,
    /// The longest delay added before relaying each chunk of a delayed connection.
    pub max_delay: Duration,
}

impl Default for FaultPlan {
    fn default() -> Self {
        FaultPlan {
            max_cut_bytes: 256 * 1024,
            early_cut_percent: 20,
            max_requests_before_drop: 20,
            delay_percent: 20,
            max_delay: Duration::from_millis(20),
        }
    }
}

/// How a connection breaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// Closed (FIN both ways) after this many client→server bytes: a request cut mid-way (or an authentication
    /// handshake, on a connection's first bytes).
    CutRequest(u64),
    /// Closed after this many server→client bytes: a response cut mid-way.
    CutResponse(u64),
    /// Reset (RST) after this many server→client bytes.
    ResetResponse(u64),
    /// Dropped when the client starts its request number `n + 1` (counted from 0), before any of it reaches the
    /// server: from the server's side the connection dies between two requests.
    DropBeforeRequest(u64),
}

/// One connection's fate: how it breaks, and whether each relayed chunk waits first.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConnectionFault {
    /// How it breaks.
    pub fault: Fault,
    /// The wait before each relayed chunk.
    pub delay: Option<Duration>,
}

impl ConnectionFault {
    fn draw(plan: &FaultPlan, rng: &mut SplitMix64) -> ConnectionFault {
        let limit = if rng.chance(plan.early_cut_percent) { EARLY_CUT_BYTES } else { plan.max_cut_bytes };
        let fault = match rng.between(0, 3) {
            0 => Fault::CutRequest(rng.between(1, limit)),
            1 => Fault::CutResponse(rng.between(1, limit)),
            2 => Fault::ResetResponse(rng.between(1, limit)),
            _ => Fault::DropBeforeRequest(rng.between(0, plan.max_requests_before_drop)),
        };
        let delay = rng
            .chance(plan.delay_percent)
            .then(|| Duration::from_millis(rng.between(1, plan.max_delay.as_millis() as u64)));
        ConnectionFault { fault, delay }
    }
}

/// What the proxy did, for tests to check that faults really happened.
#[derive(Debug, Default)]
pub struct FaultStats {
    /// Connections accepted.
    pub connections: AtomicU64,
    /// Connections closed mid request.
    pub request_cuts: AtomicU64,
    /// Connections closed mid response.
    pub response_cuts: AtomicU64,
    /// Connections reset.
    pub resets: AtomicU64,
    /// Connections dropped between requests.
    pub drops_between_requests: AtomicU64,
    /// Connections delayed.
    pub delayed: AtomicU64,
    /// Connections closed at once because of an outage ([`FaultProxy::outage`]).
    pub outage_refusals: AtomicU64,
}

impl FaultStats {
    /// Faults that broke a connection (cuts, resets, drops).
    pub fn breaks(&self) -> u64 {
        self.request_cuts.load(Ordering::SeqCst)
            + self.response_cuts.load(Ordering::SeqCst)
            + self.resets.load(Ordering::SeqCst)
            + self.drops_between_requests.load(Ordering::SeqCst)
    }

    /// A one-line summary.
    pub fn summary(&self) -> String {
        format!(
            "{} connections: {} request cuts, {} response cuts, {} resets, {} drops between requests, {} delayed",
            self.connections.load(Ordering::SeqCst),
            self.request_cuts.load(Ordering::SeqCst),
            self.response_cuts.load(Ordering::SeqCst),
            self.resets.load(Ordering::SeqCst),
            self.drops_between_requests.load(Ordering::SeqCst),
            self.delayed.load(Ordering::SeqCst),
        )
    }
}

struct Shared {
    upstream: SocketAddr,
    plan: FaultPlan,
    rng: Mutex<SplitMix64>,
    armed: AtomicBool,
    outage: tokio::sync::watch::Sender<bool>,
    stats: Arc<FaultStats>,
}

/// A running fault-injecting proxy on an ephemeral loopback port. Dropping it stops accepting connections.
pub struct FaultProxy {
    address: SocketAddr,
    seed: u64,
    shared: Arc<Shared>,
    acceptor: JoinHandle<()>,
}

impl std::fmt::Debug for FaultProxy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FaultProxy").field("address", &self.address).field("seed", &self.seed).finish()
    }
}

impl FaultProxy {
    /// Starts a proxy to `upstream` on the current tokio runtime, with `seed` (see [`seed_from_env`]); prints
    /// the seed to stderr so a failing run can be reproduced.
    pub async fn start(upstream: SocketAddr, plan: FaultPlan, seed: u64) -> std::io::Result<FaultProxy> {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let address = listener.local_addr()?;
        eprintln!("fault proxy {address} → {upstream}: seed {seed} (reproduce with {FAULT_SEED_ENV}={seed})");
        let shared = Arc::new(Shared {
            upstream,
            plan,
            rng: Mutex::new(SplitMix64::new(seed)),
            armed: AtomicBool::new(false),
            outage: tokio::sync::watch::Sender::new(false),
            stats: Arc::new(FaultStats::default()),
        });
        let acceptor = tokio::spawn(accept_loop(listener, Arc::clone(&shared)));
        Ok(FaultProxy { address, seed, shared, acceptor })
    }

    /// The address clients connect to.
    pub fn address(&self) -> SocketAddr {
        self.address
    }

    /// The seed of the fault plan.
    pub fn seed(&self) -> u64 {
        self.seed
    }

    /// Turns faults on (`true`) or off: on, each connection accepted from now on is given a fault; off, no fault
    /// strikes any connection, even one that was given a fault while armed.
    pub fn arm(&self, armed: bool) {
        self.shared.armed.store(armed, Ordering::SeqCst);
    }

    /// Starts (`true`) or ends an outage: while it lasts, connections open are cut and new ones are closed as
    /// soon as they are accepted (counted in [`FaultStats::outage_refusals`]).
    pub fn outage(&self, down: bool) {
        self.shared.outage.send_replace(down);
    }

    /// What the proxy did so far.
    pub fn stats(&self) -> Arc<FaultStats> {
        Arc::clone(&self.shared.stats)
    }
}

impl Drop for FaultProxy {
    fn drop(&mut self) {
        self.acceptor.abort();
    }
}

async fn accept_loop(listener: TcpListener, shared: Arc<Shared>) {
    loop {
        let Ok((client, _)) = listener.accept().await else { continue };
        shared.stats.connections.fetch_add(1, Ordering::SeqCst);
        if *shared.outage.borrow() {
            shared.stats.outage_refusals.fetch_add(1, Ordering::SeqCst);
            drop(client);
            continue;
        }
        tokio::spawn(relay(client, Arc::clone(&shared)));
    }
}

/// A connection's fault, drawn when the connection first carries data while the proxy is armed (a connection
/// opened before arming is not spared).
#[derive(Default)]
struct Fate(Mutex<Option<ConnectionFault>>);

impl Fate {
    fn get(&self, shared: &Shared) -> Option<ConnectionFault> {
        if !shared.armed.load(Ordering::SeqCst) {
            return None;
        }
        let mut fate = self.0.lock().unwrap_or_else(|e| e.into_inner());
        if fate.is_none() {
            let mut rng = shared.rng.lock().unwrap_or_else(|e| e.into_inner());
            let drawn = ConnectionFault::draw(&shared.plan, &mut rng);
            if drawn.delay.is_some() {
                shared.stats.delayed.fetch_add(1, Ordering::SeqCst);
            }
            *fate = Some(drawn);
        }
        *fate
    }
}

/// Relays one connection.
async fn relay(client: TcpStream, shared: Arc<Shared>) {
    let Ok(server) = TcpStream::connect(shared.upstream).await else { return };
    let _ = client.set_nodelay(true);
    let _ = server.set_nodelay(true);
    let fate = Fate::default();
    let (client_read, client_write) = client.into_split();
    let (server_read, server_write) = server.into_split();
    let upstream = pump(client_read, server_write, Direction::Request, &fate, &shared);
    let downstream = pump(server_read, client_write, Direction::Response, &fate, &shared);
    tokio::pin!(upstream, downstream);
    let mut outage = shared.outage.subscribe();
    // The first direction to end (EOF or a fault) ends the connection: both are dropped, which closes both
    // sockets, so a cut in one direction is a cut of the whole exchange. An outage cuts it too.
    tokio::select! {
        () = &mut upstream => {}
        () = &mut downstream => {}
        _ = outage.wait_for(|down| *down) => {}
    }
}

/// Counts `fault` as struck (before the sockets close, so a peer that sees the close sees the count).
fn count(shared: &Shared, fault: Fault) {
    let counter = match fault {
        Fault::CutRequest(_) => &shared.stats.request_cuts,
        Fault::DropBeforeRequest(_) => &shared.stats.drops_between_requests,
        Fault::ResetResponse(_) => &shared.stats.resets,
        Fault::CutResponse(_) => &shared.stats.response_cuts,
    };
    counter.fetch_add(1, Ordering::SeqCst);
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Direction {
    Request,
    Response,
}

async fn pump(mut from: OwnedReadHalf, mut to: OwnedWriteHalf, direction: Direction, fate: &Fate, shared: &Shared) {
    let mut buffer = vec![0u8; 16 * 1024];
    // Bytes relayed since this connection's fault was drawn, and requests begun since then.
    let mut relayed: u64 = 0;
    let mut requests: u64 = 0;
    loop {
        let n = match from.read(&mut buffer).await {
            Ok(0) | Err(_) => return,
            Ok(n) => n,
        };
        let chunk = &buffer[..n];
        let Some(ConnectionFault { fault, delay }) = fate.get(shared) else {
            if to.write_all(chunk).await.is_err() {
                return;
            }
            continue;
        };
        if direction == Direction::Request
            && let Fault::DropBeforeRequest(limit) = fault
            && chunk.starts_with(b"POST ")
        {
            // A chunk that starts a request (the client writes each request's head in one go).
            if requests >= limit {
                count(shared, fault);
                return;
            }
            requests += 1;
        }
        if let Some(delay) = delay {
            tokio::time::sleep(delay).await;
        }
        let cut_at = match (direction, fault) {
            (Direction::Request, Fault::CutRequest(at)) => Some(at),
            (Direction::Response, Fault::CutResponse(at) | Fault::ResetResponse(at)) => Some(at),
            _ => None,
        };
        if let Some(at) = cut_at
            && relayed + n as u64 >= at
        {
            let keep = usize::try_from(at - relayed).unwrap_or(n).min(n);
            let _ = to.write_all(&chunk[..keep]).await;
            if let Fault::ResetResponse(_) = fault {
                // `to` is the client's socket here. SO_LINGER 0: closing it sends RST instead of FIN. A zero
                // linger never blocks the close, which is why tokio's deprecation of lingers does not apply.
                #[allow(deprecated)]
                let _ = to.as_ref().set_linger(Some(Duration::ZERO));
            }
            count(shared, fault);
            return;
        }
        if to.write_all(chunk).await.is_err() {
            return;
        }
        relayed += n as u64;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_seed_replays_the_same_plan() {
        let plan = FaultPlan::default();
        let draw = |seed| {
            let mut rng = SplitMix64::new(seed);
            (0..32).map(|_| ConnectionFault::draw(&plan, &mut rng)).collect::<Vec<_>>()
        };
        assert_eq!(draw(7), draw(7));
        assert_ne!(draw(7), draw(8));
        let faults = draw(7);
        assert!(faults.iter().any(|f| matches!(f.fault, Fault::CutRequest(_))));
        assert!(faults.iter().any(|f| matches!(f.fault, Fault::DropBeforeRequest(_))));
        for f in &faults {
            if let Fault::CutRequest(n) | Fault::CutResponse(n) | Fault::ResetResponse(n) = f.fault {
                assert!((1..=plan.max_cut_bytes).contains(&n), "{f:?}");
            }
        }
    }

    #[test]
    fn between_stays_in_range() {
        let mut rng = SplitMix64::new(1);
        assert!((0..1000).all(|_| (3..=5).contains(&rng.between(3, 5))));
        assert_eq!(rng.between(9, 2), 9);
        // The full range does not overflow and still spreads.
        let full: std::collections::HashSet<u64> = (0..100).map(|_| rng.between(0, u64::MAX)).collect();
        assert!(full.len() > 90);
    }

    /// A server that sends `size` bytes to every connection, then closes it.
    async fn talker(size: usize) -> SocketAddr {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let address = listener.local_addr().expect("address");
        tokio::spawn(async move {
            while let Ok((mut socket, _)) = listener.accept().await {
                tokio::spawn(async move {
                    let _ = socket.write_all(&vec![b'x'; size]).await;
                });
            }
        });
        address
    }

    async fn read_all(address: SocketAddr) -> usize {
        let mut client = TcpStream::connect(address).await.expect("connect");
        let mut received = 0;
        let mut buffer = [0u8; 4096];
        loop {
            match client.read(&mut buffer).await {
                Ok(0) | Err(_) => return received,
                Ok(n) => received += n,
            }
        }
    }

    #[tokio::test]
    async fn disarmed_it_relays_armed_it_breaks_every_connection() {
        let upstream = talker(64 * 1024).await;
        let plan = FaultPlan {
            max_cut_bytes: 1000,
            early_cut_percent: 0,
            max_requests_before_drop: 0,
            delay_percent: 0,
            ..FaultPlan::default()
        };
        let proxy = FaultProxy::start(upstream, plan, 42).await.expect("proxy");
        assert_eq!(read_all(proxy.address()).await, 64 * 1024, "disarmed: everything relayed");
        proxy.arm(true);
        let mut short = 0;
        for _ in 0..8 {
            // A response cut or reset stops within 1000 bytes; a request cut or drop never sees a request here,
            // so the whole response passes.
            if read_all(proxy.address()).await <= 1000 {
                short += 1;
            }
        }
        let stats = proxy.stats();
        let response_breaks = stats.response_cuts.load(Ordering::SeqCst) + stats.resets.load(Ordering::SeqCst);
        assert_eq!(short, response_breaks, "{}", stats.summary());
        assert!(short > 0, "{}", stats.summary());
    }
}
