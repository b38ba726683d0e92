//! `explain` against a real cluster, beside the real kubectl: both read the API
//! server's OpenAPI v3 document (rudderctl through the `Api` service's `OpenApiV3`
//! call, kubectl through REST `/openapi/v3`) and must print the very same text,
//! errors and exit codes included.

use super::every_verb::{Comparison, assert_no_differences};
use super::*;

#[test]
fn explain_prints_what_kubectl_prints() {
    let mut cluster = Cluster::up();
    let dir = cluster.dir.clone();
    let mut c = Comparison {
        cluster: &cluster,
        dir: &dir,
        diffs: Vec::new(),
    };
    for args in [
        &["explain", "pods"][..],
        &["explain", "pods.spec.containers"],
        &["explain", "deploy.spec.strategy"],
        &["explain", "deployments.apps.spec.replicas"],
        &["explain", "svc", "--recursive"],
        &["explain", "po.spec.containers.ports", "--recursive"],
        &["explain", "cm.data"],
        &["explain", "deploy", "--api-version=apps/v1"],
    ] {
        let run = c.same(args, false);
        c.expect(
            &args.join(" "),
            run.code == 0 && run.stdout.contains("DESCRIPTION:\n"),
            &run.stderr,
        );
    }
    // Error paths: an unknown type (kubectl prints that one without `error: `), an
    // unknown field (kubectl names the last one of the path), a group-version the
    // server does not serve.
    for args in [
        &["explain", "widgets"][..],
        &["explain", "pods.spec.nope"],
        &["explain", "pods.spec.nope.deeper"],
        &["explain", "deploy", "--api-version=apps/v2"],
    ] {
        let run = c.same(args, false);
        c.expect(&args.join(" "), run.code == 1, "exit code 1");
    }
    let diffs = std::mem::take(&mut c.diffs);
    cluster.down();
    assert_no_differences(&diffs);
}
