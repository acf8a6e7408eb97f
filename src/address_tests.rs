//! Host addresses, host lists, group ids and path segments.
use super::*;

#[test]
fn normalises() {
    let a = HostAddress::parse(" HTTP://LocalHost:8000/ ").unwrap();
    assert_eq!(a.as_str(), "http://localhost:8000");
    assert_eq!(
        HostAddress::parse("http://a:80").unwrap().as_str(),
        "http://a"
    );
    assert_eq!(HostAddress::parse("https://a").unwrap().port(), 443);
    let v6 = HostAddress::parse("http://[0:0::1]:9000").unwrap();
    assert_eq!(v6.as_str(), "http://[::1]:9000");
    assert_eq!(v6.ip(), Some("::1".parse().unwrap()));
}

#[test]
fn refuses_bad_hosts() {
    for bad in [
        "127.0.0.1:8000",
        "ftp://a",
        "http://",
        "http://a:0",
        "http://a:65536",
        "http://a:x",
        "http://a/path",
        "http://a?q=1",
        "http://a#f",
        "http://u:p@a:1",
        "http://::1:80",
        "http://[::1",
        "http://a b",
        "http://a..b",
    ] {
        assert!(
            matches!(HostAddress::parse(bad), Err(Error::InvalidHost { .. })),
            "{bad}"
        );
    }
}

#[test]
fn redacts_credentials() {
    let err = HostAddress::parse("http://user:s3cret@a:1").unwrap_err();
    assert!(!err.to_string().contains("s3cret"), "{err}");
    assert!(!format!("{err:?}").contains("s3cret"));
}

#[test]
fn list_parsing() {
    assert!(matches!(
        HostAddress::parse_list(" , "),
        Err(Error::NoHosts)
    ));
    assert!(matches!(
        HostAddress::parse_list("http://a:1,http://A:1/"),
        Err(Error::InvalidHost { .. })
    ));
    let l = HostAddress::parse_list("http://a:1, http://b:2,").unwrap();
    assert_eq!(l.len(), 2);
}

#[test]
fn ids_are_checked() {
    for bad in ["", ".", "..", "a/b", "a\\b", "a\u{0}b", "tab\there"] {
        assert!(validate_group_id(bad, false).is_err(), "{bad:?}");
    }
    assert!(validate_group_id(&"x".repeat(256), false).is_err());
    assert!(validate_group_id(&"x".repeat(255), false).is_ok());
    assert!(validate_group_id("a/b", true).is_ok());
    for good in [
        "example-group",
        "a b",
        "ü",
        "%2F",
        "a?b#c",
        "...",
        "\u{a0}",
        "日本",
    ] {
        assert!(validate_group_id(good, false).is_ok(), "{good:?}");
    }
}

#[test]
fn every_control_character_is_refused_and_named_before_a_slash() {
    let reason = |id: &str, allow_slash: bool| match validate_group_id(id, allow_slash) {
        Err(Error::InvalidGroupId { reason, .. }) => reason,
        other => panic!("{id:?}: {other:?}"),
    };
    for c in (0u32..=0x10ffff)
        .filter_map(char::from_u32)
        .filter(|c| c.is_control())
    {
        for id in [
            format!("{c}"),
            format!("a{c}"),
            format!("ü{c}/b"),
            format!("/{c}"),
        ] {
            assert!(reason(&id, true).contains("control"), "{id:?}");
            assert!(reason(&id, false).contains("control"), "{id:?}");
        }
    }
    assert!(reason("a\\b", false).contains("'/'"));
}

#[test]
fn segments_are_percent_encoded() {
    assert_eq!(encode_segment("a-b_c.d~e"), "a-b_c.d~e");
    assert_eq!(encode_segment("a b/%?#"), "a%20b%2F%25%3F%23");
    assert_eq!(encode_segment("ü"), "%C3%BC");
}

#[test]
fn an_address_equals_the_text_that_names_the_same_node() {
    let a = HostAddress::parse("http://127.0.0.1:8000").unwrap();
    assert_eq!(a, "http://127.0.0.1:8000");
    assert_eq!(a, "HTTP://127.0.0.1:8000/");
    assert_eq!(a, "http://127.0.0.1:8000".to_string());
    assert_eq!("http://127.0.0.1:8000", a);
    assert_eq!("http://127.0.0.1:8000".to_string(), a);
    assert_ne!(a, "http://127.0.0.1:8001");
    assert_ne!(a, "https://127.0.0.1:8000");
    assert_ne!(a, "not an address");
    assert_ne!(a, "");
}
