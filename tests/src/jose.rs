//! An independent JOSE implementation (the `jose` npm package, pinned) run through
//! `tests/js/jose-tool.mjs`: the cross-checks of core's JOSE, and of what the provider issued in
//! a real run.

use std::io::Write as _;
use std::process::{Command, Stdio};

use serde_json::{Value, json};

use crate::repo_root;

/// Proof that node and the pinned jose are installed; runs `jose-tool.mjs`.
#[derive(Clone, Copy, Debug)]
pub struct Jose;

impl Jose {
    /// `None` (after a loud skip notice, or a panic when required) when jose cannot run here.
    pub fn find() -> Option<Self> {
        crate::node_package_available("jose", "tests/js/jose-tool.mjs").then_some(Self)
    }

    /// Run `(command, request)` pairs in one node process; each result is the command's
    /// output, or `Err` with jose's `{"error", "code"}`.
    pub fn batch(self, reqs: Vec<(&str, Value)>) -> Vec<Result<Value, Value>> {
        let n = reqs.len();
        let input: Vec<Value> = reqs
            .into_iter()
            .map(|(cmd, req)| json!({"cmd": cmd, "req": req}))
            .collect();
        let mut child = Command::new("node")
            .arg("tests/js/jose-tool.mjs")
            .arg("batch")
            .current_dir(repo_root())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn node");
        // The tool reads all of stdin before writing anything, so this cannot deadlock; the
        // handle is dropped at the end of the statement, closing stdin.
        child
            .stdin
            .take()
            .unwrap()
            .write_all(&serde_json::to_vec(&input).unwrap())
            .unwrap();
        let out = child.wait_with_output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            out.status.success(),
            "jose-tool batch failed: {}{stderr}",
            String::from_utf8_lossy(&out.stdout)
        );
        let results: Vec<Value> = serde_json::from_slice(&out.stdout)
            .unwrap_or_else(|e| panic!("jose-tool printed no JSON array ({e}); stderr: {stderr}"));
        assert_eq!(results.len(), n, "one result per request");
        results
            .into_iter()
            .map(|r| {
                if r.get("error").is_some() {
                    Err(r)
                } else {
                    Ok(r)
                }
            })
            .collect()
    }
}

/// A `verify` of each of `requests` (see `jose-tool.mjs`): each result, jose's error object
/// for a refusal; `None` when jose cannot run here ([`Jose::find`]).
pub fn jose_verify_batch(requests: &[Value]) -> Option<Vec<Value>> {
    let jose = Jose::find()?;
    let reqs = requests.iter().map(|r| ("verify", r.clone())).collect();
    Some(
        jose.batch(reqs)
            .into_iter()
            .map(|r| r.unwrap_or_else(|e| e))
            .collect(),
    )
}
