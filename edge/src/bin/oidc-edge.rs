//! The `oidc-edge` command: the provider's server, and token tools for relying-party developers.

#[cfg(not(target_arch = "wasm32"))]
fn main() -> std::process::ExitCode {
    oidc_edge::native::cli::main()
}

/// The command is native only; on wasm32 this crate is the Workers module (`edge/src/worker`).
#[cfg(target_arch = "wasm32")]
fn main() {}
