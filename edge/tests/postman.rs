//! The Postman collection (`examples/oidc-edge.postman_collection.json`) run by Newman (npm,
//! pinned) against the native server, with `oidc-edge mock-rp` as the relying party: every
//! request and assertion of the collection passes, and the mock RP verified each logout token
//! the collection's six logouts sent (the user's, RP-initiated, sign out everywhere, a password
//! reset, a disabled account, an administrator's termination).
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::io::{BufRead as _, BufReader};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use oidc_edge_tests::{node_package_available, repo_root, start_server};
use serde_json::Value;

const BIN: &str = env!("CARGO_BIN_EXE_oidc-edge");

#[test]
fn newman_runs_the_postman_collection_green_with_mock_rp_as_the_rp() {
    if !node_package_available("newman", "node_modules/.bin/newman") {
        return;
    }
    let server = start_server(false);
    let issuer = server.url("/realms/postman");
    // The collection creates realm `postman` and client `postman-rp` itself: the mock RP is
    // told the client's id and reads the realm's discovery when the first token comes.
    let mut rp = Command::new(BIN)
        .args([
            "mock-rp",
            "--issuer",
            &issuer,
            "--client-id",
            "postman-rp",
            "--json",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let (tx, lines) = mpsc::channel::<Value>();
    let stdout = rp.stdout.take().unwrap();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if tx.send(serde_json::from_str(&line).unwrap()).is_err() {
                return;
            }
        }
    });
    let first = lines.recv_timeout(Duration::from_secs(15)).unwrap();
    let bc = first["backchannel_logout_uri"].as_str().unwrap().to_owned();
    let report = tempfile::NamedTempFile::new().unwrap();
    let out = Command::new("node")
        .arg(repo_root().join("node_modules/.bin/newman"))
        .args(["run", "examples/oidc-edge.postman_collection.json"])
        .args(["--env-var", &format!("base_url={}", server.base_url)])
        .args(["--env-var", &format!("admin_token={}", server.admin_token)])
        .args(["--env-var", &format!("back_channel_logout_uri={bc}")])
        .args(["--reporters", "cli,json", "--reporter-json-export"])
        .arg(report.path())
        .current_dir(repo_root())
        .output()
        .unwrap();
    // The six logouts of the collection, as the mock RP printed them.
    let got: Vec<Value> = (0..6)
        .map_while(|_| lines.recv_timeout(Duration::from_secs(10)).ok())
        .collect();
    let _ = rp.kill();
    let _ = rp.wait();
    assert!(
        out.status.success(),
        "newman failed:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let summary: Value = serde_json::from_slice(&std::fs::read(report.path()).unwrap()).unwrap();
    let stats = &summary["run"]["stats"];
    assert_eq!(stats["assertions"]["failed"], 0, "{stats}");
    assert!(
        stats["assertions"]["total"].as_u64().unwrap() >= 25,
        "{stats}"
    );
    assert_eq!(stats["requests"]["failed"], 0, "{stats}");
    // Each a valid token answered 200, and nothing more.
    assert_eq!(got.len(), 6, "{got:#?}");
    assert!(lines.try_recv().is_err(), "no seventh token");
    for line in &got {
        assert_eq!(line["verdict"], "valid", "{line}");
        assert_eq!(line["answered"], 200, "{line}");
        assert_eq!(line["claims"]["aud"], "postman-rp", "{line}");
    }
    let causes: Vec<&str> = got
        .iter()
        .map(|l| l["claims"]["cause"].as_str().unwrap())
        .collect();
    assert_eq!(
        causes,
        [
            "CLIENT_LOGOUT",
            "CLIENT_LOGOUT",
            "SESSION_TERMINATION",
            "SESSION_TERMINATION",
            "SESSION_TERMINATION",
            "SESSION_TERMINATION"
        ]
    );
}
