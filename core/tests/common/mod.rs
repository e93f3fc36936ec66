//! Shared by the vector tests: where the vectors live, entropy for byte-for-byte and randomized
//! runs, decoding helpers, and a tally that accounts for every Wycheproof case.
//!
//! Each test binary uses a subset of these helpers.
#![allow(dead_code)]

extern crate alloc;

use alloc::collections::{BTreeMap, VecDeque};
use core::cell::RefCell;
use std::path::PathBuf;
use std::sync::Once;

use oidc_edge_core::host::{Entropy, EntropyError};
use oidc_edge_core::jose::b64;
use serde_json::Value;

pub use oidc_edge_tests::seeded::Seeded;

/// Overrides where the vectors are read from.
pub const VECTORS_ENV: &str = "OIDC_EDGE_VECTORS";
/// Set to `1` to turn a missing vector directory into a failure instead of a skip.
pub const REQUIRE_ENV: &str = "OIDC_EDGE_REQUIRE_VECTORS";

/// The vector directory, or `None` (after a loud notice) when it is absent and not required.
pub fn vectors_dir() -> Option<PathBuf> {
    let dir = std::env::var_os(VECTORS_ENV).map_or_else(
        || PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../../shared/vectors")),
        PathBuf::from,
    );
    if dir.is_dir() {
        return Some(dir);
    }
    if std::env::var(REQUIRE_ENV).is_ok_and(|v| v == "1") {
        panic!(
            "{REQUIRE_ENV}=1 but the vector directory {} does not exist",
            dir.display()
        );
    }
    static BANNER: Once = Once::new();
    BANNER.call_once(|| {
        loud(&format!(
            "\n\
             ************************************************************************\n\
             *  SKIPPED: JOSE test vectors not found at\n\
             *    {}\n\
             *  The RFC 7520 and Wycheproof vector tests did NOT run.\n\
             *  Point {VECTORS_ENV} at the vectors, and set\n\
             *  {REQUIRE_ENV}=1 to make their absence a failure.\n\
             ************************************************************************\n",
            dir.display()
        ));
    });
    None
}

/// Write straight to the process's stderr: the test harness swallows `eprintln!` from passing
/// tests, and a skip or a deviation must not go unseen.
pub fn loud(text: &str) {
    use std::io::Write as _;
    // Nothing sensible to do if stderr itself fails.
    let _ = std::io::stderr().write_all(text.as_bytes());
}

/// Read and parse one vector file, `rel` being relative to the vector directory. `None` when
/// the whole directory is absent (see [`vectors_dir`]); a missing or broken file panics.
pub fn load(rel: &str) -> Option<Value> {
    let Some(dir) = vectors_dir() else {
        loud(&format!("SKIPPED {rel}: no vectors\n"));
        return None;
    };
    let path = dir.join(rel);
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("reading {}: {e}", path.display()));
    Some(serde_json::from_str(&text).unwrap_or_else(|e| panic!("parsing {}: {e}", path.display())))
}

/// Entropy that hands out pre-loaded chunks, in order, one per request, so that randomized
/// algorithms reproduce a vector byte for byte. A request whose size differs from the next
/// chunk is a test bug and panics with both sizes.
#[derive(Debug)]
pub struct Scripted {
    chunks: RefCell<VecDeque<Vec<u8>>>,
}

impl Scripted {
    /// Entropy that will return `chunks` in order.
    pub fn new(chunks: impl IntoIterator<Item = Vec<u8>>) -> Self {
        Self {
            chunks: RefCell::new(chunks.into_iter().collect()),
        }
    }

    /// How many chunks have not been asked for.
    pub fn remaining(&self) -> usize {
        self.chunks.borrow().len()
    }
}

impl Entropy for Scripted {
    fn fill(&self, dest: &mut [u8]) -> Result<(), EntropyError> {
        let chunk = self.chunks.borrow_mut().pop_front().ok_or(EntropyError)?;
        assert_eq!(
            chunk.len(),
            dest.len(),
            "scripted entropy: {} bytes requested, the next scripted chunk has {}",
            dest.len(),
            chunk.len()
        );
        dest.copy_from_slice(&chunk);
        Ok(())
    }
}

/// Decode base64url that the vector guarantees to be valid.
pub fn b64d(s: &str) -> Vec<u8> {
    b64::decode(s).unwrap_or_else(|e| panic!("vector holds invalid base64url {s:?}: {e}"))
}

/// Decode hex that the vector guarantees to be valid.
pub fn hex(s: &str) -> Vec<u8> {
    assert!(s.len().is_multiple_of(2), "odd-length hex {s:?}");
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap_or_else(|e| panic!("hex {s:?}: {e}")))
        .collect()
}

/// A string member of a vector object, which the vector guarantees to be present.
pub fn str_at<'v>(v: &'v Value, pointer: &str) -> &'v str {
    v.pointer(pointer)
        .and_then(Value::as_str)
        .unwrap_or_else(|| panic!("vector has no string at {pointer}"))
}

/// Accounts for every case of a Wycheproof file: each one is either checked (and counted by
/// its expected result) or skipped with a reason; every wrong outcome is collected, so one run
/// reports them all, and [`Tally::finish`] fails the test if there was any.
#[derive(Debug)]
pub struct Tally {
    file: &'static str,
    valid_accepted: usize,
    invalid_rejected: usize,
    acceptable_accepted: usize,
    acceptable_rejected: usize,
    skipped: BTreeMap<String, usize>,
    failures: Vec<String>,
    /// Invalid cases a dependency accepts on purpose: tcId, reason, and whether it happened.
    deviations: Vec<(u64, &'static str, bool)>,
}

impl Tally {
    /// A tally for the cases of `file`.
    pub fn new(file: &'static str) -> Self {
        Self {
            file,
            valid_accepted: 0,
            invalid_rejected: 0,
            acceptable_accepted: 0,
            acceptable_rejected: 0,
            skipped: BTreeMap::new(),
            failures: Vec::new(),
            deviations: Vec::new(),
        }
    }

    /// Declare that invalid case `tc_id` is accepted on purpose, for `reason`. It is then
    /// counted and printed rather than failed; if it stops being accepted, that fails too, so
    /// the declaration cannot outlive the deviation.
    #[must_use]
    pub fn documented_deviation(mut self, tc_id: u64, reason: &'static str) -> Self {
        self.deviations.push((tc_id, reason, false));
        self
    }

    /// Record that case `case` (with Wycheproof `result` `expected`) was `accepted` or not.
    pub fn record(&mut self, case: &Value, accepted: bool, detail: &str) {
        let expected = str_at(case, "/result");
        let id = case.get("tcId").and_then(Value::as_u64);
        if let Some(d) = self.deviations.iter_mut().find(|d| Some(d.0) == id)
            && expected == "invalid"
            && accepted
        {
            d.2 = true;
            return;
        }
        match (expected, accepted) {
            ("valid", true) => self.valid_accepted += 1,
            ("invalid", false) => self.invalid_rejected += 1,
            ("acceptable", true) => self.acceptable_accepted += 1,
            ("acceptable", false) => self.acceptable_rejected += 1,
            ("valid", false) => self.fail(case, &format!("valid case rejected: {detail}")),
            ("invalid", true) => self.fail(case, &format!("INVALID CASE ACCEPTED: {detail}")),
            (other, _) => self.fail(case, &format!("unknown result {other:?}")),
        }
    }

    /// Count a case that is not checked, and why.
    pub fn skip(&mut self, reason: impl Into<String>) {
        *self.skipped.entry(reason.into()).or_default() += 1;
    }

    /// Note a wrong outcome for `case`.
    pub fn fail(&mut self, case: &Value, what: &str) {
        let id = case.get("tcId").map_or_else(String::new, Value::to_string);
        let comment = case.get("comment").and_then(Value::as_str).unwrap_or("");
        self.failures.push(format!("tcId {id} ({comment}): {what}"));
    }

    /// Print the counts, check that every one of `total` cases was accounted for, and fail
    /// with the full list of wrong outcomes, if any.
    pub fn finish(self, total: u64) {
        let skipped: usize = self.skipped.values().sum();
        let deviated = self.deviations.iter().filter(|d| d.2).count();
        let counted = self.valid_accepted
            + self.invalid_rejected
            + deviated
            + self.acceptable_accepted
            + self.acceptable_rejected
            + skipped
            + self.failures.len();
        // One line per file always; the reasons for skips with --nocapture or on failure.
        let mut summary = format!(
            "wycheproof {}: {total} cases: valid accepted {}, invalid rejected {}, \
             acceptable accepted/rejected {}/{}, skipped {skipped}, failures {}\n",
            self.file,
            self.valid_accepted,
            self.invalid_rejected,
            self.acceptable_accepted,
            self.acceptable_rejected,
            self.failures.len()
        );
        for (reason, n) in &self.skipped {
            eprintln!("    {}: skipped {n:>4}: {reason}", self.file);
        }
        let mut failures = self.failures;
        for (id, reason, happened) in &self.deviations {
            if *happened {
                summary.push_str(&format!(
                    "    DOCUMENTED DEVIATION: invalid tcId {id} accepted: {reason}\n"
                ));
            } else {
                failures.push(format!(
                    "tcId {id}: declared as a deviation but not accepted; drop the declaration"
                ));
            }
        }
        loud(&summary);
        assert!(
            failures.is_empty(),
            "{}: {} wrong outcomes:\n  {}",
            self.file,
            failures.len(),
            failures.join("\n  ")
        );
        assert_eq!(
            counted as u64, total,
            "{}: not every case was accounted for",
            self.file
        );
    }
}
