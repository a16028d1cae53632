//! `loyalty`: the command line of the loyalty platform. See `loyalty --help`.

use clap::Parser;
use loyalty_server::cli::{error_message, run, Cli, LogFormat};

/// mimalloc instead of the system allocator: the service allocates and frees many small JSON
/// buffers on every request, and in three A/B pairs of the accrual bench it gave 5% more
/// accruals/s (BENCHMARKS.md). It keeps more memory at hand: 94 MB at rest instead of 45.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> std::process::ExitCode {
    // Before the runtime's other threads could touch SQLite.
    loyalty_store::prepare_sqlite();
    let cli = Cli::parse();
    loyalty_server::telemetry::init_logs(cli.log_format == LogFormat::Json);
    match run(cli).await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {}", error_message(&error));
            std::process::ExitCode::FAILURE
        }
    }
}
