//! Printing: aligned tables for people, JSON for scripts, progress bars on stderr.

use std::io::Write;

use anyhow::Result;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use serde::Serialize;

/// `println!` for stdout that returns the `io::Result` instead of panicking: a closed pipe
/// (`accord list | head -1`) becomes an `ErrorKind::BrokenPipe` error, which `main` treats
/// as success.
macro_rules! outln {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        writeln!(std::io::stdout().lock(), $($arg)*)
    }};
}

/// `print!` for stdout, returning the `io::Result` (see [`outln`]).
macro_rules! out {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        write!(std::io::stdout().lock(), $($arg)*)
    }};
}

pub(crate) use {out, outln};

/// Prints one JSON document. It is serialised first and written apart, so that a write
/// error stays an `io::Error` (serde_json would wrap a closed pipe in its own error type,
/// which `main` could no longer tell from a real failure).
pub fn json<T: Serialize + ?Sized>(value: &T) -> Result<()> {
    let mut bytes = serde_json::to_vec_pretty(value)?;
    bytes.push(b'\n');
    std::io::stdout().lock().write_all(&bytes)?;
    Ok(())
}

/// Prints JSON Lines, one line per write (see [`json`]).
pub fn json_lines<T: Serialize>(values: &[T]) -> Result<()> {
    let mut out = std::io::stdout().lock();
    for v in values {
        let mut line = serde_json::to_vec(v)?;
        line.push(b'\n');
        out.write_all(&line)?;
    }
    Ok(())
}

/// Prints a table with aligned columns.
pub fn table(headers: &[&str], rows: &[Vec<String>]) -> Result<()> {
    let mut widths: Vec<usize> = headers.iter().map(|h| h.chars().count()).collect();
    for r in rows {
        for (i, c) in r.iter().enumerate() {
            if i < widths.len() {
                widths[i] = widths[i].max(c.chars().count());
            }
        }
    }
    let mut out = std::io::stdout().lock();
    let line = |out: &mut dyn Write, cells: &[String]| -> Result<()> {
        let mut s = String::new();
        for (i, c) in cells.iter().enumerate() {
            if i + 1 == cells.len() {
                s.push_str(c);
            } else {
                let pad = widths
                    .get(i)
                    .copied()
                    .unwrap_or(0)
                    .saturating_sub(c.chars().count());
                s.push_str(c);
                s.push_str(&" ".repeat(pad + 2));
            }
        }
        writeln!(out, "{}", s.trim_end())?;
        Ok(())
    };
    line(
        &mut out,
        &headers.iter().map(|h| h.to_string()).collect::<Vec<_>>(),
    )?;
    for r in rows {
        line(&mut out, r)?;
    }
    Ok(())
}

/// Prints `key: value` lines, aligned.
pub fn fields(pairs: &[(&str, String)]) -> Result<()> {
    let w = pairs.iter().map(|(k, _)| k.len()).max().unwrap_or(0);
    let mut out = std::io::stdout().lock();
    for (k, v) in pairs {
        writeln!(out, "{k:<w$}  {v}")?;
    }
    Ok(())
}

/// A progress bar on stderr; hidden when stderr is not a terminal.
pub fn progress(len: Option<u64>, what: &str) -> ProgressBar {
    let pb = match len {
        Some(n) => ProgressBar::with_draw_target(Some(n), ProgressDrawTarget::stderr()),
        None => ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr()),
    };
    let style = if len.is_some() {
        ProgressStyle::with_template("{msg:>10} [{bar:40}] {pos}/{len} ({per_sec}, {eta})")
    } else {
        ProgressStyle::with_template("{msg:>10} {pos} ({per_sec})")
    };
    if let Ok(s) = style {
        pb.set_style(s.progress_chars("=> "));
    }
    pb.set_message(what.to_owned());
    pb
}
