//! The pyward supervisor as a library: the command line (`cli`), what each subcommand does
//! (`commands`), and the daemon behind `pyward serve` (`daemon`). The `pyward` binary
//! (`main.rs`) only parses arguments and calls [`commands::run`]; tests and fuzz targets link
//! this library instead of including its files.

#![forbid(unsafe_code)]

pub mod cli;
pub mod commands;
pub mod daemon;
