fn main() -> std::process::ExitCode {
    todoplan::cli::main()
}
