//! Every rudderctl verb that works without controllers, against a real cluster,
//! compared with the real kubectl making the same call: reads in one namespace
//! both tools look at (same objects, so the very same text, ages masked), writes
//! in twin namespaces (one per tool, the namespace's name masked), and the error
//! paths with their exact lines and exit codes. Every difference is collected and
//! reported at once.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use super::*;

/// What legitimately differs between two tools' runs of one call: ages, the test's
/// temporary directory, the tool's own name in usage lines, and the twin
/// namespaces' names.
fn neutral(text: &str, dir: &Path) -> String {
    text.replace(dir.to_str().unwrap(), "DIR")
        .replace("twin-rudderctl", "NS")
        .replace("twin-kubectl", "NS")
        .replace("kubectl", "TOOL")
        .replace("rudderctl", "TOOL")
}

/// Runs and compares; differences go into `diffs`.
pub(super) struct Comparison<'a> {
    pub(super) cluster: &'a Cluster,
    pub(super) dir: &'a Path,
    pub(super) diffs: Vec<String>,
}

impl Comparison<'_> {
    /// The same call with each tool; exit code, stdout and stderr must be equal
    /// (tables compared column by column with ages masked, when `tables`).
    pub(super) fn same(&mut self, args: &[&str], tables: bool) -> Run {
        let ours = run(self.cluster, Tool::Rudderctl, args);
        let theirs = run(self.cluster, Tool::Kubectl, args);
        self.compare(&args.join(" "), &ours, &theirs, tables);
        ours
    }

    /// One call per tool, `{ns}` standing for each tool's twin namespace.
    fn twin(&mut self, args: &[&str], tables: bool) -> (Run, Run) {
        self.twin_with(args, tables, &[])
    }

    fn twin_with(&mut self, args: &[&str], tables: bool, env: &[(&str, &str)]) -> (Run, Run) {
        let mut runs = Vec::new();
        for tool in [Tool::Rudderctl, Tool::Kubectl] {
            let ns = twin(tool);
            let args: Vec<String> = args
                .iter()
                .map(|a| a.replace("{ns}", ns).replace("{tool}", tool_name(tool)))
                .collect();
            let args: Vec<&str> = args.iter().map(String::as_str).collect();
            runs.push(run_with(self.cluster, tool, &args, env));
        }
        let theirs = runs.pop().unwrap();
        let ours = runs.pop().unwrap();
        self.compare(&args.join(" "), &ours, &theirs, tables);
        (ours, theirs)
    }

    fn compare(&mut self, call: &str, ours: &Run, theirs: &Run, tables: bool) {
        let shape = |r: &Run| {
            let out = neutral(&r.stdout, self.dir);
            let err = neutral(&r.stderr, self.dir);
            if tables {
                (r.code, format!("{:?}", table(&out)), err)
            } else {
                (r.code, out, err)
            }
        };
        let (ours_shape, theirs_shape) = (shape(ours), shape(theirs));
        if ours_shape != theirs_shape {
            self.diffs.push(format!(
                "`{call}`:\n  rudderctl (exit {}):\n{}{}\n  kubectl (exit {}):\n{}{}",
                ours.code,
                indent(&ours.stdout),
                indent(&ours.stderr),
                theirs.code,
                indent(&theirs.stdout),
                indent(&theirs.stderr)
            ));
        }
    }

    /// Checks one expectation of our own, recorded like a difference.
    pub(super) fn expect(&mut self, what: &str, ok: bool, detail: &str) {
        if !ok {
            self.diffs.push(format!("{what}: {detail}"));
        }
    }
}

fn indent(text: &str) -> String {
    text.lines().map(|l| format!("    |{l}\n")).collect()
}

fn twin(tool: Tool) -> &'static str {
    match tool {
        Tool::Rudderctl => "twin-rudderctl",
        Tool::Kubectl => "twin-kubectl",
    }
}

fn tool_name(tool: Tool) -> &'static str {
    match tool {
        Tool::Rudderctl => "rudderctl",
        Tool::Kubectl => "kubectl",
    }
}

fn write(dir: &Path, name: &str, text: &str) -> String {
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path.to_str().unwrap().to_string()
}

const PODS: &str = "apiVersion: v1
kind: Pod
metadata:
  name: solo
  namespace: shared
  labels:
    app: solo
    tier: backend
spec:
  containers:
  - name: app
    image: nginx:1.25
    ports:
    - containerPort: 80
---
apiVersion: v1
kind: Pod
metadata:
  name: duo
  namespace: shared
  labels:
    app: duo
spec:
  containers:
  - name: main
    image: busybox:1.36
    command: [sleep, '3600']
  - name: sidecar
    image: busybox:1.36
    command: [sleep, '3600']
";

/// The first `n` lines a long-running command prints (a watch), then it is killed.
fn first_lines(cluster: &Cluster, tool: Tool, args: &[&str], n: usize) -> Vec<String> {
    let mut child = Command::new(program(tool))
        .arg("--kubeconfig")
        .arg(cluster.kubeconfig())
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut lines = Vec::new();
    while lines.len() < n && Instant::now() < deadline {
        if let Ok(line) = rx.recv_timeout(Duration::from_millis(100)) {
            lines.push(line);
        }
    }
    let _ = child.kill();
    let _ = child.wait();
    lines
}

#[test]
fn every_verb_prints_what_kubectl_prints() {
    let mut cluster = Cluster::up();
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let mut c = Comparison {
        cluster: &cluster,
        dir,
        diffs: Vec::new(),
    };

    // --- Reads: one namespace, the same objects for both tools. ---
    let shared = manifest("shared", "nginx:1.25");
    let shared_file = write(dir, "shared.yaml", &shared);
    let pods_file = write(dir, "pods.yaml", PODS);
    ok(&cluster, Tool::Kubectl, &["create", "namespace", "shared"]);
    ok(&cluster, Tool::Kubectl, &["apply", "-f", &shared_file]);
    ok(&cluster, Tool::Kubectl, &["create", "-f", &pods_file]);
    // An event about `solo`, as a scheduler would record it: describe lists it.
    let solo: Value = serde_json::from_str(
        &ok(
            &cluster,
            Tool::Kubectl,
            &["-n", "shared", "get", "pod", "solo", "-o", "json"],
        )
        .stdout,
    )
    .unwrap();
    let created = solo["metadata"]["creationTimestamp"].as_str().unwrap();
    let event = format!(
        "apiVersion: v1
kind: Event
metadata:
  name: solo.scheduled
  namespace: shared
involvedObject:
  apiVersion: v1
  kind: Pod
  name: solo
  namespace: shared
  uid: {uid}
reason: FailedScheduling
message: '0/0 nodes are available: no nodes registered.'
type: Warning
source:
  component: default-scheduler
count: 3
firstTimestamp: \"{created}\"
lastTimestamp: \"{created}\"
",
        uid = solo["metadata"]["uid"].as_str().unwrap()
    );
    let event_file = write(dir, "event.yaml", &event);
    ok(&cluster, Tool::Kubectl, &["create", "-f", &event_file]);

    for args in [
        &["-n", "shared", "get", "pods"][..],
        &["-n", "shared", "get", "po", "-o", "wide"],
        &["-n", "shared", "get", "deploy,svc,cm"],
        &["-n", "shared", "get", "pods", "--show-labels"],
        &["-n", "shared", "get", "pods", "-l", "app=solo"],
        &[
            "-n",
            "shared",
            "get",
            "pods",
            "-l",
            "app in (solo,duo),tier!=backend",
        ],
        &[
            "-n",
            "shared",
            "get",
            "pods",
            "--field-selector",
            "metadata.name=duo",
        ],
        &["get", "deploy", "-A"],
        &["get", "ns"],
        &["-n", "shared", "get", "pod", "solo", "duo"],
    ] {
        c.same(args, true);
    }
    for args in [
        &["-n", "shared", "get", "deploy", "web", "-o", "yaml"][..],
        &["-n", "shared", "get", "svc", "web", "-o", "json"],
        &["-n", "shared", "get", "pods", "-o", "yaml"],
        &["-n", "shared", "get", "cm", "web-config", "-o", "yaml"],
        &["-n", "shared", "get", "cm", "web-config", "-o", "json"],
        &[
            "-n",
            "shared",
            "get",
            "cm",
            "web-config",
            "-o",
            "jsonpath={.data}",
        ],
        &["-n", "shared", "get", "deploy,svc,pods", "-o", "name"],
        &[
            "-n",
            "shared",
            "get",
            "pods",
            "-o",
            "jsonpath={.items[*].metadata.name}",
        ],
        &[
            "-n",
            "shared",
            "get",
            "pod",
            "duo",
            "-o",
            "jsonpath={range .spec.containers[*]}{.name}={.image}{\"\\n\"}{end}",
        ],
        &[
            "-n",
            "shared",
            "get",
            "pods",
            "-o",
            "custom-columns=NAME:.metadata.name,IMAGE:.spec.containers[0].image,PHASE:.status.phase",
        ],
        &["-n", "shared", "get", "pods", "-l", "app=none"],
        &[
            "-n", "shared", "get", "pods", "-l", "app=none", "-o", "name",
        ],
    ] {
        c.same(args, false);
    }
    let mask_created = |text: &str| -> String {
        text.lines()
            .filter(|l| !l.starts_with("CreationTimestamp:") && !l.starts_with("Start Time:"))
            .map(|l| format!("{l}\n"))
            .collect()
    };
    // Events: the same columns as kubectl's (the API server's Table).
    c.same(&["-n", "shared", "get", "events"], true);
    c.same(&["-n", "shared", "get", "events", "-o", "wide"], true);
    for (args, ordered) in [
        (&["-n", "shared", "describe", "pod", "solo"][..], true),
        (&["-n", "shared", "describe", "pod", "duo"], true),
        (&["-n", "shared", "describe", "svc", "web"], true),
        // kubectl walks a ConfigMap's data in Go's random map order.
        (&["-n", "shared", "describe", "cm", "web-config"], false),
        (&["-n", "shared", "describe", "deploy", "web"], true),
        (&["describe", "ns", "shared"], true),
    ] {
        let ours = ok(&cluster, Tool::Rudderctl, args);
        let theirs = ok(&cluster, Tool::Kubectl, args);
        let shape = |text: &str| {
            let mut rows = table(&mask_created(text));
            if !ordered {
                rows.sort();
            }
            rows
        };
        let (o, t) = (shape(&ours.stdout), shape(&theirs.stdout));
        if o != t {
            c.diffs.push(format!(
                "`{}`:\n  rudderctl:\n{}\n  kubectl:\n{}",
                args.join(" "),
                indent(&ours.stdout),
                indent(&theirs.stdout)
            ));
        }
    }
    let described = ok(
        &cluster,
        Tool::Rudderctl,
        &["-n", "shared", "describe", "pod", "solo"],
    );
    c.expect(
        "describe shows the pod's event",
        described.stdout.contains("Warning  FailedScheduling")
            && described
                .stdout
                .contains("0/0 nodes are available: no nodes registered."),
        &described.stdout,
    );

    // `get -w`: the list's lines first, as kubectl prints them.
    let watched = [Tool::Rudderctl, Tool::Kubectl]
        .map(|tool| first_lines(&cluster, tool, &["-n", "shared", "get", "pods", "-w"], 3));
    let watched = watched.map(|lines| table(&(lines.join("\n") + "\n")));
    c.expect(
        "get -w prints the list first, as kubectl",
        watched[0] == watched[1] && watched[0].len() == 3,
        &format!("{watched:?}"),
    );

    // Discovery, version and kubeconfig verbs.
    c.same(&["api-resources"], true);
    c.same(
        &["api-resources", "--namespaced=false", "-o", "name"],
        false,
    );
    let versions = [Tool::Rudderctl, Tool::Kubectl].map(|tool| ok(&cluster, tool, &["version"]));
    let server_line = |r: &Run| {
        r.stdout
            .lines()
            .find(|l| l.starts_with("Server Version: "))
            .map(str::to_string)
    };
    c.expect(
        "version prints the server's version as kubectl",
        server_line(&versions[0]).is_some()
            && server_line(&versions[0]) == server_line(&versions[1]),
        &format!("{versions:?}"),
    );
    c.expect(
        "version prints the client's version first",
        versions[0].stdout.starts_with("Client Version: v"),
        &versions[0].stdout,
    );
    c.same(&["config", "view"], false);
    c.same(&["config", "current-context"], false);
    c.same(&["config", "get-contexts"], false);

    // --- Writes: twin namespaces, one per tool. ---
    for tool in [Tool::Rudderctl, Tool::Kubectl] {
        ok(&cluster, tool, &["create", "namespace", twin(tool)]);
        for (name, text) in [
            ("app", manifest(twin(tool), "nginx:1.25")),
            (
                "cm",
                format!(
                    "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: extra\n  namespace: {}\n  labels:\n    role: extra\ndata:\n  a: \"1\"\n",
                    twin(tool)
                ),
            ),
            (
                "bad",
                format!(
                    "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: bad\n  namespace: {}\nspec:\n  replicas: -1\n  selector:\n    matchLabels:\n      app: bad\n  template:\n    metadata:\n      labels:\n        app: other\n    spec:\n      containers:\n      - name: c\n        image: nginx\n",
                    twin(tool)
                ),
            ),
            (
                "widget",
                format!(
                    "apiVersion: example.com/v1\nkind: Widget\nmetadata:\n  name: w\n  namespace: {}\n",
                    twin(tool)
                ),
            ),
        ] {
            write(dir, &format!("{}-{name}.yaml", twin(tool)), &text);
        }
    }
    let file = |name: &str| format!("{}/{{ns}}-{name}.yaml", dir.to_str().unwrap());
    let (app, cm, bad, widget) = (file("app"), file("cm"), file("bad"), file("widget"));
    let (created, _) = c.twin(&["apply", "-f", &app], false);
    c.expect(
        "apply creates",
        created.stdout.contains("deployment.apps/web created"),
        &created.stdout,
    );
    c.twin(&["apply", "-f", &app], false);
    c.twin(&["create", "-f", &cm], false);
    // AlreadyExists, the invalid manifest and the unknown kind: exact error lines.
    let (exists, _) = c.twin(&["create", "-f", &cm], false);
    c.expect(
        "create of an existing object fails",
        exists.code == 1 && exists.stderr.contains("(AlreadyExists)"),
        &format!("{exists:?}"),
    );
    let (invalid, _) = c.twin(&["create", "-f", &bad], false);
    c.expect(
        "an invalid object is refused",
        invalid.code == 1
            && invalid
                .stderr
                .starts_with("The Deployment \"bad\" is invalid: \n* "),
        &format!("{invalid:?}"),
    );
    // Broken YAML: the same first words; the parser's own wording after them is
    // Go's yaml library's in kubectl, libyaml's here.
    let broken = write(
        dir,
        "broken.yaml",
        "apiVersion: v1\nkind: ConfigMap\nmetadata: [\n",
    );
    let parse_errors = [Tool::Rudderctl, Tool::Kubectl]
        .map(|tool| run(&cluster, tool, &["create", "-f", &broken]));
    let prefix = format!("error: error parsing {broken}: ");
    c.expect(
        "broken YAML is an `error parsing` line and exit 1, as kubectl",
        parse_errors
            .iter()
            .all(|r| r.code == 1 && r.stdout.is_empty() && r.stderr.starts_with(&prefix))
            && parse_errors[0].stderr.lines().count() == 1,
        &format!("{parse_errors:?}"),
    );
    // An unknown kind: kubectl validates against the OpenAPI document, then says what
    // rudderctl does (`resource mapping not found ... ensure CRDs are installed first`).
    let unknown = [
        run(
            &cluster,
            Tool::Rudderctl,
            &["apply", "-f", &widget.replace("{ns}", "twin-rudderctl")],
        ),
        run(
            &cluster,
            Tool::Kubectl,
            &["apply", "-f", &widget.replace("{ns}", "twin-kubectl")],
        ),
    ];
    c.compare("apply -f widget.yaml", &unknown[0], &unknown[1], false);
    c.same(&["get", "widgets"], false);
    c.same(&["get", "pods", "--bogus"], false);
    // kubectl lists its printers, Go templates included, which rudderctl has not.
    let printers = [Tool::Rudderctl, Tool::Kubectl]
        .map(|tool| run(&cluster, tool, &["get", "pods", "-o", "bogus"]));
    c.expect(
        "an unknown -o is refused as kubectl",
        printers.iter().all(|r| {
            r.code == 1
                && r.stderr.starts_with(
                    "error: unable to match a printer suitable for the output format \"bogus\", allowed formats are: custom-columns,",
                )
        }),
        &format!("{printers:?}"),
    );
    c.same(&["get"], false);
    // Without --kubeconfig before it: kubectl takes a word after flags for a plugin.
    let bogus = [Tool::Rudderctl, Tool::Kubectl]
        .map(|tool| outcome(Command::new(program(tool)).arg("bogus").output().unwrap()));
    c.compare("bogus", &bogus[0], &bogus[1], false);
    c.same(&["-n", "shared", "describe", "pod", "nope"], false);
    c.same(&["-n", "shared", "delete", "pod", "nope"], false);
    c.same(
        &["-n", "shared", "scale", "deploy", "nope", "--replicas=1"],
        false,
    );
    c.same(&["-n", "shared", "logs", "nope"], false);
    c.same(&["-n", "shared", "rollout", "status", "deploy/nope"], false);

    for args in [
        &["-n", "{ns}", "scale", "deploy", "web", "--replicas=3"][..],
        &["-n", "{ns}", "scale", "deploy/web", "--replicas=3"],
        &["-n", "{ns}", "label", "deploy", "web", "tier=frontend"],
        &["-n", "{ns}", "label", "deploy", "web", "tier=backend"],
        &[
            "-n",
            "{ns}",
            "label",
            "deploy",
            "web",
            "tier=backend",
            "--overwrite",
        ],
        &["-n", "{ns}", "label", "cm", "--all", "swept=yes"],
        &["-n", "{ns}", "label", "deploy", "web", "tier-"],
        &["-n", "{ns}", "annotate", "cm", "web-config", "note=x"],
        &["-n", "{ns}", "annotate", "cm", "web-config", "note=y"],
        &[
            "-n",
            "{ns}",
            "annotate",
            "cm",
            "-l",
            "role=extra",
            "owner=me",
        ],
    ] {
        c.twin(args, false);
    }
    c.twin(&["-n", "{ns}", "get", "cm", "--show-labels"], true);

    // edit: the editor changes the file; then one that changes nothing.
    let editor = write(
        dir,
        "editor.sh",
        "#!/bin/sh\nsed -i 's/log-level: info/log-level: debug/' \"$1\"\n",
    );
    std::process::Command::new("chmod")
        .args(["+x", &editor])
        .status()
        .unwrap();
    c.twin_with(
        &["-n", "{ns}", "edit", "cm", "web-config"],
        false,
        &[("EDITOR", &editor)],
    );
    c.twin_with(
        &["-n", "{ns}", "edit", "cm", "web-config"],
        false,
        &[("EDITOR", "true")],
    );
    c.twin(
        &[
            "-n",
            "{ns}",
            "get",
            "cm",
            "web-config",
            "-o",
            "jsonpath={.data}",
        ],
        false,
    );

    // Rollout history and undo over ReplicaSets made as the deployment controller
    // would: owned by the deployment, with its revision annotation.
    for tool in [Tool::Rudderctl, Tool::Kubectl] {
        let ns = twin(tool);
        let deployment: Value = serde_json::from_str(
            &ok(
                &cluster,
                Tool::Kubectl,
                &["-n", ns, "get", "deploy", "web", "-o", "json"],
            )
            .stdout,
        )
        .unwrap();
        let uid = deployment["metadata"]["uid"].as_str().unwrap();
        for (revision, image, hash) in [(1, "nginx:1.24", "aaa1"), (2, "nginx:1.25", "bbb2")] {
            let rs = format!(
                "apiVersion: apps/v1
kind: ReplicaSet
metadata:
  name: web-{hash}
  namespace: {ns}
  labels: {{app: web, pod-template-hash: {hash}}}
  annotations:
    deployment.kubernetes.io/revision: \"{revision}\"
  ownerReferences:
  - apiVersion: apps/v1
    kind: Deployment
    name: web
    uid: {uid}
    controller: true
    blockOwnerDeletion: true
spec:
  replicas: 0
  selector:
    matchLabels: {{app: web, pod-template-hash: {hash}}}
  template:
    metadata:
      labels: {{app: web, pod-template-hash: {hash}}}
    spec:
      containers:
      - name: web
        image: {image}
        ports:
        - containerPort: 8080
          name: http
"
            );
            let rs_file = write(dir, &format!("{ns}-rs{revision}.yaml"), &rs);
            ok(&cluster, Tool::Kubectl, &["create", "-f", &rs_file]);
        }
    }
    c.twin(
        &["-n", "{ns}", "rollout", "history", "deployment/web"],
        false,
    );
    c.twin(
        &[
            "-n",
            "{ns}",
            "rollout",
            "history",
            "deployment/web",
            "--revision=1",
        ],
        false,
    );
    c.twin(
        &[
            "-n",
            "{ns}",
            "rollout",
            "history",
            "deployment/web",
            "--revision=7",
        ],
        false,
    );
    c.twin(
        &[
            "-n",
            "{ns}",
            "rollout",
            "undo",
            "deployment/web",
            "--to-revision=1",
        ],
        false,
    );
    c.twin(
        &[
            "-n",
            "{ns}",
            "rollout",
            "undo",
            "deployment/web",
            "--to-revision=9",
        ],
        false,
    );
    c.twin(
        &[
            "-n",
            "{ns}",
            "get",
            "deploy",
            "web",
            "-o",
            "jsonpath={.spec.template.spec.containers[0].image}",
        ],
        false,
    );
    c.twin(&["-n", "{ns}", "rollout", "pause", "deployment/web"], false);
    c.twin(
        &["-n", "{ns}", "rollout", "resume", "deployment/web"],
        false,
    );

    // rollout status follows a deployment no controller moves, until its timeout.
    let (status, _) = c.twin(
        &[
            "-n",
            "{ns}",
            "rollout",
            "status",
            "deployment/web",
            "--timeout=2s",
        ],
        false,
    );
    c.expect(
        "rollout status times out with kubectl's line",
        status.code == 1 && status.stderr == "error: timed out waiting for the condition\n",
        &format!("{status:?}"),
    );
    // On a terminal (a pty from util-linux's script) the wait draws a progress line;
    // on a pipe (above) nothing extra is printed.
    let on_terminal = Command::new("script")
        .args(["-qec"])
        .arg(format!(
            "{RUDDERCTL} --kubeconfig {} -n twin-rudderctl rollout status deployment/web --timeout=2s",
            cluster.kubeconfig().display()
        ))
        .arg("/dev/null")
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let screen = String::from_utf8_lossy(&on_terminal.stdout);
    c.expect(
        "rollout status draws a progress line on a terminal",
        screen.contains("\r\x1b[K⠋ waiting for deployment \"web\" rollout to finish (0s)")
            && screen.contains("\r\x1b[K⠙ waiting for deployment \"web\" rollout to finish (")
            && !status.stdout.contains('\x1b'),
        &format!("{screen:?}"),
    );

    // delete --wait on an object a finalizer holds: kubectl's timeout line, and on a
    // terminal the progress line while rudderctl waits.
    for tool in [Tool::Rudderctl, Tool::Kubectl] {
        let held = write(
            dir,
            &format!("{}-held.yaml", twin(tool)),
            &format!(
                "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: held\n  namespace: {}\n  finalizers: [example.com/hold]\n",
                twin(tool)
            ),
        );
        ok(&cluster, Tool::Kubectl, &["create", "-f", &held]);
    }
    let (held, _) = c.twin(
        &["-n", "{ns}", "delete", "cm", "held", "--timeout=2s"],
        false,
    );
    c.expect(
        "delete --wait times out on a held object",
        held.code == 1
            && held.stderr == "error: timed out waiting for the condition on configmaps/held\n",
        &format!("{held:?}"),
    );
    let on_terminal = Command::new("script")
        .args(["-qec"])
        .arg(format!(
            "{RUDDERCTL} --kubeconfig {} -n twin-rudderctl delete cm held --timeout=1s",
            cluster.kubeconfig().display()
        ))
        .arg("/dev/null")
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let screen = String::from_utf8_lossy(&on_terminal.stdout);
    c.expect(
        "delete --wait draws a progress line on a terminal",
        screen.contains("\r\x1b[K⠋ waiting for configmap/held to be deleted (0s)"),
        &format!("{screen:?}"),
    );
    for tool in [Tool::Rudderctl, Tool::Kubectl] {
        ok(
            &cluster,
            Tool::Kubectl,
            &[
                "-n",
                twin(tool),
                "patch",
                "cm",
                "held",
                "--type=merge",
                "-p",
                "{\"metadata\":{\"finalizers\":null}}",
            ],
        );
    }

    // delete: by name, by file, by selector, everything.
    c.twin(&["-n", "{ns}", "delete", "cm", "web-config"], false);
    c.twin(&["-n", "{ns}", "delete", "cm", "web-config"], false);
    c.twin(
        &[
            "-n",
            "{ns}",
            "delete",
            "cm",
            "web-config",
            "--ignore-not-found",
        ],
        false,
    );
    c.twin(&["delete", "-f", &cm], false);
    c.twin(&["apply", "-f", &cm], false);
    c.twin(&["-n", "{ns}", "delete", "cm", "-l", "role=extra"], false);
    c.twin(&["-n", "{ns}", "delete", "rs", "--all"], false);
    c.twin(&["-n", "{ns}", "delete", "rs", "--all"], false);
    c.twin(&["delete", "-f", &app], false);
    c.twin(&["-n", "{ns}", "get", "all"], false);

    let diffs = std::mem::take(&mut c.diffs);
    cluster.down();
    assert_no_differences(&diffs);
}

/// Fails with every difference collected, at once.
pub(super) fn assert_no_differences(diffs: &[String]) {
    assert!(
        diffs.is_empty(),
        "{} difference(s) from kubectl:\n\n{}",
        diffs.len(),
        diffs.join("\n")
    );
}

/// `config use-context` on a kubeconfig with two contexts, each tool on its own copy.
#[test]
fn config_use_context_switches_as_kubectl() {
    let tmp = tempfile::tempdir().unwrap();
    let config = "apiVersion: v1
kind: Config
clusters:
- name: a
  cluster:
    server: https://127.0.0.1:1
- name: b
  cluster:
    server: https://127.0.0.1:2
users:
- name: u
  user:
    token: secret-token
contexts:
- name: ctx-a
  context:
    cluster: a
    user: u
- name: ctx-b
  context:
    cluster: b
    user: u
    namespace: team
current-context: ctx-a
";
    let mut outputs = Vec::new();
    for tool in [Tool::Rudderctl, Tool::Kubectl] {
        let path = tmp.path().join(format!("{}.conf", tool_name(tool)));
        std::fs::write(&path, config).unwrap();
        let call = |args: &[&str]| {
            let out = Command::new(program(tool))
                .arg("--kubeconfig")
                .arg(&path)
                .args(args)
                .output()
                .unwrap();
            (
                out.status.code(),
                String::from_utf8_lossy(&out.stdout).into_owned(),
                String::from_utf8_lossy(&out.stderr)
                    .replace("kubectl", "TOOL")
                    .replace("rudderctl", "TOOL"),
            )
        };
        outputs.push(vec![
            call(&["config", "use-context", "ctx-b"]),
            call(&["config", "current-context"]),
            call(&["config", "view", "--minify"]),
            call(&["config", "get-contexts"]),
            call(&["config", "use-context", "nope"]),
            call(&["config", "view"]),
        ]);
    }
    assert_eq!(outputs[0], outputs[1], "rudderctl (left) vs kubectl");
    assert_eq!(outputs[0][0].1, "Switched to context \"ctx-b\".\n");
}
