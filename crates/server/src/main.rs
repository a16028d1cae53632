//! `loyalty`: the command line of the loyalty platform. See `loyalty --help`.

use clap::Parser;
use loyalty_server::cli::{run, Cli, LogFormat};

/// mimalloc instead of the system allocator: the service allocates and frees small JSON
/// buffers on every request and large pages of rows in bulk work; glibc's allocator gave
/// memory back and faulted it in again (a rebuild spent an eighth of its time zeroing pages).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    loyalty_server::telemetry::init_logs(cli.log_format == LogFormat::Json);
    match run(cli).await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
