//! The `oidc-edge` command: token tools for relying-party developers.

fn main() -> std::process::ExitCode {
    oidc_edge::native::cli::main()
}
