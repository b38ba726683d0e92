//! The fake Api server of `rudder_testkit` (feature `fake-api`), and running
//! rudderctl in-process against it.

pub use rudder_testkit::fake_api::*;

/// Runs rudderctl in-process against a [`FakeApiServer`].
pub trait RunRudderctl {
    /// rudderctl with `args` (no program name) against this server, with `stdin` as
    /// input and the clock at `now`: (exit code, stdout, stderr).
    async fn rudderctl_at(&self, args: &[&str], stdin: &str, now: i64) -> (i32, String, String);

    /// [`RunRudderctl::rudderctl_at`] one minute after [`CREATED`], without stdin.
    async fn rudderctl(&self, args: &[&str]) -> (i32, String, String) {
        self.rudderctl_at(args, "", T0 + 60).await
    }
}

impl RunRudderctl for FakeApiServer {
    async fn rudderctl_at(&self, args: &[&str], stdin: &str, now: i64) -> (i32, String, String) {
        let (mut io, out, err) = rudderctl::Io::captured(stdin, now);
        let mut argv = vec![
            "rudderctl".to_string(),
            "--kubeconfig".to_string(),
            self.kubeconfig.display().to_string(),
        ];
        argv.extend(args.iter().map(|a| a.to_string()));
        let code = rudderctl::main_with(argv, &mut io).await;
        (code, out.text(), err.text())
    }
}
