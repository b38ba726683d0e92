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
        ClientError::Api(server) => invalid_lines(server).unwrap_or_else(|| err.to_string()),
        ClientError::Transient(t) if !t.not_processed => err.to_string(),
        ClientError::InvalidRequest(message) => format!("error: {message}"),
        other => format!("error: {other}"),
    }
}

/// kubectl's wording when an object-level write fails: the Status reason, then
/// `error when creating "file": <message>`.
pub fn when_error(err: &anyhow::Error, verb: &str, source: &str) -> String {
    match err.downcast_ref::<ClientError>() {
        // An Invalid status is printed from its causes; the file is not named.
        Some(ClientError::Api(server)) if invalid_lines(server).is_some() => {
            invalid_lines(server).unwrap_or_default()
        }
        Some(ClientError::Api(server)) => format!(
            "Error from server ({}): error when {verb} \"{source}\": {}",
            server.reason(),
            server.message()
        ),
        _ => error_line(err),
    }
}

/// kubectl's rendering of a 422 Invalid status: `The Kind "name" is invalid: ` and
/// the field causes (one on the same line, several as `* field: message` lines).
pub fn invalid_lines(server: &rudder_client::ServerError) -> Option<String> {
    if server.reason() != "Invalid" {
        return None;
    }
    let details = server.status.details.as_ref()?;
    let kind = details.kind.as_deref().unwrap_or_default();
    let name = details.name.as_deref().unwrap_or_default();
    let prefix = if kind.is_empty() && name.is_empty() {
        "The request is invalid: ".to_string()
    } else {
        format!("The {kind} \"{name}\" is invalid: ")
    };
    let causes: Vec<String> = details
        .causes
        .iter()
        .flatten()
        .map(|c| {
            format!(
                "{}: {}",
                c.field.as_deref().unwrap_or_default(),
                c.message.as_deref().unwrap_or_default()
            )
        })
        .collect();
    Some(match causes.as_slice() {
        [] => format!("{prefix}{}", server.message()),
        [one] => format!("{prefix}{one}"),
        many => format!(
            "{prefix}\n{}",
            many.iter()
                .map(|c| format!("* {c}"))
                .collect::<Vec<_>>()
                .join("\n")
        ),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Status, StatusCause, StatusDetails};

    fn invalid(causes: &[(&str, &str)]) -> rudder_client::ServerError {
        rudder_client::ServerError {
            status: Status {
                code: Some(422),
                reason: Some("Invalid".into()),
                message: Some("Deployment.apps \"bad\" is invalid: [...]".into()),
                details: Some(StatusDetails {
                    kind: Some("Deployment".into()),
                    name: Some("bad".into()),
                    causes: Some(
                        causes
                            .iter()
                            .map(|(f, m)| StatusCause {
                                field: Some(f.to_string()),
                                message: Some(m.to_string()),
                                ..Default::default()
                            })
                            .collect(),
                    ),
                    ..Default::default()
                }),
                ..Default::default()
            },
        }
    }

    #[test]
    fn invalid_objects_are_told_field_by_field_as_kubectl() {
        assert_eq!(
            invalid_lines(&invalid(&[(
                "spec.replicas",
                "Invalid value: -1: must be greater than or equal to 0"
            )]))
            .unwrap(),
            "The Deployment \"bad\" is invalid: spec.replicas: Invalid value: -1: must be greater than or equal to 0"
        );
        assert_eq!(
            invalid_lines(&invalid(&[("a", "x"), ("b", "y")])).unwrap(),
            "The Deployment \"bad\" is invalid: \n* a: x\n* b: y"
        );
    }
}
