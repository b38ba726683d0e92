//! The command line: kubectl's global flags and one subcommand per file under
//! `commands/`.

use clap::error::{ContextKind, ContextValue, ErrorKind};
use clap::{Args, Parser, Subcommand};

use crate::commands;

/// rudderctl controls a Rudder cluster, as kubectl controls Kubernetes.
#[derive(Debug, Parser)]
#[command(
    name = "rudderctl",
    version,
    disable_help_subcommand = true,
    arg_required_else_help = true
)]
pub struct Cli {
    /// Flags every command takes.
    #[command(flatten)]
    pub global: GlobalArgs,
    /// The verb.
    #[command(subcommand)]
    pub command: Command,
}

/// kubectl's global flags.
#[derive(Debug, Clone, Default, Args)]
pub struct GlobalArgs {
    /// Path to the kubeconfig file to use for CLI requests.
    #[arg(long, global = true, value_name = "PATH")]
    pub kubeconfig: Option<std::path::PathBuf>,
    /// The name of the kubeconfig context to use.
    #[arg(long, global = true)]
    pub context: Option<String>,
    /// If present, the namespace scope for this CLI request.
    #[arg(short = 'n', long, global = true)]
    pub namespace: Option<String>,
    /// The length of time to wait before giving up on a single server request
    /// (`0` waits as long as the client's default, `1s`, `2m`, `3h`).
    #[arg(long, global = true, default_value = "0")]
    pub request_timeout: String,
}

/// The verbs.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Display one or many resources.
    Get(commands::get::GetArgs),
    /// Create a resource from a file or from stdin.
    Create(commands::create::CreateArgs),
    /// Apply a configuration to a resource by file name or stdin.
    Apply(commands::apply::ApplyArgs),
    /// Delete resources by file names, stdin, resources and names, or by resources and label selector.
    Delete(commands::delete::DeleteArgs),
    /// Set a new size for a deployment or replica set.
    Scale(commands::scale::ScaleArgs),
    /// Update the labels on a resource.
    Label(commands::label::LabelArgs),
    /// Update the annotations on a resource.
    Annotate(commands::label::LabelArgs),
    /// Show details of a specific resource or group of resources.
    Describe(commands::describe::DescribeArgs),
    /// Edit a resource on the server in $EDITOR.
    Edit(commands::edit::EditArgs),
    /// Print the logs for a container in a pod.
    Logs(commands::logs::LogsArgs),
    /// Manage the rollout of a deployment.
    Rollout(commands::rollout::RolloutArgs),
    /// Print the supported API resources on the server.
    ApiResources(commands::api_resources::ApiResourcesArgs),
    /// Get documentation for a resource.
    Explain(commands::explain::ExplainArgs),
    /// Modify kubeconfig files.
    Config(commands::config::ConfigArgs),
    /// Print the client and server version information.
    Version(commands::version::VersionArgs),
}

/// Parses a kubectl duration (`0`, `30s`, `2m`, `1h`, `500ms`); `0` means none.
pub fn parse_duration(text: &str) -> Result<Option<std::time::Duration>, String> {
    let text = text.trim();
    if text == "0" || text.is_empty() {
        return Ok(None);
    }
    let split = text
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let value: f64 = number
        .parse()
        .map_err(|_| format!("invalid duration {text:?}"))?;
    let seconds = match unit {
        "" | "s" => value,
        "ms" => value / 1000.0,
        "m" => value * 60.0,
        "h" => value * 3600.0,
        _ => return Err(format!("invalid duration {text:?}")),
    };
    if !(0.0..1e9).contains(&seconds) {
        return Err(format!("invalid duration {text:?}"));
    }
    Ok(Some(std::time::Duration::from_secs_f64(seconds)).filter(|d| !d.is_zero()))
}

/// The verb a command line names (None when it names none), for usage lines: the
/// first word that is neither a flag nor a global flag's value.
pub fn verb_of(args: &[std::ffi::OsString]) -> Option<String> {
    const TAKE_VALUES: [&str; 5] = [
        "--kubeconfig",
        "--context",
        "-n",
        "--namespace",
        "--request-timeout",
    ];
    let mut words = args
        .iter()
        .skip(1)
        .map(|a| a.to_string_lossy().into_owned());
    while let Some(word) = words.next() {
        if TAKE_VALUES.contains(&word.as_str()) {
            words.next();
        } else if !word.starts_with('-') {
            use clap::CommandFactory;
            return Cli::command()
                .get_subcommands()
                .any(|c| c.get_name() == word)
                .then_some(word);
        }
    }
    None
}

/// A clap failure as kubectl words usage errors: one `error:` line, then where to
/// find help (the verb's help when a verb was named).
pub fn usage_error(err: &clap::Error, verb: Option<&str>) -> String {
    let invalid = || match err.get(ContextKind::InvalidArg) {
        Some(ContextValue::String(s)) => s.clone(),
        _ => String::new(),
    };
    let line = match err.kind() {
        ErrorKind::UnknownArgument => {
            let arg = invalid();
            let flag = arg.split('=').next().unwrap_or_default().to_string();
            if flag.starts_with("--") {
                format!("unknown flag: {flag}")
            } else if let Some(short) = flag.strip_prefix('-') {
                format!(
                    "unknown shorthand flag: '{}' in {flag}",
                    short.chars().next().unwrap_or('-')
                )
            } else {
                format!("unknown command \"{arg}\" for \"rudderctl\"")
            }
        }
        ErrorKind::InvalidSubcommand => {
            let name = match err.get(ContextKind::InvalidSubcommand) {
                Some(ContextValue::String(s)) => s.clone(),
                _ => invalid(),
            };
            return unknown_command(&name);
        }
        _ => {
            let rendered = err.render().to_string();
            rendered
                .lines()
                .next()
                .unwrap_or_default()
                .trim_start_matches("error: ")
                .to_string()
        }
    };
    let help = verb.map_or("rudderctl --help".to_string(), |v| {
        format!("rudderctl {v} --help")
    });
    format!("error: {line}\nSee '{help}' for usage.\n")
}

/// kubectl's (cobra's) answer to an unknown verb: the verbs within two edits of it,
/// or starting with it, as suggestions.
fn unknown_command(name: &str) -> String {
    use clap::CommandFactory;
    let typed = name.to_lowercase();
    let suggestions: Vec<String> = Cli::command()
        .get_subcommands()
        .map(|c| c.get_name().to_string())
        .filter(|verb| edit_distance(&typed, verb) <= 2 || verb.starts_with(&typed))
        .collect();
    let mut text = format!("Error: unknown command \"{name}\" for \"rudderctl\"\n");
    if !suggestions.is_empty() {
        text.push_str("\nDid you mean this?\n");
        for verb in suggestions {
            text.push_str(&format!("\t{verb}\n"));
        }
        text.push('\n');
    }
    text
}

/// Levenshtein distance of two words.
fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut previous: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut current = vec![i + 1];
        for (j, cb) in b.iter().enumerate() {
            let substitute = previous[j] + usize::from(ca != *cb);
            current.push(substitute.min(previous[j + 1] + 1).min(current[j] + 1));
        }
        previous = current;
    }
    previous[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn durations_parse_as_kubectl() {
        assert_eq!(parse_duration("0").unwrap(), None);
        assert_eq!(
            parse_duration("30s").unwrap(),
            Some(Duration::from_secs(30))
        );
        assert_eq!(
            parse_duration("2m").unwrap(),
            Some(Duration::from_secs(120))
        );
        assert_eq!(parse_duration("5").unwrap(), Some(Duration::from_secs(5)));
        assert_eq!(
            parse_duration("500ms").unwrap(),
            Some(Duration::from_millis(500))
        );
        assert!(parse_duration("soon").is_err());
        assert!(parse_duration("-1s").is_err());
    }

    #[test]
    fn the_command_line_is_consistent() {
        use clap::CommandFactory;
        Cli::command().debug_assert();
    }

    #[test]
    fn usage_errors_are_kubectl_lines() {
        let args: Vec<std::ffi::OsString> = ["rudderctl", "-n", "get", "get", "pods", "--bogus"]
            .iter()
            .map(Into::into)
            .collect();
        let err = Cli::try_parse_from(&args).unwrap_err();
        assert_eq!(
            usage_error(&err, verb_of(&args).as_deref()),
            "error: unknown flag: --bogus\nSee 'rudderctl get --help' for usage.\n"
        );
        let err = Cli::try_parse_from(["rudderctl", "bogus"]).unwrap_err();
        assert_eq!(
            usage_error(&err, None),
            "Error: unknown command \"bogus\" for \"rudderctl\"\n\nDid you mean this?\n\tlogs\n\n"
        );
    }
}
