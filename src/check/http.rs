//! The request of `check http`: one GET through the project's HTTP client
//! (`fleet::http_client`: a deadline for the whole request, no redirects,
//! loopback never through a proxy), timed until the answer's headers.
//! Errors never hold the URL: its query may carry a token.

use std::time::{Duration, Instant};

use crate::fleet::{error_text, http_client};

/// What an error about the URL itself starts with: that is the check's
/// usage error (UNKNOWN), not the endpoint's failure (CRITICAL).
pub const BAD_URL: &str = "not an http(s) URL";

/// An answer: its status, how long it took, where a redirect points.
#[derive(Debug, Clone, PartialEq)]
pub struct Answer {
    pub status: u16,
    pub elapsed: Duration,
    /// A redirect's `Location`, shown without what may be secret in it.
    pub location: Option<String>,
}

pub fn get(url: &str, limit: Duration) -> Result<Answer, String> {
    match reqwest::Url::parse(url) {
        Ok(u) if matches!(u.scheme(), "http" | "https") && u.host_str().is_some() => {}
        _ => {
            return Err(format!(
                "{BAD_URL}: {}",
                crate::deliver::probe::shown_url(url)
            ))
        }
    }
    let client = http_client(url, limit)?;
    let started = Instant::now();
    let response = client
        .get(url)
        .send()
        .map_err(|e| error_text(e.without_url()))?;
    let elapsed = started.elapsed();
    let location = response
        .headers()
        .get(reqwest::header::LOCATION)
        .and_then(|l| l.to_str().ok())
        .filter(|_| response.status().is_redirection())
        .and_then(|l| response.url().join(l).ok())
        .map(|l| crate::deliver::probe::shown_url(l.as_str()));
    Ok(Answer {
        status: response.status().as_u16(),
        elapsed,
        location,
    })
}
