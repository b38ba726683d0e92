//! Three real `rudder-store` processes replicating over the mTLS raft transport.

mod common;

use std::time::Duration;

use common::Cluster;
use etcd_client::{Compare, CompareOp, GetOptions, Txn, TxnOp, TxnOpResponse};
use serde_json::Value;

fn json(out: &str) -> Value {
    serde_json::from_str(out).unwrap_or_else(|e| panic!("not json ({e}): {out}"))
}

#[test]
fn three_members_elect_a_leader_and_followers_forward_writes() {
    let mut c = Cluster::new(3);
    c.start();
    let leader = c.leader();
    let followers: Vec<usize> = (0..3).filter(|i| *i != leader).collect();
    // writes through followers are forwarded to the leader
    for (n, f) in followers.iter().enumerate() {
        let out = c.members[*f].must(&["put", &format!("k{n}"), &format!("from-{f}")]);
        assert_eq!(out.trim(), "OK");
    }
    // a linearizable read on any member sees every acknowledged write
    for m in &c.members {
        let v = json(&m.must(&["get", "--prefix", "k", "-w", "json"]));
        assert_eq!(v["count"], 2, "{}: {v}", m.name);
    }
    // every member publishes its name and client URLs, as etcd's do
    let named = |v: &Value| {
        let mut seen: Vec<(String, String)> = v["members"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|mem| {
                let url = mem["clientURLs"][0].as_str().unwrap_or_default();
                (
                    mem["name"].as_str().unwrap_or_default().to_string(),
                    url.to_string(),
                )
            })
            .collect();
        seen.sort();
        seen
    };
    let expected: Vec<(String, String)> = c
        .members
        .iter()
        .map(|m| (m.name.clone(), m.endpoint()))
        .collect();
    assert_eventually!(
        named(&json(&c.members[0].must(&["member", "list", "-w", "json"]))) == expected,
        Duration::from_secs(20),
        "members never published themselves: {}",
        c.members[0].must(&["member", "list", "-w", "json"])
    );

    // MemberUpdate: a second peer URL for a follower; replication goes on
    let f = followers[0];
    let id = format!("{:x}", member_id(&c.members[f]));
    let second = format!("https://127.0.0.1:{}", common::free_port());
    let urls = format!("{},{second}", c.members[f].peer_url());
    let out = c.members[leader].must(&["member", "update", &id, &format!("--peer-urls={urls}")]);
    assert!(out.contains("updated in cluster"), "{out}");
    let v = json(&c.members[f].must(&["member", "list", "-w", "json"]));
    let updated = v["members"]
        .as_array()
        .and_then(|ms| {
            ms.iter()
                .find(|mem| mem["name"] == c.members[f].name.as_str())
        })
        .unwrap_or_else(|| panic!("{v}"));
    assert_eq!(updated["peerURLs"][1], second.as_str(), "{v}");
    c.members[f].must(&["put", "after-update", "1"]);
    assert_eq!(
        c.members[f].must(&["get", "after-update", "--print-value-only"]),
        "1\n"
    );
    let missing = c.members[leader].etcdctl(&[
        "member",
        "update",
        "1234",
        "--peer-urls=https://127.0.0.1:1",
    ]);
    assert!(
        String::from_utf8_lossy(&missing.stderr).contains("member not found"),
        "{}",
        String::from_utf8_lossy(&missing.stderr)
    );
}

/// The member id etcdctl reports for `m`.
fn member_id(m: &common::Member) -> u64 {
    let v = json(&m.must(&["endpoint", "status", "-w", "json"]));
    v[0]["Status"]["header"]["member_id"]
        .as_u64()
        .unwrap_or_else(|| panic!("no member id: {v}"))
}

#[test]
fn killing_the_leader_elects_a_new_one_and_it_rejoins() {
    let mut c = Cluster::new(3);
    c.start();
    let old = c.leader();
    c.members[old].must(&["put", "before", "1"]);
    c.members[old].kill();
    let new = c.leader();
    assert_ne!(new, old);
    c.members[new].must(&["put", "after", "2"]);
    c.members[old].start();
    // the old leader catches up, serving the write it missed
    let m = &c.members[old];
    assert_eventually!(
        m.etcdctl(&["get", "after", "--consistency=s", "--print-value-only"])
            .stdout
            == b"2\n",
        Duration::from_secs(20),
        "the old leader never caught up; log:\n{}",
        m.log()
    );
    assert_eq!(m.must(&["get", "before", "--print-value-only"]), "1\n");
}

#[test]
fn a_paused_leader_is_replaced_then_steps_down_and_catches_up() {
    let mut c = Cluster::new(3);
    c.start();
    let old = c.leader();
    c.members[old].must(&["put", "before", "0"]);
    c.members[old].pause();
    let others: Vec<usize> = (0..3).filter(|i| *i != old).collect();
    // the other two elect a leader among themselves and take writes; a write that fails while
    // they do is retried, and only acknowledged ones are counted
    let mut acked = Vec::new();
    for i in 0..10 {
        let (key, m) = (format!("p{i}"), &c.members[others[i % 2]]);
        assert_eventually!(
            m.etcdctl(&["put", &key, &i.to_string()]).status.success(),
            Duration::from_secs(30),
            "no write succeeded while the leader was paused; log:\n{}",
            m.log()
        );
        acked.push(key);
    }
    let new = c.members[others[0]].must(&["endpoint", "status", "-w", "json"]);
    let new_leader = json(&new)[0]["Status"]["leader"].as_u64().expect("leader");
    c.members[old].resume();
    // the old leader learns of the new term, follows, and has every acknowledged write
    let m = &c.members[old];
    assert_eventually!(
        m.etcdctl(&["endpoint", "status", "-w", "json"])
            .status
            .success()
            && json(&m.must(&["endpoint", "status", "-w", "json"]))[0]["Status"]["leader"].as_u64()
                == Some(new_leader),
        Duration::from_secs(20),
        "the old leader never followed the new one; log:\n{}",
        m.log()
    );
    let held = || -> Vec<String> {
        let out = m.etcdctl(&["get", "--prefix", "p", "--consistency=s", "--keys-only"]);
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .filter(|l| !l.is_empty())
            .map(String::from)
            .collect()
    };
    assert_eventually!(
        acked.iter().all(|key| held().contains(key)),
        Duration::from_secs(20),
        "the old leader lost acknowledged writes: it holds {:?} of {acked:?}",
        held()
    );
    assert_eq!(m.must(&["get", "before", "--print-value-only"]), "0\n");
}

#[test]
fn acknowledged_writes_survive_kill_9_of_every_member() {
    let mut c = Cluster::new(3);
    c.start();
    for i in 0..30 {
        let m = &c.members[i % 3];
        m.must(&["put", &format!("d{i:02}"), &i.to_string()]);
    }
    for m in &mut c.members {
        m.kill();
    }
    c.start();
    for m in &c.members {
        let v = json(&m.must(&["get", "--prefix", "d", "-w", "json"]));
        assert_eq!(v["count"], 30, "{}: {v}", m.name);
    }
}

#[test]
fn a_member_added_at_runtime_catches_up_from_a_snapshot() {
    let mut c = Cluster::with_spares(3, 1);
    for m in &mut c.members {
        // snapshots (and log purges) every few entries, so the newcomer needs one
        m.extra_args.push("--snapshot-count=5".into());
    }
    c.start();
    for i in 0..40 {
        c.members[i % 3].must(&["put", &format!("s{i:02}"), &i.to_string()]);
    }
    let peer = c.members[3].peer_url();
    let added = c.members[0].must(&[
        "member",
        "add",
        "m3",
        &format!("--peer-urls={peer}"),
        "--learner",
    ]);
    assert!(added.contains("added to cluster"), "{added}");
    let newcomer = &mut c.members[3];
    newcomer.cluster_state = "existing";
    newcomer.initial_cluster = format!("{},m3={peer}", newcomer.initial_cluster);
    newcomer.spawn();
    let m = &c.members[3];
    assert_eventually!(
        m.etcdctl(&[
            "get",
            "--prefix",
            "s",
            "--consistency=s",
            "--print-value-only"
        ])
        .stdout
        .split(|b| *b == b'\n')
        .filter(|l| !l.is_empty())
        .count()
            == 40,
        Duration::from_secs(30),
        "the added member never caught up; log:\n{}",
        m.log()
    );
    assert!(
        m.log().contains("installed snapshot"),
        "no snapshot was installed:\n{}",
        m.log()
    );

    let list = json(&c.members[0].must(&["member", "list", "-w", "json"]));
    let learner = list["members"]
        .as_array()
        .expect("members")
        .iter()
        .find(|mem| mem["isLearner"] == true)
        .unwrap_or_else(|| panic!("no learner in {list}"))["ID"]
        .as_u64()
        .expect("id");
    // the newcomer published its name and client URLs once it started
    let newcomer_listed = |list: &Value| {
        list["members"].as_array().into_iter().flatten().any(|mem| {
            mem["ID"] == learner
                && mem["name"] == "m3"
                && mem["clientURLs"][0] == c.members[3].endpoint().as_str()
        })
    };
    assert_eventually!(
        newcomer_listed(&json(&c.members[0].must(&["member", "list", "-w", "json"]))),
        Duration::from_secs(20),
        "the added member never published itself: {}",
        c.members[0].must(&["member", "list", "-w", "json"])
    );
    let promoted = c.members[1].must(&["member", "promote", &format!("{learner:x}")]);
    assert!(promoted.contains("promoted"), "{promoted}");
    let list = json(&c.members[2].must(&["member", "list", "-w", "json"]));
    let members = list["members"].as_array().expect("members");
    assert_eq!(members.len(), 4, "{list}");
    assert!(members.iter().all(|mem| mem["isLearner"] != true), "{list}");
    // the new voter serves linearizable reads, and can leave again
    c.members[3].wait_healthy();
    let removed = c.members[0].must(&["member", "remove", &format!("{learner:x}")]);
    assert!(removed.contains("removed from cluster"), "{removed}");
    let list = json(&c.members[1].must(&["member", "list", "-w", "json"]));
    assert_eq!(list["members"].as_array().map(Vec::len), Some(3), "{list}");
}

#[test]
fn a_watch_across_a_leader_change_sees_every_event_once_in_order() {
    use std::io::{BufRead, BufReader};
    use std::process::Stdio;

    let mut c = Cluster::new(3);
    c.start();
    let leader = c.leader();
    let watcher = (leader + 1) % 3;
    let writer = (leader + 2) % 3;
    let mut child = c.members[watcher]
        .etcdctl_cmd(&["watch", "--prefix", "ev/", "--rev", "1"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("etcdctl watch");
    let stdout = child.stdout.take().expect("stdout");
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { return };
            if tx.send(line).is_err() {
                return;
            }
        }
    });
    for i in 0..10 {
        c.members[writer].must(&["put", &format!("ev/{i:02}"), "x"]);
    }
    c.members[leader].kill();
    let new = c.leader();
    assert_ne!(new, leader);
    for i in 10..20 {
        c.members[writer].must(&["put", &format!("ev/{i:02}"), "x"]);
    }
    let mut keys = Vec::new();
    while keys.len() < 20 {
        let line = rx
            .recv_timeout(Duration::from_secs(15))
            .unwrap_or_else(|_| panic!("watch stalled after {keys:?}"));
        if line.starts_with("ev/") {
            keys.push(line);
        }
    }
    let want: Vec<String> = (0..20).map(|i| format!("ev/{i:02}")).collect();
    assert_eq!(keys, want);
    // nothing more: no event came twice
    while let Ok(line) = rx.recv_timeout(Duration::from_millis(500)) {
        assert!(!line.starts_with("ev/"), "a repeated event: {line}");
    }
    let _ = child.kill();
    let _ = child.wait();
}

#[test]
fn a_kept_alive_lease_survives_a_leader_change() {
    let mut c = Cluster::new(3);
    c.start();
    let leader = c.leader();
    let follower = (leader + 1) % 3;
    // etcdctl's keep-alive gives up when no renewal lands within one TTL, and a leader
    // change on a loaded 2-core machine running six 3-member clusters at once can take
    // seconds: the TTL leaves room for that, the window below is still twice the TTL.
    let granted = c.members[follower].must(&["lease", "grant", "8"]);
    let id = granted
        .split_whitespace()
        .nth(1)
        .expect("lease id")
        .to_string();
    c.members[follower].must(&["put", "--lease", &id, "owned", "v"]);
    let mut keeper = c.members[follower]
        .etcdctl_cmd(&["lease", "keep-alive", &id])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("etcdctl lease keep-alive");
    c.members[leader].kill();
    assert_ne!(c.leader(), leader);
    // twice the TTL after the leader died, the kept-alive lease still holds its key
    let until = std::time::Instant::now() + Duration::from_secs(16);
    while std::time::Instant::now() < until {
        let out =
            c.members[follower].etcdctl(&["get", "owned", "--consistency=s", "--print-value-only"]);
        assert_eq!(
            out.stdout, b"v\n",
            "the lease expired across the leader change"
        );
        std::thread::sleep(Duration::from_millis(250));
    }
    let _ = keeper.kill();
    let _ = keeper.wait();
    // without keep-alives it expires on the new leader's clock
    let m = &c.members[follower];
    assert_eventually!(
        m.must(&["get", "owned"]).is_empty(),
        Duration::from_secs(20),
        "the lease never expired after keep-alives stopped"
    );
}

/// Linearizable reads are served by read index, not through the log: a read through any
/// member, started after a write through another was acknowledged, must see that write.
/// Read-only txns too. Each write goes through one member and is read back at once through
/// the next, followers included, with no pause in between.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_linearizable_read_on_another_member_sees_every_acknowledged_write() {
    let mut c = Cluster::new(3);
    c.start();
    let mut clients = Vec::new();
    for m in &c.members {
        clients.push(m.client(true).await.expect("connect"));
    }
    for n in 0..60usize {
        let value = format!("v{n}");
        let written = clients[n % 3]
            .put("fresh", value.as_str(), None)
            .await
            .expect("put")
            .header()
            .expect("header")
            .revision();
        let reader = &mut clients[(n + 1) % 3];
        let got = reader.get("fresh", None).await.expect("get");
        assert_eq!(
            got.kvs()[0].value_str().ok(),
            Some(value.as_str()),
            "get #{n}"
        );
        assert!(got.header().expect("header").revision() >= written);
        let txn = Txn::new()
            .when([Compare::mod_revision(
                "fresh",
                CompareOp::Greater,
                written - 1,
            )])
            .and_then([TxnOp::get("fresh", None)]);
        let resp = reader.txn(txn).await.expect("read-only txn");
        assert!(
            resp.succeeded(),
            "txn #{n} saw an older revision than {written}"
        );
        let Some(TxnOpResponse::Get(get)) = resp.op_responses().into_iter().next() else {
            panic!("txn #{n} answered no range");
        };
        assert_eq!(
            get.kvs()[0].value_str().ok(),
            Some(value.as_str()),
            "txn #{n}"
        );
    }
}

/// Concurrent writes through every member are batched into shared raft entries on the
/// leader; each must still get its own revision and its own answer, as if proposed alone.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_writes_get_distinct_revisions_and_their_own_answers() {
    let mut c = Cluster::new(3);
    c.start();
    let mut writers = tokio::task::JoinSet::new();
    for (i, m) in c.members.iter().enumerate() {
        let client = m.client(true).await.expect("connect");
        for w in 0..40usize {
            let mut client = client.clone();
            writers.spawn(async move {
                let key = format!("batch/{i}/{w}");
                let resp = client
                    .put(key.as_str(), key.as_str(), None)
                    .await
                    .expect("put");
                (key, resp.header().expect("header").revision())
            });
        }
    }
    let mut revisions = std::collections::BTreeMap::new();
    while let Some(done) = writers.join_next().await {
        let (key, revision) = done.expect("writer");
        assert!(
            revisions.insert(revision, key.clone()).is_none(),
            "two writes answered revision {revision}"
        );
    }
    let mut reader = c.members[0].client(true).await.expect("connect");
    let all = reader
        .get("batch/", Some(GetOptions::new().with_prefix()))
        .await
        .expect("get");
    assert_eq!(all.kvs().len(), revisions.len());
    for kv in all.kvs() {
        let key = kv.key_str().expect("utf-8 key");
        assert_eq!(kv.value_str().ok(), Some(key));
        assert_eq!(
            revisions.get(&kv.mod_revision()).map(String::as_str),
            Some(key)
        );
    }
}
