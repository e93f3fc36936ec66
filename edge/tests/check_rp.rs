//! `oidc-edge logout-token check-rp` as a relying-party developer runs it, given the OP's key:
//! against an RP that validates its logout tokens (exit 0, every case passed), one that
//! accepts everything (exit 1, only `valid` passed), an RP that registered encryption, and
//! one that is not there. Drives the built binary (`CARGO_BIN_EXE_oidc-edge`).
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::net::TcpListener;
use std::process::{Command, Output};
use std::time::Duration;

use oidc_edge_core::jose::{Jwk, JwkSet, JwsAlg};
use oidc_edge_tests::rp::{Answer, Expect, TestRp};
use serde_json::Value;

const BIN: &str = env!("CARGO_BIN_EXE_oidc-edge");
const ISS: &str = "https://op.example/realms/demo";
const AUD: &str = "rp1";
const CASES: [&str; 7] = [
    "valid",
    "wrong_signature",
    "alg_none",
    "nonce_present",
    "expired",
    "wrong_aud",
    "missing_events",
];

fn run(args: &[&str]) -> Output {
    Command::new(BIN).args(args).output().unwrap()
}

/// A key made by `keygen` into `dir`: its file and the key.
fn keygen(dir: &tempfile::TempDir, name: &str, args: &[&str]) -> (String, Jwk) {
    let out = run(&[&["keygen"], args].concat());
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let path = dir.path().join(name);
    std::fs::write(&path, &out.stdout).unwrap();
    let key = Jwk::from_json(std::str::from_utf8(&out.stdout).unwrap()).unwrap();
    (path.to_string_lossy().into_owned(), key)
}

/// A test RP that trusts `op` (and, when given, decrypts with `decrypt`), answering `answer`.
fn rp(op: &Jwk, alg: JwsAlg, decrypt: Option<Jwk>, answer: Answer) -> TestRp {
    let rp = TestRp::start();
    let mut e = Expect::new(ISS, AUD);
    e.algs = vec![alg];
    if let Some(k) = decrypt {
        e = e.decrypting_with(k);
    }
    rp.expect_keys(
        e,
        JwkSet {
            keys: vec![op.to_public()],
        },
    );
    rp.answer(answer);
    rp
}

/// Run `check-rp` against `uri`: exit code, the report, stderr.
fn check_rp(uri: &str, key: &str, extra: &[&str]) -> (i32, Value, String) {
    let out = run(&[
        &[
            "logout-token",
            "check-rp",
            uri,
            "--key",
            key,
            "--iss",
            ISS,
            "--aud",
            AUD,
            "--timeout-ms",
            "3000",
        ],
        extra,
    ]
    .concat());
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(!stderr.contains("panicked"), "{stderr}");
    let report: Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("no JSON on stdout ({e}): {stderr}"));
    assert_eq!(report["client_id"], AUD);
    assert_eq!(report["uri"], uri);
    assert_eq!(report["total"], 7, "{report}");
    let names: Vec<&str> = report["cases"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, CASES);
    (out.status.code().unwrap(), report, stderr)
}

#[test]
fn check_rp_passes_a_correct_rp_and_fails_a_lax_one() {
    let dir = tempfile::tempdir().unwrap();
    let (key_path, key) = keygen(&dir, "op.jwk", &["--alg", "ES256"]);

    let good = rp(&key, JwsAlg::ES256, None, Answer::Verified);
    let (code, report, _) = check_rp(&good.uri(), &key_path, &[]);
    assert_eq!(code, 0, "{report}");
    assert_eq!(report["passed"], 7, "{report}");
    let got = good.wait_answered(7, Duration::from_secs(10));
    assert!(got[0].verdict.is_ok(), "{:?}", got[0].verdict);
    assert!(got[1..].iter().all(|g| g.verdict.is_err()));
    assert!(got.iter().all(|g| g.body.starts_with("logout_token=")));

    let lax = rp(&key, JwsAlg::ES256, None, Answer::Status(200));
    let (code, report, stderr) = check_rp(&lax.uri(), &key_path, &[]);
    assert_eq!(code, 1, "{report}");
    assert_eq!(report["passed"], 1, "{report}");
    assert_eq!(report["cases"][0]["pass"], true);
    assert!(
        report["cases"].as_array().unwrap()[1..]
            .iter()
            .all(|c| c["pass"] == false && c["status"] == 200),
        "{report}"
    );
    assert!(stderr.contains("passed 1 of 7"), "{stderr}");
    assert!(stderr.contains("wrong_signature"), "{stderr}");

    // An RP that refuses everything fails `valid` only.
    let strict = rp(&key, JwsAlg::ES256, None, Answer::Status(400));
    let (code, report, _) = check_rp(&strict.uri(), &key_path, &[]);
    assert_eq!((code, report["passed"].clone()), (1, Value::from(6)));
    assert_eq!(report["cases"][0]["pass"], false);
}

#[test]
fn check_rp_encrypts_to_the_rp_and_reports_an_absent_one() {
    let dir = tempfile::tempdir().unwrap();
    let (key_path, key) = keygen(&dir, "op.jwk", &["--alg", "PS256"]);
    let (enc_path, enc) = keygen(&dir, "rp-enc.jwk", &["--alg", "ES256", "--use", "enc"]);
    let good = rp(&key, JwsAlg::PS256, Some(enc), Answer::Verified);
    let (code, report, _) = check_rp(
        &good.uri(),
        &key_path,
        &[
            "--encrypt-to",
            &enc_path,
            "--alg",
            "ECDH-ES+A128KW",
            "--enc",
            "A256GCM",
        ],
    );
    assert_eq!(code, 0, "{report}");
    assert_eq!(report["passed"], 7);
    let got = good.wait_answered(7, Duration::from_secs(10));
    assert!(
        got.iter()
            .all(|g| g.logout_token.as_deref().unwrap().split('.').count() == 5),
        "every token a JWE"
    );

    // Nobody listening: no status, and why; exit 1.
    let closed = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let (code, report, _) = check_rp(&format!("http://{closed}/bc"), &key_path, &[]);
    assert_eq!(code, 1);
    assert_eq!(report["passed"], 0);
    assert!(
        report["cases"]
            .as_array()
            .unwrap()
            .iter()
            .all(|c| c["status"].is_null() && c["error"] == "connection failed"),
        "{report}"
    );

    // Bad input: exit 2, nothing sent.
    let out = run(&[
        "logout-token",
        "check-rp",
        &good.uri(),
        "--key",
        &key_path,
        "--iss",
        ISS,
        "--aud",
        AUD,
        "--sign-alg",
        "ES256",
    ]);
    assert_eq!(out.status.code(), Some(2));
    let out = run(&[
        "logout-token",
        "check-rp",
        "ftp://rp.example/bc",
        "--key",
        &key_path,
        "--iss",
        ISS,
        "--aud",
        AUD,
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(good.received().len(), 7);
}
