//! `accord`: the command-line front end. `main` parses arguments, runs one subcommand, and
//! maps the outcome to an exit code: 0 success, 1 verification failed or something signed
//! refused, 2 usage or input error. A closed output pipe counts as success.

#![forbid(unsafe_code)]

mod cli;
mod client;
mod commands;
mod demo;
mod keyfile;
mod output;
mod scenario;

/// mimalloc instead of the system allocator: the sequencer, import and verify allocate and
/// free many small buffers (index pages, leaves, JSON), and glibc's malloc took some 18% of
/// the service's CPU under load (docs/PERFORMANCE.md).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

use std::process::ExitCode;

use clap::Parser;

use crate::cli::{Cli, Command};

/// An outcome that is a verdict, not a mistake in the input: exit code 1. Everything signed
/// that is refused is one: a rejected entry, a checkpoint or cosignature by a key that is not
/// the log's or a member's, a ledger or bundle that does not verify.
#[derive(Debug)]
pub struct Verdict(pub String);

impl std::fmt::Display for Verdict {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Verdict {}

fn exit_code(e: &anyhow::Error) -> u8 {
    for cause in e.chain() {
        if cause.is::<Verdict>()
            || cause.is::<accord_core::bundle::BundleError>()
            || cause.is::<accord_core::governance::Rejection>()
        {
            return 1;
        }
        if let Some(l) = cause.downcast_ref::<accord_ledger::LedgerError>() {
            return match l {
                accord_ledger::LedgerError::Rejected(_)
                | accord_ledger::LedgerError::Corrupt { .. }
                | accord_ledger::LedgerError::WrongLogKey { .. }
                | accord_ledger::LedgerError::Cosign(_) => 1,
                _ => 2,
            };
        }
        if let Some(p) = cause.downcast_ref::<accord_publish::PublishError>() {
            return if p.is_verdict() { 1 } else { 2 };
        }
        if let Some(v) = cause.downcast_ref::<accord_ledger::VerifyError>() {
            return match v {
                accord_ledger::VerifyError::Failed { .. } => 1,
                accord_ledger::VerifyError::Ledger(accord_ledger::LedgerError::Corrupt {
                    ..
                }) => 1,
                _ => 2,
            };
        }
    }
    2
}

fn is_broken_pipe(e: &anyhow::Error) -> bool {
    e.chain().any(|c| {
        c.downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
    })
}

/// The error as one line: each context, then each cause, joined by ": ". The library errors
/// repeat their source in their own message (`rejected: {0}` over the rejection itself), so a
/// cause whose text is already on the line is left out: every reason is said once.
fn report(e: &anyhow::Error) -> String {
    let mut line = String::new();
    for cause in e.chain() {
        let text = cause.to_string();
        if text.is_empty() || line.contains(&text) {
            continue;
        }
        if !line.is_empty() {
            line.push_str(": ");
        }
        line.push_str(&text);
    }
    line
}

fn run(cli: Cli) -> anyhow::Result<()> {
    let ctx = commands::Ctx::new(&cli);
    match cli.command {
        Command::Demo(a) => demo::run(&ctx, a),
        Command::Keygen(a) => commands::keys::keygen(&ctx, a),
        Command::Charter(c) => commands::charter::run(&ctx, c),
        Command::Init(a) => commands::charter::init(&ctx, a),
        Command::Draft(d) => commands::draft::run(&ctx, *d),
        Command::Sign(a) => commands::sign::sign(&ctx, a),
        Command::Inspect(a) => commands::sign::inspect(&ctx, a),
        Command::Submit(a) => commands::sign::submit(&ctx, a),
        Command::Import(a) => commands::sign::import(&ctx, a),
        Command::Cosign(a) => commands::log::cosign(&ctx, a),
        Command::List(a) => commands::read::list(&ctx, a),
        Command::Show(a) => commands::read::show(&ctx, a),
        Command::History(a) => commands::read::history(&ctx, a),
        Command::Status(a) => commands::read::status(&ctx, a),
        Command::Summary(a) => commands::read::summary(&ctx, a),
        Command::Members => commands::read::members(&ctx),
        Command::Checkpoint(a) => commands::log::checkpoint(&ctx, a),
        Command::LogKey => commands::log::log_key(&ctx),
        Command::Prove(a) => commands::log::prove(&ctx, a),
        Command::Consistency(a) => commands::log::consistency(&ctx, a),
        Command::Verify(a) => commands::audit::verify(&ctx, a),
        Command::Export(a) => commands::audit::export(&ctx, a),
        Command::VerifyBundle(a) => commands::audit::verify_bundle(&ctx, a),
        Command::Serve(a) => commands::serve::serve(&ctx, a),
        Command::Report(a) => commands::report::report(&ctx, a),
        Command::Mirror(a) => commands::mirror::mirror(&ctx, a),
        Command::VerifyEvidence(a) => commands::mirror::verify_evidence(&ctx, a),
        Command::Publish(a) => commands::publish::publish(&ctx, a),
        Command::Witness(c) => commands::witness::run(c),
        Command::Watch(a) => commands::watch::watch(&ctx, a),
    }
}

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(c) => c,
        Err(e) => {
            let _ = e.print();
            return match e.kind() {
                clap::error::ErrorKind::DisplayHelp
                | clap::error::ErrorKind::DisplayVersion
                | clap::error::ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand => {
                    ExitCode::SUCCESS
                }
                _ => ExitCode::from(2),
            };
        }
    };
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) if is_broken_pipe(&e) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("accord: {}", report(&e));
            ExitCode::from(exit_code(&e))
        }
    }
}
