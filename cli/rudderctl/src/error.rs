//! How failures reach the terminal: kubectl prints a server's Status as
//! `Error from server (NotFound): pods "x" not found` and everything else as
//! `error: ...`, one line on stderr, exit code 1.

use rudder_client::Error as ClientError;

/// An error already printed (one of several objects failed); only the exit code
/// is left to set.
#[derive(Debug, thiserror::Error)]
#[error("failed")]
pub struct Reported;

/// The exit code and the line to print for a command's error (None: already shown).
pub fn exit_code_and_message(err: &anyhow::Error) -> (i32, Option<String>) {
    if err.downcast_ref::<Reported>().is_some() {
        return (crate::EXIT_FAILURE, None);
    }
    (crate::EXIT_FAILURE, Some(error_line(err)))
}

/// One error as kubectl prints it.
pub fn error_line(err: &anyhow::Error) -> String {
    if let Some(client) = err.downcast_ref::<ClientError>() {
        return client_error_line(client);
    }
    format!("error: {err:#}")
}

/// A client error as kubectl prints it: server Statuses as they are, others with
/// `error: `.
pub fn client_error_line(err: &ClientError) -> String {
    match err {
        ClientError::Api(_) => err.to_string(),
        ClientError::Transient(t) if !t.not_processed => err.to_string(),
        ClientError::InvalidRequest(message) => format!("error: {message}"),
        other => format!("error: {other}"),
    }
}

/// kubectl's wording when an object-level write fails: the Status reason, then
/// `error when creating "file": <message>`.
pub fn when_error(err: &anyhow::Error, verb: &str, source: &str) -> String {
    match err.downcast_ref::<ClientError>() {
        Some(ClientError::Api(server)) => format!(
            "Error from server ({}): error when {verb} \"{source}\": {}",
            server.reason(),
            server.message()
        ),
        _ => error_line(err),
    }
}
