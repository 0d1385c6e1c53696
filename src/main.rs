//! The rockit-edge binary.

fn main() -> std::process::ExitCode {
    rockit_edge::cli::main()
}
