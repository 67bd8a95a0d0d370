//! Executing the firewall table: each endpoint resolved and connected to, directly or through
//! an HTTP proxy with `CONNECT`, all at once, each within one timeout.
//!
//! Only the standard library: one thread per endpoint, which is plenty for four targets and
//! needs no async runtime. `getaddrinfo` cannot be interrupted, so it runs in a thread of its own
//! that is abandoned when the deadline passes. Every socket has read and write timeouts, and the
//! proxy's answer is read up to [`MAX_STATUS_LINE`] bytes, so a hostile or silent peer can only
//! cost the timeout. "Reached" means a TCP connection (and the proxy's `200`); no TLS handshake.

use std::io::{ErrorKind, Read, Write};
use std::net::{IpAddr, SocketAddr, TcpStream, ToSocketAddrs};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use base64::Engine as _;

use super::targets::{Endpoint, valid_host};

/// The longest status line accepted from a proxy; a longer one is not an HTTP proxy.
pub const MAX_STATUS_LINE: usize = 1024;

/// What happened to one endpoint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attempt {
    pub endpoint: Endpoint,
    /// The address the TCP connection went to: the endpoint's own, or the proxy's.
    pub address: Option<SocketAddr>,
    pub elapsed_ms: u64,
    pub result: Result<(), Failure>,
}

/// Why an endpoint was not reached.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Failure {
    /// The proxy URL is not one IoT Edge (or edgeprep) can use.
    BadProxy(String),
    /// Name resolution failed.
    Resolve { host: String, message: String },
    /// Nothing within the timeout while doing this ("resolving x", "connecting to x", ...).
    Timeout { doing: String },
    /// The TCP connection failed (refused, unreachable).
    Connect { to: String, message: String },
    /// The proxy answered 407.
    ProxyAuth { sent_credentials: bool },
    /// The proxy answered another status; its status line, made printable and masked.
    ProxyRefused { status: String },
    /// The proxy's answer is not an HTTP status line (or it closed the connection).
    ProxyGarbled(String),
}

/// A proxy URL taken apart. `Debug` is not derived: it holds the credentials.
struct ProxyServer {
    host: String,
    port: u16,
    /// `user:password` in base64 for `Proxy-Authorization: Basic`.
    basic: Option<String>,
    /// Every spelling of the credentials, masked in anything the proxy sends back.
    secrets: Vec<String>,
}

/// The URL's `%XX` escapes decoded, as the proxy expects the credentials in the header.
fn percent_decode(text: &str) -> String {
    String::from_utf8_lossy(&crate::secrets::percent_decode_bytes(text)).into_owned()
}

/// IoT Edge's daemons and containers speak plain HTTP to their proxy, so only `http://` is
/// probed; an `https://` proxy fails for them (IoT Edge issue 7091).
fn parse_proxy(url: &str) -> Result<ProxyServer, Failure> {
    let bad = |why: &str| Failure::BadProxy(why.to_string());
    let parsed =
        url::Url::parse(url).map_err(|_| bad("it is not a URL such as http://proxy.example.com:3128"))?;
    match parsed.scheme() {
        "http" => {}
        "https" => {
            return Err(bad(
                "it starts with https://: IoT Edge talks plain HTTP to its proxy and fails with https:// (write http://); edgeprep probes http:// proxies only",
            ));
        }
        _ => return Err(bad("it is not an http:// URL such as http://proxy.example.com:3128")),
    }
    let host = match parsed.host() {
        Some(url::Host::Domain(d)) if valid_host(d) => d.to_string(),
        Some(url::Host::Ipv4(ip)) => ip.to_string(),
        Some(url::Host::Ipv6(ip)) => ip.to_string(),
        _ => return Err(bad("it has no valid host")),
    };
    let port = parsed.port_or_known_default().unwrap_or(80);
    let (user, password) = (percent_decode(parsed.username()), parsed.password().map(percent_decode));
    let basic = (!user.is_empty() || password.is_some()).then(|| {
        base64::engine::general_purpose::STANDARD
            .encode(format!("{user}:{}", password.clone().unwrap_or_default()))
    });
    let mut secrets: Vec<String> = basic.iter().cloned().collect();
    if let Some(raw) = parsed.password() {
        secrets.push(raw.to_string());
    }
    secrets.extend(password.filter(|p| !p.is_empty()));
    Ok(ProxyServer { host, port, basic, secrets })
}

fn remaining(deadline: Instant) -> Option<Duration> {
    deadline.checked_duration_since(Instant::now()).filter(|d| !d.is_zero())
}

/// Resolve `host` in a thread of its own, waiting for it no longer than the deadline.
fn resolve(host: &str, port: u16, deadline: Instant) -> Result<Vec<SocketAddr>, Failure> {
    if let Ok(ip) = host.parse::<IpAddr>() {
        return Ok(vec![SocketAddr::new(ip, port)]);
    }
    let timeout = || Failure::Timeout { doing: format!("resolving {host}") };
    let wait = remaining(deadline).ok_or_else(timeout)?;
    let (tx, rx) = mpsc::channel();
    let owned = host.to_string();
    std::thread::Builder::new()
        .name("edgeprep-resolve".into())
        .spawn(move || {
            let _ = tx.send((owned.as_str(), port).to_socket_addrs().map(Iterator::collect::<Vec<_>>));
        })
        .map_err(|e| Failure::Resolve {
            host: host.to_string(),
            message: format!("no thread to resolve in ({e})"),
        })?;
    match rx.recv_timeout(wait) {
        Ok(Ok(addresses)) if !addresses.is_empty() => Ok(addresses),
        Ok(Ok(_)) => Err(Failure::Resolve { host: host.to_string(), message: "no address".into() }),
        Ok(Err(e)) => Err(Failure::Resolve { host: host.to_string(), message: e.to_string() }),
        Err(_) => Err(timeout()),
    }
}

/// Connect to the first address that answers before the deadline.
fn connect(
    name: &str,
    addresses: &[SocketAddr],
    deadline: Instant,
) -> Result<(TcpStream, SocketAddr), Failure> {
    let mut last = None;
    for address in addresses {
        let Some(wait) = remaining(deadline) else { break };
        match TcpStream::connect_timeout(address, wait) {
            Ok(stream) => return Ok((stream, *address)),
            Err(e) if matches!(e.kind(), ErrorKind::TimedOut | ErrorKind::WouldBlock) => {
                last = Some(Failure::Timeout { doing: format!("connecting to {name} ({address})") });
            }
            Err(e) => {
                last = Some(Failure::Connect { to: format!("{name} ({address})"), message: e.to_string() })
            }
        }
    }
    Err(last.unwrap_or_else(|| Failure::Timeout { doing: format!("connecting to {name}") }))
}

/// Printable ASCII only, at most 120 characters, and no credential: what a proxy sent back can be
/// shown.
///
/// Masked before the filter (a password with a non-ASCII letter would lose it to the filter and
/// no longer match), again after it (a control character inside an echoed password would hide
/// it from the first pass), and cut only then (a cut through a password leaves a prefix that
/// matches nothing).
fn printable(line: &str, secrets: &[String]) -> String {
    let masked = crate::secrets::mask(line, secrets);
    let clean: String = masked.chars().filter(|c| (' '..='~').contains(c)).collect();
    crate::secrets::mask(&clean, secrets).trim().chars().take(120).collect()
}

/// Read the proxy's status line: up to `\n`, at most [`MAX_STATUS_LINE`] bytes, before the deadline.
fn read_status_line(stream: &mut TcpStream, deadline: Instant) -> Result<String, Failure> {
    let timeout = || Failure::Timeout { doing: "waiting for the proxy's answer to CONNECT".into() };
    let mut line = Vec::new();
    let mut buffer = [0u8; 256];
    loop {
        let wait = remaining(deadline).ok_or_else(timeout)?;
        stream.set_read_timeout(Some(wait)).map_err(|e| Failure::ProxyGarbled(e.to_string()))?;
        match stream.read(&mut buffer) {
            Ok(0) => {
                return Err(Failure::ProxyGarbled(
                    "the proxy closed the connection without answering".into(),
                ));
            }
            Ok(n) => line.extend_from_slice(&buffer[..n]),
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                return Err(timeout());
            }
            Err(e) if e.kind() == ErrorKind::Interrupted => continue,
            Err(e) => return Err(Failure::ProxyGarbled(format!("reading the proxy's answer failed ({e})"))),
        }
        if let Some(end) = line.iter().position(|b| *b == b'\n') {
            line.truncate(end);
            return Ok(String::from_utf8_lossy(&line).into_owned());
        }
        if line.len() > MAX_STATUS_LINE {
            return Err(Failure::ProxyGarbled(format!(
                "the proxy's first line is longer than {MAX_STATUS_LINE} bytes: not an HTTP proxy"
            )));
        }
    }
}

/// `CONNECT host:port` through the proxy, judged by the status line.
fn tunnel(
    stream: &mut TcpStream,
    endpoint: &Endpoint,
    proxy: &ProxyServer,
    deadline: Instant,
) -> Result<(), Failure> {
    let target = endpoint.host_port();
    let mut request = format!("CONNECT {target} HTTP/1.1\r\nHost: {target}\r\n");
    if let Some(basic) = &proxy.basic {
        request.push_str(&format!("Proxy-Authorization: Basic {basic}\r\n"));
    }
    request.push_str("\r\n");
    let timeout = || Failure::Timeout { doing: "sending CONNECT to the proxy".into() };
    stream.set_write_timeout(Some(remaining(deadline).ok_or_else(timeout)?)).map_err(|_| timeout())?;
    stream.write_all(request.as_bytes()).map_err(|e| match e.kind() {
        ErrorKind::WouldBlock | ErrorKind::TimedOut => timeout(),
        _ => Failure::ProxyGarbled(format!("sending CONNECT failed ({e})")),
    })?;
    let line = read_status_line(stream, deadline)?;
    let shown = printable(&line, &proxy.secrets);
    let mut words = line.split_whitespace();
    let (version, code) = (words.next().unwrap_or_default(), words.next().unwrap_or_default());
    if !version.starts_with("HTTP/1.") || code.len() != 3 || !code.chars().all(|c| c.is_ascii_digit()) {
        return Err(Failure::ProxyGarbled(format!("the proxy's answer is not HTTP: \"{shown}\"")));
    }
    match code {
        "200" => Ok(()),
        "407" => Err(Failure::ProxyAuth { sent_credentials: proxy.basic.is_some() }),
        _ => Err(Failure::ProxyRefused { status: shown }),
    }
}

/// Reach one endpoint before `timeout` has passed.
pub fn probe(endpoint: &Endpoint, timeout: Duration) -> Attempt {
    let start = Instant::now();
    let deadline = start + timeout;
    let mut address = None;
    let result = (|| {
        match &endpoint.proxy {
            None => {
                let addresses = resolve(&endpoint.host, endpoint.port, deadline)?;
                let (_, to) = connect(&endpoint.host, &addresses, deadline)?;
                address = Some(to);
            }
            Some(proxy) => {
                let server = parse_proxy(&proxy.url)?;
                let addresses = resolve(&server.host, server.port, deadline)?;
                let (mut stream, to) = connect("the proxy", &addresses, deadline)?;
                address = Some(to);
                tunnel(&mut stream, endpoint, &server, deadline)?;
            }
        }
        Ok(())
    })();
    let elapsed_ms = u64::try_from(start.elapsed().as_millis()).unwrap_or(u64::MAX);
    Attempt { endpoint: endpoint.clone(), address, elapsed_ms, result }
}

/// Reach every endpoint at once; the whole takes about `timeout`, however many there are.
pub fn probe_all(endpoints: &[Endpoint], timeout: Duration) -> Vec<Attempt> {
    let (tx, rx) = mpsc::channel();
    let mut results: Vec<Option<Attempt>> = vec![None; endpoints.len()];
    for (index, endpoint) in endpoints.iter().enumerate() {
        let (sender, owned) = (tx.clone(), endpoint.clone());
        let spawned = std::thread::Builder::new().name("edgeprep-probe".into()).spawn(move || {
            let _ = sender.send((index, probe(&owned, timeout)));
        });
        if let Err(e) = spawned {
            results[index] = Some(Attempt {
                endpoint: endpoint.clone(),
                address: None,
                elapsed_ms: 0,
                result: Err(Failure::Connect {
                    to: endpoint.host_port(),
                    message: format!("no thread to probe in ({e})"),
                }),
            });
        }
    }
    drop(tx);
    // Each probe keeps its own deadline; the grace only covers a thread that never reports.
    let deadline = Instant::now() + timeout + Duration::from_secs(1);
    while results.iter().any(Option::is_none) {
        let Some(wait) = remaining(deadline) else { break };
        match rx.recv_timeout(wait) {
            Ok((index, attempt)) => results[index] = Some(attempt),
            Err(_) => break,
        }
    }
    results
        .into_iter()
        .zip(endpoints)
        .map(|(attempt, endpoint)| {
            attempt.unwrap_or_else(|| Attempt {
                endpoint: endpoint.clone(),
                address: None,
                elapsed_ms: u64::try_from(timeout.as_millis()).unwrap_or(u64::MAX),
                result: Err(Failure::Timeout { doing: format!("reaching {}", endpoint.host_port()) }),
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use std::net::TcpListener;

    use super::super::targets::Proxy;
    use super::*;

    fn endpoint(port: u16, proxy: Option<&str>) -> Endpoint {
        Endpoint {
            host: "127.0.0.1".into(),
            port,
            purpose: "test".into(),
            proxy: proxy.map(|url| Proxy { url: url.into(), source: "test".into() }),
        }
    }

    /// A proxy on loopback that answers `answer` to one CONNECT and hands back what it received.
    fn proxy_answering(answer: &'static [u8]) -> (u16, std::thread::JoinHandle<String>) {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let handle = std::thread::spawn(move || {
            let (mut stream, _) = listener.accept().unwrap();
            stream.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
            let mut request = Vec::new();
            let mut buffer = [0u8; 512];
            while !request.ends_with(b"\r\n\r\n") {
                let n = stream.read(&mut buffer).unwrap();
                assert!(n > 0, "client closed early");
                request.extend_from_slice(&buffer[..n]);
            }
            stream.write_all(answer).unwrap();
            String::from_utf8(request).unwrap()
        });
        (port, handle)
    }

    #[test]
    fn a_listening_port_is_reached_directly_with_its_address() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let attempt = probe(&endpoint(port, None), Duration::from_secs(5));
        assert_eq!(attempt.result, Ok(()));
        assert_eq!(attempt.address, Some(SocketAddr::from(([127, 0, 0, 1], port))));
    }

    #[test]
    fn a_closed_port_is_a_connect_failure() {
        let port = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let attempt = probe(&endpoint(port, None), Duration::from_secs(5));
        assert!(matches!(attempt.result, Err(Failure::Connect { .. })), "{:?}", attempt.result);
    }

    #[test]
    fn connect_through_the_proxy_sends_host_and_basic_credentials() {
        let (port, proxy) = proxy_answering(b"HTTP/1.1 200 Connection established\r\n\r\n");
        let url = format!("http://bob:s%40cret@127.0.0.1:{port}");
        let attempt = probe(&endpoint(8883, Some(&url)), Duration::from_secs(5));
        assert_eq!(attempt.result, Ok(()));
        assert_eq!(attempt.address.map(|a| a.port()), Some(port));
        let request = proxy.join().unwrap();
        let basic = base64::engine::general_purpose::STANDARD.encode("bob:s@cret");
        assert_eq!(
            request,
            format!(
                "CONNECT 127.0.0.1:8883 HTTP/1.1\r\nHost: 127.0.0.1:8883\r\nProxy-Authorization: Basic {basic}\r\n\r\n"
            )
        );
    }

    #[test]
    fn proxy_answers_407_and_others_are_told_apart_and_masked() {
        let (port, proxy) = proxy_answering(b"HTTP/1.1 407 Proxy Authentication Required\r\n\r\n");
        let attempt =
            probe(&endpoint(443, Some(&format!("http://127.0.0.1:{port}"))), Duration::from_secs(5));
        assert_eq!(attempt.result, Err(Failure::ProxyAuth { sent_credentials: false }));
        proxy.join().unwrap();
        let (port, proxy) = proxy_answering(b"HTTP/1.1 502 Bad Gateway for p4ss\x07\r\n\r\n");
        let attempt =
            probe(&endpoint(443, Some(&format!("http://u:p4ss@127.0.0.1:{port}"))), Duration::from_secs(5));
        assert_eq!(
            attempt.result,
            Err(Failure::ProxyRefused { status: "HTTP/1.1 502 Bad Gateway for ********".into() })
        );
        proxy.join().unwrap();
    }

    #[test]
    fn an_echoed_password_is_masked_even_when_cut_off_or_not_ascii() {
        let secrets = vec!["s3cretpassword".to_string(), "pässwort".to_string()];
        let long = format!("HTTP/1.1 403 {} s3cretpassword", "x".repeat(100));
        let shown = printable(&long, &secrets);
        assert!(!shown.contains("s3cr"), "a cut must not leave a prefix of the password: {shown}");
        assert!(shown.chars().count() <= 120, "{shown}");
        let shown = printable("HTTP/1.1 403 denied for pässwort", &secrets);
        assert!(!shown.contains("sswort"), "{shown}");
        let shown = printable("HTTP/1.1 403 denied for s3cret\x07password", &secrets);
        assert!(!shown.contains("s3cret"), "{shown}");
    }

    #[test]
    fn a_silent_proxy_costs_the_timeout_and_says_what_it_waited_for() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let attempt =
            probe(&endpoint(443, Some(&format!("http://127.0.0.1:{port}"))), Duration::from_millis(300));
        let Err(Failure::Timeout { doing }) = &attempt.result else { panic!("{:?}", attempt.result) };
        assert!(doing.contains("proxy's answer"), "{doing}");
        drop(listener);
    }

    #[test]
    fn an_endless_first_line_is_cut_off() {
        static LONG: [u8; 4096] = [b'A'; 4096];
        let (port, _proxy) = proxy_answering(&LONG);
        let attempt =
            probe(&endpoint(443, Some(&format!("http://127.0.0.1:{port}"))), Duration::from_secs(5));
        let Err(Failure::ProxyGarbled(why)) = &attempt.result else { panic!("{:?}", attempt.result) };
        assert!(why.contains("longer than 1024 bytes"), "{why}");
    }

    #[test]
    fn https_and_schemeless_proxies_are_refused_before_connecting() {
        for url in ["https://127.0.0.1:1", "127.0.0.1:3128", "socks5://127.0.0.1:1"] {
            let attempt = probe(&endpoint(443, Some(url)), Duration::from_secs(1));
            assert!(matches!(attempt.result, Err(Failure::BadProxy(_))), "{url}: {:?}", attempt.result);
            assert_eq!(attempt.address, None);
        }
    }

    #[test]
    fn probe_all_keeps_the_order_and_probes_at_once() {
        use std::sync::Arc;
        use std::sync::atomic::{AtomicUsize, Ordering};
        // Each proxy answers only once all three have a connection: probes made one after
        // another would never see an answer.
        let connected = Arc::new(AtomicUsize::new(0));
        let mut endpoints = Vec::new();
        for _ in 0..3 {
            let listener = TcpListener::bind("127.0.0.1:0").unwrap();
            let port = listener.local_addr().unwrap().port();
            endpoints.push(endpoint(443 + endpoints.len() as u16, Some(&format!("http://127.0.0.1:{port}"))));
            let connected = Arc::clone(&connected);
            std::thread::spawn(move || {
                let (mut stream, _) = listener.accept().unwrap();
                connected.fetch_add(1, Ordering::SeqCst);
                let give_up = Instant::now() + Duration::from_secs(20);
                while connected.load(Ordering::SeqCst) < 3 && Instant::now() < give_up {
                    std::thread::sleep(Duration::from_millis(10));
                }
                let _ = stream.write_all(b"HTTP/1.1 200 OK\r\n\r\n");
            });
        }
        let attempts = probe_all(&endpoints, Duration::from_secs(10));
        assert_eq!(
            attempts.iter().map(|a| &a.endpoint).collect::<Vec<_>>(),
            endpoints.iter().collect::<Vec<_>>()
        );
        for attempt in &attempts {
            assert_eq!(attempt.result, Ok(()), "{}", attempt.endpoint.host_port());
        }
    }
}
