//! `-f` input as kubectl reads it: files, directories (`.yaml`, `.yml`, `.json`;
//! every level with `-R`), `-` for stdin; multi-document YAML, JSON objects one
//! after another, and `List`s (`kind: List` or any `*List` with `items`) expanded
//! into their items. Errors name the file (and the line, from the YAML parser).

use std::path::{Path, PathBuf};

use rudder_api::resource::{self, ResourceInfo};
use serde::Deserialize;
use serde_json::Value;

use crate::session::Io;

/// One object read from a manifest, with where it came from.
#[derive(Debug, Clone, PartialEq)]
pub struct Manifest {
    /// The file name as given (or `STDIN`), for messages.
    pub source: String,
    /// The object.
    pub object: Value,
}

/// What can go wrong reading manifests, worded as kubectl's.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum ManifestError {
    /// A path that does not exist.
    #[error("the path \"{0}\" does not exist")]
    Missing(String),
    /// A file that could not be read.
    #[error("error reading {0}: {1}")]
    Read(String, String),
    /// Text that is neither YAML nor JSON objects.
    #[error("error parsing {0}: {1}")]
    Parse(String, String),
    /// An object without apiVersion or kind.
    #[error(
        "error validating \"{0}\": error validating data: [{1}]; if you choose to ignore these errors, turn validation off with --validate=false"
    )]
    Invalid(String, String),
    /// A kind the server does not serve.
    #[error(
        "resource mapping not found for name: \"{name}\" namespace: \"{namespace}\" from \"{file}\": no matches for kind \"{kind}\" in version \"{version}\"\nensure CRDs are installed first"
    )]
    UnknownKind {
        /// The object's name.
        name: String,
        /// The object's namespace.
        namespace: String,
        /// The file.
        file: String,
        /// Its kind.
        kind: String,
        /// Its apiVersion.
        version: String,
    },
    /// `-f` given nothing.
    #[error("must specify one of -f and -k")]
    NoFiles,
}

/// Reads every `-f` argument in order.
pub fn read(
    filenames: &[String],
    recursive: bool,
    io: &mut Io,
) -> Result<Vec<Manifest>, ManifestError> {
    if filenames.is_empty() {
        return Err(ManifestError::NoFiles);
    }
    let mut manifests = Vec::new();
    for name in filenames {
        if name == "-" {
            let text = io
                .read_stdin()
                .map_err(|e| ManifestError::Read("STDIN".to_string(), e.to_string()))?;
            manifests.extend(parse(&text, "STDIN")?);
            continue;
        }
        let path = Path::new(name);
        if !path.exists() {
            return Err(ManifestError::Missing(name.clone()));
        }
        let files = if path.is_dir() {
            let mut files = Vec::new();
            walk(path, recursive, &mut files)
                .map_err(|e| ManifestError::Read(name.clone(), e.to_string()))?;
            files
        } else {
            vec![path.to_path_buf()]
        };
        for file in files {
            let source = file.display().to_string();
            let text = std::fs::read_to_string(&file)
                .map_err(|e| ManifestError::Read(source.clone(), e.to_string()))?;
            manifests.extend(parse(&text, &source)?);
        }
    }
    Ok(manifests)
}

/// Manifest files of a directory, sorted; subdirectories only when `recursive`.
fn walk(dir: &Path, recursive: bool, out: &mut Vec<PathBuf>) -> std::io::Result<()> {
    let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .collect();
    entries.sort();
    for entry in entries {
        if entry.is_dir() {
            if recursive {
                walk(&entry, recursive, out)?;
            }
        } else if matches!(
            entry.extension().and_then(|e| e.to_str()),
            Some("yaml" | "yml" | "json")
        ) {
            out.push(entry);
        }
    }
    Ok(())
}

/// Parses one file's text into objects, Lists expanded, empty documents skipped.
pub fn parse(text: &str, source: &str) -> Result<Vec<Manifest>, ManifestError> {
    let parse_err = |e: String| ManifestError::Parse(source.to_string(), e);
    let mut documents = Vec::new();
    let trimmed = text.trim_start();
    if trimmed.starts_with('{') || trimmed.starts_with('[') {
        for value in serde_json::Deserializer::from_str(text).into_iter::<Value>() {
            match value.map_err(|e| parse_err(e.to_string()))? {
                Value::Array(items) => documents.extend(items),
                other => documents.push(other),
            }
        }
    } else {
        for document in serde_norway::Deserializer::from_str(text) {
            let value = Value::deserialize(document).map_err(|e| parse_err(e.to_string()))?;
            documents.push(value);
        }
    }
    let mut manifests = Vec::new();
    for document in documents {
        expand(document, source, &mut manifests)?;
    }
    Ok(manifests)
}

fn expand(document: Value, source: &str, out: &mut Vec<Manifest>) -> Result<(), ManifestError> {
    match document {
        Value::Null => Ok(()),
        Value::Object(ref map) => {
            let kind = map.get("kind").and_then(Value::as_str).unwrap_or_default();
            if kind.ends_with("List") && map.get("items").is_some_and(Value::is_array) {
                if let Some(Value::Array(items)) = map.get("items") {
                    for item in items.clone() {
                        expand(item, source, out)?;
                    }
                }
                return Ok(());
            }
            let mut missing = Vec::new();
            if map
                .get("apiVersion")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .is_empty()
            {
                missing.push("apiVersion not set");
            }
            if kind.is_empty() {
                missing.push("kind not set");
            }
            if !missing.is_empty() {
                return Err(ManifestError::Invalid(
                    source.to_string(),
                    missing.join(", "),
                ));
            }
            out.push(Manifest {
                source: source.to_string(),
                object: document,
            });
            Ok(())
        }
        _ => Err(ManifestError::Parse(
            source.to_string(),
            "a document is not an object".to_string(),
        )),
    }
}

impl Manifest {
    /// `metadata.name`.
    pub fn name(&self) -> &str {
        self.object
            .pointer("/metadata/name")
            .and_then(Value::as_str)
            .unwrap_or_default()
    }

    /// `metadata.namespace`, if set.
    pub fn namespace(&self) -> Option<&str> {
        self.object
            .pointer("/metadata/namespace")
            .and_then(Value::as_str)
            .filter(|n| !n.is_empty())
    }

    /// The served resource of the object's apiVersion and kind.
    pub fn resource(&self) -> Result<&'static ResourceInfo, ManifestError> {
        let api_version = self.object["apiVersion"].as_str().unwrap_or_default();
        let kind = self.object["kind"].as_str().unwrap_or_default();
        resource::by_api_version_kind(api_version, kind).ok_or_else(|| ManifestError::UnknownKind {
            name: self.name().to_string(),
            namespace: self.namespace().unwrap_or_default().to_string(),
            file: self.source.clone(),
            kind: kind.to_string(),
            version: api_version.to_string(),
        })
    }

    /// The namespace the object goes to: its own, else the session's; an explicit
    /// `-n` that disagrees with the object's is an error, as in kubectl.
    pub fn target_namespace(
        &self,
        info: &ResourceInfo,
        default: &str,
        explicit: Option<&str>,
    ) -> anyhow::Result<Option<String>> {
        if !info.namespaced {
            return Ok(None);
        }
        match (self.namespace(), explicit) {
            (Some(own), Some(flag)) if own != flag => anyhow::bail!(
                "the namespace from the provided object \"{own}\" does not match the namespace \"{flag}\". You must pass '--namespace={own}' to perform this operation."
            ),
            (Some(own), _) => Ok(Some(own.to_string())),
            (None, _) => Ok(Some(default.to_string())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn multi_document_yaml_skips_empty_documents_and_expands_lists() {
        let text = "---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: a\n---\n---\napiVersion: v1\nkind: List\nitems:\n- apiVersion: v1\n  kind: Secret\n  metadata:\n    name: b\n";
        let manifests = parse(text, "x.yaml").unwrap();
        let names: Vec<_> = manifests
            .iter()
            .map(|m| (m.object["kind"].clone(), m.name().to_string()))
            .collect();
        assert_eq!(
            names,
            [
                (json!("ConfigMap"), "a".to_string()),
                (json!("Secret"), "b".to_string())
            ]
        );
    }

    #[test]
    fn json_streams_and_json_lists() {
        let text = r#"{"apiVersion":"v1","kind":"Pod","metadata":{"name":"a"}}
{"apiVersion":"v1","kind":"PodList","items":[{"apiVersion":"v1","kind":"Pod","metadata":{"name":"b"}}]}"#;
        let names: Vec<_> = parse(text, "p.json")
            .unwrap()
            .iter()
            .map(|m| m.name().to_string())
            .collect();
        assert_eq!(names, ["a", "b"]);
    }

    #[test]
    fn errors_name_the_file_and_line() {
        let err = parse("apiVersion: v1\nkind: Pod\n  bad: [\n", "bad.yaml").unwrap_err();
        let text = err.to_string();
        assert!(text.starts_with("error parsing bad.yaml: "), "{text}");
        assert!(text.contains("line"), "{text}");
        assert_eq!(
            parse("metadata:\n  name: x\n", "m.yaml")
                .unwrap_err()
                .to_string(),
            "error validating \"m.yaml\": error validating data: [apiVersion not set, kind not set]; if you choose to ignore these errors, turn validation off with --validate=false"
        );
        let widget = parse(
            "apiVersion: example.com/v1\nkind: Widget\nmetadata:\n  name: w\n",
            "w.yaml",
        )
        .unwrap();
        assert_eq!(
            widget[0].resource().unwrap_err().to_string(),
            "resource mapping not found for name: \"w\" namespace: \"\" from \"w.yaml\": no matches for kind \"Widget\" in version \"example.com/v1\"\nensure CRDs are installed first"
        );
        assert!(parse("- 1\n- 2\n", "l.yaml").is_err());
        assert!(parse("{", "b.json").is_err());
    }

    #[test]
    fn directories_recurse_only_with_r() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("a.yaml"),
            "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: a\n",
        )
        .unwrap();
        std::fs::write(dir.path().join("notes.txt"), "not a manifest").unwrap();
        std::fs::create_dir(dir.path().join("sub")).unwrap();
        std::fs::write(
            dir.path().join("sub/b.json"),
            r#"{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"b"}}"#,
        )
        .unwrap();
        let (mut io, _, _) = Io::captured("", 0);
        let arg = vec![dir.path().display().to_string()];
        assert_eq!(read(&arg, false, &mut io).unwrap().len(), 1);
        assert_eq!(read(&arg, true, &mut io).unwrap().len(), 2);
        assert_eq!(
            read(&["nope.yaml".to_string()], false, &mut io)
                .unwrap_err()
                .to_string(),
            "the path \"nope.yaml\" does not exist"
        );
        let (mut io, _, _) =
            Io::captured("apiVersion: v1\nkind: Namespace\nmetadata:\n  name: x\n", 0);
        assert_eq!(
            read(&["-".to_string()], false, &mut io).unwrap()[0].source,
            "STDIN"
        );
    }
}
