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
