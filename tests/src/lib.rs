//! Shared helpers for oidc-edge's end-to-end and interoperability tests.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};

pub use oidc_edge::native::OsEntropy;

pub mod flow;
pub mod jose;
pub mod logout;
pub mod memory;
pub mod op;
pub mod process;
pub mod raw;
pub mod rp;
pub mod seeded;
pub mod target;

/// The repository root.
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

/// Whether a test that needs an optional resource must fail (CI) rather than skip.
pub fn required(var: &str) -> bool {
    std::env::var(var).is_ok_and(|v| v == "1")
}

/// Print a loud notice that a test is skipped for want of `what`, or panic when `var` is set.
pub fn skip_or_fail(var: &str, what: &str) {
    if required(var) {
        panic!("{what} is missing and {var}=1 requires it");
    }
    eprintln!(
        "\n==================== SKIPPED ====================\n{what} is missing: test skipped (set {var}=1 to make this fail)\n=================================================\n"
    );
}

/// Whether `node` and the pinned npm `package` are installed, as `script` needs them; a loud
/// skip notice (or a panic under `OIDC_EDGE_REQUIRE_INTEROP=1`) when not.
pub fn node_package_available(package: &str, script: &str) -> bool {
    const REQUIRE_VAR: &str = "OIDC_EDGE_REQUIRE_INTEROP";
    let node = std::process::Command::new("node")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    if !node {
        skip_or_fail(
            REQUIRE_VAR,
            &format!("`node` on PATH (needed to run {script})"),
        );
        return false;
    }
    if !repo_root()
        .join(format!("node_modules/{package}/package.json"))
        .is_file()
    {
        skip_or_fail(
            REQUIRE_VAR,
            &format!("node_modules/{package} (run `npm ci` at the repository root)"),
        );
        return false;
    }
    true
}

/// Options for a test server: a free loopback port, in memory, everything else the default.
/// Change what a test needs (`clock`, `data`, `delivery`, `sweep_interval`...) and pass them to
/// [`start_server_with`].
pub fn test_options() -> oidc_edge::native::server::ServerOptions {
    oidc_edge::native::server::ServerOptions {
        addr: "127.0.0.1:0".parse().unwrap(),
        ..oidc_edge::native::server::ServerOptions::default()
    }
}

/// Start the provider on a free loopback port, in memory, where `OIDC_EDGE_TARGET` says
/// ([`target`]); with `demo`, realm `demo` is seeded (open registration, user `demo` /
/// `changeit`). It stops when dropped.
pub fn start_server(demo: bool) -> target::Server {
    start_server_with(oidc_edge::native::server::ServerOptions {
        demo,
        ..test_options()
    })
}

/// Start the provider with `opts`, as given (start from [`test_options`]), where
/// `OIDC_EDGE_TARGET` says. It stops when dropped.
pub fn start_server_with(opts: oidc_edge::native::server::ServerOptions) -> target::Server {
    target::Server::start(opts)
}

/// The system Chromium the browser tests drive (`$CHROMIUM`, else `/usr/bin/chromium`, as
/// `scripts/setup.sh browser` installs it); a loud skip notice (or a panic under
/// `OIDC_EDGE_REQUIRE_INTEROP=1`) when it is missing.
pub fn chromium() -> Option<String> {
    let chromium = std::env::var("CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into());
    if std::path::Path::new(&chromium).exists() {
        Some(chromium)
    } else {
        skip_or_fail(
            "OIDC_EDGE_REQUIRE_INTEROP",
            "Chromium (scripts/setup.sh browser)",
        );
        None
    }
}
