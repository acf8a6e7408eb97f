//! The public saga API over `request_to`: a user-defined resource applied to
//! every node all-or-nothing.

mod common;

use cluster_client::testkit::TestCluster;
use cluster_client::{Error, Saga};

#[test]
fn a_user_resource_is_applied_everywhere_or_nowhere() {
    let nodes = TestCluster::start(3).unwrap();
    let client = common::fast_client(&nodes);
    let hosts = client.cluster_management().nodes();
    let path = "/v1/resource/account/carol";
    let run = |client: &cluster_client::ClusterClient| -> Result<(), (String, usize)> {
        let mut saga: Saga<'_, String> = Saga::new("account carol");
        for h in &hosts {
            let r = saga.step("put", |comp| {
                let a = client
                    .request_to(h, "PUT", path, Some(b"{}"))
                    .map_err(|e| e.to_string())?;
                if a.status == 201 {
                    comp.push("delete", move || {
                        client
                            .request_to(h, "DELETE", path, None)
                            .map(|_| ())
                            .map_err(|e| e.to_string())
                    });
                    Ok(())
                } else {
                    Err(format!("status {}", a.status))
                }
            });
            if let Err(e) = r {
                let failed = saga.compensate().len();
                return Err((e, failed));
            }
        }
        saga.complete();
        Ok(())
    };
    nodes.node(2).fail_next("PUT", 1, 409);
    let (err, rollback_failures) = run(&client).unwrap_err();
    assert_eq!(err, "status 409");
    assert_eq!(rollback_failures, 0);
    assert!((0..3).all(|i| nodes.node(i).resource("account", "carol").is_none()));
    run(&client).unwrap();
    assert!((0..3).all(|i| nodes.node(i).resource("account", "carol").is_some()));
    let stranger = "http://127.0.0.1:1".parse().unwrap();
    assert!(matches!(
        client.request_to(&stranger, "GET", "/", None),
        Err(Error::UnknownHost(_))
    ));
    assert!(matches!(
        client.request("G T", "/", None),
        Err(Error::InvalidRequest(_))
    ));
    assert!(matches!(
        client.request("GET", "no-slash", None),
        Err(Error::InvalidRequest(_))
    ));
}
