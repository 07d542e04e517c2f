//! Exit codes of the client binaries (DESIGN section 7), and the error
//! type that carries one.

/// What a client binary's exit status means.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exit {
    Ok = 0,
    /// The operation failed (a remote command failed, a rejected write).
    Failed = 1,
    /// Bad arguments.
    Usage = 2,
    /// Cannot connect, or not authorised.
    Access = 3,
    /// Stopped by Ctrl-C (SIGINT), after saying what was done about it.
    Interrupted = 130,
}

impl From<Exit> for std::process::ExitCode {
    fn from(e: Exit) -> Self {
        std::process::ExitCode::from(e as u8)
    }
}

/// An error with the exit status it should end the program with.
#[derive(Debug)]
pub struct CliError {
    pub exit: Exit,
    pub error: anyhow::Error,
}

impl CliError {
    pub fn new(exit: Exit, error: impl Into<anyhow::Error>) -> Self {
        CliError {
            exit,
            error: error.into(),
        }
    }

    pub fn failed(msg: impl std::fmt::Display) -> Self {
        CliError::new(Exit::Failed, anyhow::anyhow!("{msg}"))
    }

    pub fn usage(msg: impl std::fmt::Display) -> Self {
        CliError::new(Exit::Usage, anyhow::anyhow!("{msg}"))
    }

    pub fn access(msg: impl std::fmt::Display) -> Self {
        CliError::new(Exit::Access, anyhow::anyhow!("{msg}"))
    }
}

impl From<crate::net::client::ClientError> for CliError {
    fn from(e: crate::net::client::ClientError) -> Self {
        let exit = if e.is_access() {
            Exit::Access
        } else {
            Exit::Failed
        };
        CliError::new(exit, e)
    }
}

impl From<crate::config::client::EndpointError> for CliError {
    fn from(e: crate::config::client::EndpointError) -> Self {
        let exit = if e.is_access() {
            Exit::Access
        } else {
            Exit::Usage
        };
        CliError::new(exit, e)
    }
}

/// Prints `PROGRAM: error: CAUSE: CAUSE...` on one line of stderr.
pub fn report(program: &str, error: &anyhow::Error) {
    let text = format!("{error:#}").replace('\n', " ");
    eprintln!("{program}: error: {text}");
}
