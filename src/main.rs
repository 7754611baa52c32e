//! Entry point: parse the command line, run, map the outcome to an exit code.

fn main() -> std::process::ExitCode {
    ops_monitor::main_entry()
}
