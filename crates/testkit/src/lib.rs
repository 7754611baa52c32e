//! Test helpers shared by ops-monitor's unit tests (`src/deliver/tests.rs`)
//! and its integration tests (`tests/cli`), so both exercise delivery against
//! the same stand-in and write job scripts the same way.
//!
//! - [`Server`]: a loopback HTTP server standing in for the Telegram Bot API
//!   and for webhooks. It binds 127.0.0.1 only, records every request, and
//!   answers from a queue of scripted answers, else from a responder
//!   (Telegram's `ok` unless told otherwise).
//! - [`RawServer`]: a loopback server that writes its answers byte by byte
//!   (redirects, trickles, silence).
//! - [`script`]: an executable `/bin/sh` script.
//!
//! A crate rather than a module included twice with `#[path]`: it is compiled
//! once, and the helpers one side does not use are not dead code there.

use std::collections::VecDeque;
use std::fs;
use std::io::Read;
use std::net::{TcpListener, TcpStream};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use serde_json::Value;

/// Telegram's answer to a message it accepted.
pub const OK: (u16, &str) = (200, r#"{"ok":true,"result":{"message_id":1}}"#);

/// One request the server received.
#[derive(Debug, Clone)]
pub struct Request {
    pub method: String,
    /// The path and query (`/bot<token>/sendMessage`).
    pub path: String,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl Request {
    /// The body as JSON (panics if it is not).
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.body).expect("request body is JSON")
    }

    /// The first header of that name (any case).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// Answers a request from its number (0 for the first) and its content.
type Responder = Box<dyn Fn(usize, &Request) -> (u16, String) + Send>;

/// A loopback HTTP server on its own thread. Dropping it stops the thread
/// without waiting for an answer in progress (a test of a server that does
/// not answer in time must not wait for it).
pub struct Server {
    /// `http://127.0.0.1:PORT`, without a trailing slash.
    pub url: String,
    server: Arc<tiny_http::Server>,
    requests: Arc<Mutex<Vec<Request>>>,
    script: Arc<Mutex<VecDeque<(u16, String)>>>,
    responder: Arc<Mutex<Responder>>,
}

impl Server {
    /// A server that accepts every message (`OK`) unless told otherwise.
    pub fn start() -> Server {
        Server::always(OK.0, OK.1)
    }

    /// A server that answers every request with this.
    pub fn always(status: u16, body: &str) -> Server {
        let body = body.to_string();
        Server::new(move |_, _| (status, body.clone()))
    }

    /// A server that answers each request with `respond(number, request)`.
    pub fn new(respond: impl Fn(usize, &Request) -> (u16, String) + Send + 'static) -> Server {
        let server = Arc::new(tiny_http::Server::http("127.0.0.1:0").expect("bind loopback"));
        let port = server.server_addr().to_ip().expect("an IP address").port();
        let requests = Arc::new(Mutex::new(Vec::new()));
        let script = Arc::new(Mutex::new(VecDeque::new()));
        let responder: Arc<Mutex<Responder>> = Arc::new(Mutex::new(Box::new(respond)));
        let (srv, reqs, scr, resp) = (
            server.clone(),
            requests.clone(),
            script.clone(),
            responder.clone(),
        );
        // `incoming_requests` ends when `Drop` unblocks the server.
        std::thread::spawn(move || {
            for mut rq in srv.incoming_requests() {
                let mut body = String::new();
                let _ = rq.as_reader().read_to_string(&mut body);
                let req = Request {
                    method: rq.method().to_string(),
                    path: rq.url().to_string(),
                    headers: rq
                        .headers()
                        .iter()
                        .map(|h| (h.field.to_string(), h.value.to_string()))
                        .collect(),
                    body,
                };
                let n = {
                    let mut all = reqs.lock().unwrap();
                    all.push(req.clone());
                    all.len() - 1
                };
                let scripted = scr.lock().unwrap().pop_front();
                let (status, text) = scripted.unwrap_or_else(|| (resp.lock().unwrap())(n, &req));
                let header =
                    tiny_http::Header::from_bytes(&b"Content-Type"[..], &b"application/json"[..])
                        .expect("a valid header");
                let _ = rq.respond(
                    tiny_http::Response::from_string(text)
                        .with_status_code(status)
                        .with_header(header),
                );
            }
        });
        Server {
            url: format!("http://127.0.0.1:{port}"),
            server,
            requests,
            script,
            responder,
        }
    }

    /// Answer the next request not yet scripted with this; requests beyond
    /// the script get the responder's answer.
    pub fn then(&self, status: u16, body: &str) -> &Self {
        self.script
            .lock()
            .unwrap()
            .push_back((status, body.to_string()));
        self
    }

    /// From now on answer every request beyond the script with this.
    pub fn answer(&self, status: u16, body: &str) {
        let body = body.to_string();
        *self.responder.lock().unwrap() = Box::new(move |_, _| (status, body.clone()));
    }

    /// Every request so far, in the order received.
    pub fn requests(&self) -> Vec<Request> {
        self.requests.lock().unwrap().clone()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.server.unblock();
    }
}

/// A loopback server that answers at the byte level, for what `tiny_http`
/// cannot do: a redirect with a `Location`, an answer trickled a byte at a
/// time, no answer at all. It reads each request's head and body (by
/// `Content-Length`), records it, and hands the connection to `answer` on
/// the connection's own thread.
pub struct RawServer {
    /// `http://127.0.0.1:PORT`, without a trailing slash.
    pub url: String,
    requests: Arc<Mutex<Vec<Request>>>,
}

impl RawServer {
    pub fn new(answer: impl Fn(&Request, &mut TcpStream) + Send + Sync + 'static) -> RawServer {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind loopback");
        let port = listener.local_addr().expect("a local address").port();
        let requests = Arc::new(Mutex::new(Vec::new()));
        let (reqs, answer) = (requests.clone(), Arc::new(answer));
        // The listener lives as long as the test process: a test never
        // waits for a connection it does not finish.
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(mut stream) = stream else { continue };
                let (reqs, answer) = (reqs.clone(), answer.clone());
                std::thread::spawn(move || {
                    if let Some(req) = read_request(&mut stream) {
                        reqs.lock().unwrap().push(req.clone());
                        answer(&req, &mut stream);
                    }
                });
            }
        });
        RawServer {
            url: format!("http://127.0.0.1:{port}"),
            requests,
        }
    }

    /// Every request so far, in the order received.
    pub fn requests(&self) -> Vec<Request> {
        self.requests.lock().unwrap().clone()
    }
}

/// One HTTP/1.1 request from `stream`: the head, then `Content-Length` bytes.
fn read_request(stream: &mut TcpStream) -> Option<Request> {
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        if stream.read(&mut byte).ok()? == 0 {
            return None;
        }
        head.push(byte[0]);
    }
    let head = String::from_utf8_lossy(&head).into_owned();
    let mut lines = head.split("\r\n");
    let mut first = lines.next()?.split(' ');
    let method = first.next()?.to_string();
    let path = first.next()?.to_string();
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim().to_string(), v.trim().to_string()))
        .collect();
    let length = headers
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case("content-length"))
        .and_then(|(_, v)| v.parse::<usize>().ok())
        .unwrap_or(0);
    let mut body = vec![0u8; length];
    stream.read_exact(&mut body).ok()?;
    Some(Request {
        method,
        path,
        headers,
        body: String::from_utf8_lossy(&body).into_owned(),
    })
}

/// A loopback URL where nothing listens (connection refused).
pub fn refused_url() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind loopback");
    let port = listener.local_addr().expect("a local address").port();
    drop(listener);
    format!("http://127.0.0.1:{port}")
}

/// Write an executable `/bin/sh` script at `path` (its folder made if
/// needed) running `body`; returns the path.
pub fn script(path: &Path, body: &str) -> PathBuf {
    if let Some(dir) = path.parent() {
        fs::create_dir_all(dir).expect("create the script's folder");
    }
    fs::write(path, format!("#!/bin/sh\n{body}\n")).expect("write the script");
    fs::set_permissions(path, fs::Permissions::from_mode(0o755)).expect("make it executable");
    path.to_path_buf()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn post(url: &str, path: &str, body: &str) -> (u16, String) {
        let addr = url.trim_start_matches("http://");
        let mut s = TcpStream::connect(addr).unwrap();
        write!(
            s,
            "POST {path} HTTP/1.1\r\nHost: {addr}\r\nX-Test: yes\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        )
        .unwrap();
        let mut answer = String::new();
        s.read_to_string(&mut answer).unwrap();
        let status = answer[9..12].parse().unwrap();
        let body = answer.split("\r\n\r\n").nth(1).unwrap_or("").to_string();
        (status, body)
    }

    #[test]
    fn scripted_answers_come_first_then_the_responder() {
        let server = Server::start();
        server.then(500, "{}").then(429, "slow down");
        assert_eq!(post(&server.url, "/a", r#"{"n":1}"#), (500, "{}".into()));
        assert_eq!(post(&server.url, "/b", "x"), (429, "slow down".into()));
        assert_eq!(post(&server.url, "/c", "y"), (OK.0, OK.1.into()));
        server.answer(404, "gone");
        assert_eq!(post(&server.url, "/d", "z"), (404, "gone".into()));
        let reqs = server.requests();
        let paths: Vec<&str> = reqs.iter().map(|r| r.path.as_str()).collect();
        assert_eq!(paths, ["/a", "/b", "/c", "/d"]);
        assert_eq!(reqs[0].method, "POST");
        assert_eq!(reqs[0].json()["n"], 1);
        assert_eq!(reqs[0].header("x-test"), Some("yes"));
    }

    #[test]
    fn the_responder_sees_the_request_number() {
        let server = Server::new(|n, r| (200 + n as u16, r.body.clone()));
        assert_eq!(post(&server.url, "/", "a"), (200, "a".into()));
        assert_eq!(post(&server.url, "/", "b"), (201, "b".into()));
    }

    #[test]
    fn a_refused_url_refuses() {
        let url = refused_url();
        assert!(TcpStream::connect(url.trim_start_matches("http://")).is_err());
    }

    #[test]
    fn scripts_run_with_their_folder_made() {
        let dir = std::env::temp_dir().join(format!("testkit-{}", std::process::id()));
        let path = script(&dir.join("sub/hello.sh"), "echo hello \"$1\"");
        let out = std::process::Command::new(&path)
            .arg("you")
            .output()
            .unwrap();
        assert_eq!(String::from_utf8_lossy(&out.stdout), "hello you\n");
        fs::remove_dir_all(&dir).unwrap();
    }
}
