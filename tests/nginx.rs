//! `GroupApi` proven on a real third-party server: nginx's WebDAV module as a
//! group store on three instances (`PUT /groups/<id>` 201 new / 204 there,
//! `GET` 200 / 404, `DELETE` 204 / 404). Skipped with a message when nginx is
//! not installed, except under `CI=true`, where a missing nginx fails.

mod support;

use std::time::Duration;

use cluster_client::{ClusterClient, Error, GroupApi, GroupEndpoint, HostAddress, RetryPolicy};
use support::nginx::{nginx_or_skip, Nginx};

fn dav_api() -> GroupApi {
    GroupApi {
        create: GroupEndpoint::new("PUT", "/groups/{id}", false, &[201], &[204]),
        verify: GroupEndpoint::new("GET", "/groups/{id}", false, &[200], &[404]),
        delete: GroupEndpoint::new("DELETE", "/groups/{id}", false, &[204], &[404]),
        allow_slash_in_id: false,
    }
}

#[test]
fn groups_on_three_nginx_webdav_instances() {
    let Some(bin) = nginx_or_skip("groups_on_three_nginx_webdav_instances") else {
        return;
    };
    let mut servers: Vec<Nginx> = (0..3).map(|i| Nginx::start(&bin, i)).collect();
    let client = ClusterClient::builder()
        .hosts(servers.iter().map(Nginx::url))
        .group_api(dav_api())
        .retry_policy(RetryPolicy::exponential(
            3,
            Duration::from_millis(5),
            Duration::from_millis(40),
        ))
        .connect_timeout(Duration::from_millis(500))
        .request_timeout(Duration::from_secs(2))
        .build()
        .unwrap();

    // Create, verify, create again (204: already there), delete.
    client.create_group("team-a").unwrap();
    assert!(servers.iter().all(|s| s.holds("team-a")));
    for s in &servers {
        let h: HostAddress = s.url().parse().unwrap();
        assert!(client.verify_group(&h, "team-a").unwrap());
        assert!(!client.verify_group(&h, "nobody").unwrap());
    }
    client.create_group("team-a").unwrap();
    assert!(client.delete_group("team-a").unwrap().is_empty());
    assert!(servers.iter().all(|s| !s.holds("team-a")));
    assert!(
        client.delete_group("team-a").unwrap().is_empty(),
        "404 = already gone"
    );

    // Ids are percent-encoded: a space and unicode survive as one file name.
    client.create_group("team b ü").unwrap();
    assert!(servers.iter().all(|s| s.holds("team b ü")));
    assert!(client.delete_group("team b ü").unwrap().is_empty());

    // Why '/' is refused by default: nginx decodes %2F and writes a nested path.
    let h0: HostAddress = servers[0].url().parse().unwrap();
    let r = client
        .request_to(&h0, "PUT", "/groups/x%2Fy", Some(b""))
        .unwrap();
    assert_eq!(r.status, 201);
    assert!(servers[0].dir.join("root/groups/x/y").exists());
    assert!(matches!(
        client.create_group("x/y"),
        Err(Error::InvalidGroupId { .. })
    ));

    // Rollback: one instance stopped mid-way.
    servers[2].stop();
    let err = client.create_group("team-c").unwrap_err();
    match err {
        Error::GroupOperation {
            failed_hosts,
            rollback_failed_hosts,
            possible_orphans,
            ..
        } => {
            assert_eq!(
                failed_hosts,
                vec![servers[2].url().parse::<HostAddress>().unwrap()]
            );
            assert!(rollback_failed_hosts.is_empty());
            assert!(possible_orphans.is_empty());
        }
        other => panic!("{other:?}"),
    }
    assert!(
        !servers[0].holds("team-c") && !servers[1].holds("team-c"),
        "rolled back"
    );
    let undeleted = client.delete_group("team-c").unwrap();
    assert_eq!(
        undeleted,
        vec![servers[2].url().parse::<HostAddress>().unwrap()]
    );
}

#[path = "support/nested.rs"]
mod nested;

/// One TOML file drives the library and the C ABI (`examples/ffi/groups.c`)
/// against three nginx WebDAV nodes, with the same results. (`tests/cli.rs`
/// drives `clusterctl` with such a file too.)
#[test]
fn one_config_file_drives_the_library_and_c_on_nginx() {
    let Some(bin) = nginx_or_skip("one_config_file_drives_the_library_and_c_on_nginx") else {
        return;
    };
    let servers: Vec<Nginx> = (0..3).map(|i| Nginx::start(&bin, 10 + i)).collect();
    let hosts: Vec<String> = servers.iter().map(|s| format!("{:?}", s.url())).collect();
    let config = nested::nested_dir().join(format!("nginx-{}.toml", std::process::id()));
    std::fs::create_dir_all(nested::nested_dir()).unwrap();
    std::fs::write(
        &config,
        format!(
            "hosts = [{}]\ngroup_api = \"webdav\"\n[retry]\nattempts = 2\ninitial_delay = \"10ms\"\n[timeouts]\noperation = \"5s\"\n",
            hosts.join(", ")
        ),
    )
    .unwrap();

    let client = ClusterClient::builder()
        .config_file(&config)
        .build()
        .unwrap();
    client.create_group("from-rust").unwrap();
    assert!(servers.iter().all(|s| s.holds("from-rust")));
    assert!(client.delete_group("from-rust").unwrap().is_empty());
    assert!(servers.iter().all(|s| !s.holds("from-rust")));

    if nested::skip_without("cc", "the C group tool cannot be compiled") {
        return;
    }
    let lib = nested::build_library();
    let src = std::path::Path::new(nested::MANIFEST_DIR).join("examples/ffi");
    let exe = lib.join("cluster_client_groups");
    let mut rpath = std::ffi::OsString::from("-Wl,-rpath,");
    rpath.push(&lib);
    let out = nested::run(
        std::process::Command::new("cc")
            .args(["-std=c11", "-Wall", "-Wextra", "-Werror", "-I"])
            .arg(&src)
            .arg(src.join("groups.c"))
            .arg("-L")
            .arg(&lib)
            .arg(rpath)
            .arg("-lcluster_client")
            .arg("-o")
            .arg(&exe),
    );
    assert!(out.status.success(), "{}", nested::text(&out.stderr));
    let tool = |op: &str| {
        nested::run(
            std::process::Command::new(&exe)
                .arg(&config)
                .arg(op)
                .arg("from-c"),
        )
    };
    let out = tool("create");
    assert!(out.status.success(), "{}", nested::text(&out.stdout));
    assert!(servers.iter().all(|s| s.holds("from-c")));
    let out = tool("verify");
    assert!(out.status.success(), "{}", nested::text(&out.stdout));
    assert_eq!(nested::text(&out.stdout).matches(" present").count(), 3);
    let out = tool("delete");
    assert_eq!(nested::text(&out.stdout).trim(), "deleted");
    assert!(servers.iter().all(|s| !s.holds("from-c")));
    let out = tool("verify");
    assert_eq!(out.status.code(), Some(1), "missing everywhere");
    let _ = std::fs::remove_file(&config);
}
