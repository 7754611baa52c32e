//! A loopback HTTP server standing in for the Telegram Bot API and for
//! webhooks: it answers from a script of responses (then `ok`) and records
//! every request. It binds 127.0.0.1 only.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};

use serde_json::Value;

#[derive(Debug, Clone)]
pub struct Request {
    pub method: String,
    pub path: String,
    /// Header names in lower case, with their values.
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl Request {
    /// The value of a header (name in any case).
    pub fn header(&self, name: &str) -> Option<&str> {
        let name = name.to_lowercase();
        self.headers
            .iter()
            .find(|(k, _)| *k == name)
            .map(|(_, v)| v.as_str())
    }

    pub fn json(&self) -> Value {
        serde_json::from_str(&self.body).expect("request body is JSON")
    }
}

pub const OK: (u16, &str) = (200, r#"{"ok":true,"result":{"message_id":1}}"#);

pub struct Server {
    pub url: String,
    server: Arc<tiny_http::Server>,
    requests: Arc<Mutex<Vec<Request>>>,
    script: Arc<Mutex<VecDeque<(u16, String)>>>,
}

impl Server {
    pub fn start() -> Server {
        let server = Arc::new(tiny_http::Server::http("127.0.0.1:0").expect("bind loopback"));
        let port = server.server_addr().to_ip().expect("ip address").port();
        let requests = Arc::new(Mutex::new(Vec::new()));
        let script = Arc::new(Mutex::new(VecDeque::<(u16, String)>::new()));
        let (srv, reqs, scr) = (server.clone(), requests.clone(), script.clone());
        std::thread::spawn(move || {
            for mut rq in srv.incoming_requests() {
                let mut body = String::new();
                let _ = rq.as_reader().read_to_string(&mut body);
                reqs.lock().unwrap().push(Request {
                    method: rq.method().to_string(),
                    path: rq.url().to_string(),
                    headers: rq
                        .headers()
                        .iter()
                        .map(|h| {
                            (
                                h.field.as_str().as_str().to_lowercase(),
                                h.value.to_string(),
                            )
                        })
                        .collect(),
                    body,
                });
                let (status, text) = scr
                    .lock()
                    .unwrap()
                    .pop_front()
                    .unwrap_or((OK.0, OK.1.to_string()));
                let header =
                    tiny_http::Header::from_bytes(&b"Content-Type"[..], &b"application/json"[..])
                        .unwrap();
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
        }
    }

    /// Answer the next request with this (later ones: as scripted, then ok).
    pub fn then(&self, status: u16, body: &str) -> &Self {
        self.script
            .lock()
            .unwrap()
            .push_back((status, body.to_string()));
        self
    }

    pub fn requests(&self) -> Vec<Request> {
        self.requests.lock().unwrap().clone()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.server.unblock();
    }
}
