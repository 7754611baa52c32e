//! The commands that open and close gates on a job (SPEC §6, §9):
//! `approve`, `revoke`, `silence` and `unsilence`. They change only the
//! state; no job command runs here.

use std::time::Duration;

use anyhow::Result;

use super::{files, find_job, load_config, login_name, with_state};
use crate::cli::{Global, Which};
use crate::clock::Clock;
use crate::config::Kind;
use crate::exit::{fail, Code};
use crate::out::outln;
use crate::rules::safety;
use crate::state::{Grant, Silence};

/// The longest `approve --for` (SPEC §11 "Approvals").
const MAX_GRANT: Duration = Duration::from_secs(24 * 3600);

pub fn approve(g: &Global, id: &str, for_: Duration, note: Option<String>) -> Result<Code> {
    let files = files(g)?;
    let config = load_config(&files, false)?;
    let job = find_job(&config, id)?;
    if job.kind != Kind::OneShotWrite {
        return Err(fail(
            Code::Usage,
            format!(
                "{id} is a {}: only one_shot_write jobs need approval",
                job.kind.as_str()
            ),
        ));
    }
    if for_ > MAX_GRANT {
        return Err(fail(
            Code::Usage,
            format!(
                "approve --for is at most 24h (a grant is for one run soon), not {}s",
                for_.as_secs()
            ),
        ));
    }
    with_state(&files, g, |st| {
        let now = Clock::read().now;
        let expires_at = now + for_.as_secs_f64();
        let by = login_name();
        st.approvals.insert(
            id.to_string(),
            Grant {
                granted_at: now,
                expires_at,
                by: by.clone(),
                note,
                fingerprint: Some(safety::job_fingerprint(job)),
                extra: Default::default(),
            },
        );
        outln!(
            "approved {id} for one run within {}s (by {})",
            for_.as_secs(),
            by
        );
        Ok(Code::Ok)
    })
}

pub fn revoke(g: &Global, id: &str) -> Result<Code> {
    let files = files(g)?;
    with_state(&files, g, |st| {
        if st.approvals.remove(id).is_some() {
            outln!("revoked the approval of {id}");
        } else {
            outln!("{id} had no approval to revoke");
        }
        Ok(Code::Ok)
    })
}

pub fn silence(g: &Global, which: &Which, set: Option<(Duration, Option<String>)>) -> Result<Code> {
    let files = files(g)?;
    let key = match (&which.job, which.all) {
        (_, true) => "*".to_string(),
        (Some(j), false) => {
            let config = load_config(&files, false)?;
            find_job(&config, j)?;
            j.clone()
        }
        (None, false) => return Err(fail(Code::Usage, "name a job or pass --all")),
    };
    let shown = if key == "*" {
        "all jobs".to_string()
    } else {
        key.clone()
    };
    with_state(&files, g, |st| {
        let now = Clock::read().now;
        match set {
            Some((for_, reason)) => {
                st.silences.insert(
                    key.clone(),
                    Silence {
                        until: now + for_.as_secs_f64(),
                        created_at: now,
                        reason,
                        extra: Default::default(),
                    },
                );
                outln!("silenced {shown} for {}s", for_.as_secs());
            }
            None if key == "*" => {
                // Every silence, the per-job ones too: "all" means all.
                let n = std::mem::take(&mut st.silences).len();
                if n == 0 {
                    outln!("no job was silenced");
                } else {
                    outln!("unsilenced all jobs ({n} silence(s) ended)");
                }
            }
            None => {
                if st.silences.remove(&key).is_some() {
                    outln!("unsilenced {shown}");
                } else {
                    outln!("{shown} was not silenced");
                }
            }
        }
        Ok(Code::Ok)
    })
}
