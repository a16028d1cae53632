//! `loyalty`: the command line of the loyalty platform. See `loyalty --help`.

use clap::Parser;
use loyalty_server::cli::{run, Cli, LogFormat};

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
