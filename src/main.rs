use clap::Parser;

#[tokio::main]
async fn main() -> std::process::ExitCode {
    jobledger::telemetry::init();
    match jobledger::cli::run(jobledger::cli::Cli::parse()).await {
        Ok(code) => code,
        Err(e) => {
            tracing::error!("{e:#}");
            eprintln!("jobledger: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
