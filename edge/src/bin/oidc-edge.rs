//! The `oidc-edge` command: the provider's server, and token tools for relying-party developers.

fn main() -> std::process::ExitCode {
    oidc_edge::native::cli::main()
}
