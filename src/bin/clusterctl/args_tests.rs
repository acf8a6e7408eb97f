use super::*;

fn parse(args: &[&str]) -> Result<Args, Usage> {
    parse_args(args.iter().map(OsString::from), None)
}

fn message(args: &[&str]) -> String {
    match parse(args) {
        Ok(a) => panic!("{args:?} parsed: {a:?}"),
        Err(Usage(m)) => m,
    }
}

#[test]
fn parses_commands_and_options_anywhere() {
    let a = parse(&["--hosts", "http://a:1", "group", "create", "g", "--json"]).expect("valid");
    assert!(a.json);
    assert_eq!(a.hosts, Some(vec!["http://a:1".to_string()]));
    assert!(matches!(a.command, Command::GroupCreate(ref id) if id == "g"));
    let a = parse(&["metrics", "--prometheus", "--timeout=1.5", "--retries", "1"]).expect("valid");
    assert!(matches!(a.command, Command::Metrics { prometheus: true }));
    assert_eq!(a.timeout, Some(Duration::from_millis(1500)));
    assert_eq!(a.retries, Some(1));
    let a = parse(&["admin", "maintenance", "off"]).expect("valid");
    assert!(matches!(
        a.command,
        Command::Admin(Admin::Maintenance(MaintenanceMode::Off))
    ));
    let a = parse(&["group", "verify", "--", "-odd"]).expect("valid");
    assert!(matches!(a.command, Command::GroupVerify(ref id) if id == "-odd"));
    assert!(matches!(
        parse(&["--help"]).map(|a| a.command),
        Ok(Command::Help)
    ));
    assert!(matches!(
        parse(&["-V"]).map(|a| a.command),
        Ok(Command::Version)
    ));
    let a = parse(&["request", "PUT", "/x", "--body", "-", "--api", "webdav"]).expect("valid");
    assert_eq!(a.api, Some(ApiPreset::Webdav));
    assert!(matches!(
        a.command,
        Command::Request { ref method, ref path, body: Some(BodySource::Stdin) }
            if method == "PUT" && path == "/x"
    ));
    let a = parse(&["nodes", "--round-trip", "--config", "c.toml"]).expect("valid");
    assert!(matches!(a.command, Command::Nodes { round_trip: true }));
    assert_eq!(a.config, Some(PathBuf::from("c.toml")));
    assert_eq!(a.resolver, None, "not given: the file's or the default");
}

#[test]
fn resolvers_by_the_config_file_names() {
    let r = |v: &str| {
        parse(&["--resolver", v, "request", "GET", "/"])
            .expect(v)
            .resolver
    };
    assert_eq!(r("round_robin"), Some(HostResolver::RoundRobin));
    assert_eq!(r("random"), Some(HostResolver::Random));
    assert_eq!(r("fallback"), Some(HostResolver::Fallback));
    assert_eq!(r("least_loaded"), Some(HostResolver::LeastLoaded));
    let a = parse(&["nodes", "--resolver=least_loaded"]).expect("valid");
    assert_eq!(a.resolver, Some(HostResolver::LeastLoaded));
    let m = message(&["--resolver", "fastest", "nodes"]);
    assert!(
        m.contains("--resolver") && m.contains("fastest") && m.contains("least_loaded"),
        "{m}"
    );
    assert!(parse(&["--resolver"]).is_err());
}

#[test]
fn humane_timeouts() {
    let t = |v: &str| parse(&["--timeout", v, "nodes"]).expect(v).timeout;
    assert_eq!(t("30"), Some(Duration::from_secs(30)));
    assert_eq!(t("30s"), Some(Duration::from_secs(30)));
    assert_eq!(t("250ms"), Some(Duration::from_millis(250)));
    assert_eq!(t("2m"), Some(Duration::from_secs(120)));
    assert_eq!(t("0.5"), Some(Duration::from_millis(500)));
}

#[test]
fn the_config_file_comes_from_the_environment_unless_given() {
    let env = Some(OsString::from("/etc/env.toml"));
    let a = parse_args(["nodes"].map(OsString::from), env.clone()).expect("valid");
    assert_eq!(a.config, Some(PathBuf::from("/etc/env.toml")));
    let a = parse_args(["--config", "mine.toml", "nodes"].map(OsString::from), env).expect("valid");
    assert_eq!(a.config, Some(PathBuf::from("mine.toml")));
    let a = parse_args(["nodes"].map(OsString::from), Some(OsString::new())).expect("valid");
    assert_eq!(a.config, None, "an empty variable is no file");
}

#[test]
fn messages_name_the_option_and_what_is_allowed() {
    let m = message(&["--timeout", "0", "nodes"]);
    assert!(
        m.contains("--timeout") && m.contains("more than zero"),
        "{m}"
    );
    assert!(!m.contains("between 0"), "{m}");
    let m = message(&["--timeout", "soon", "nodes"]);
    assert!(m.contains("--timeout") && m.contains("soon"), "{m}");
    let m = message(&["--timeout", "25h", "nodes"]);
    assert!(m.contains("24h"), "{m}");
    let m = message(&["--retries", "x", "nodes"]);
    assert!(m.contains("--retries") && m.contains("\"x\""), "{m}");
    let m = message(&["--hosts", "http://a:1,", "nodes"]);
    assert!(m.contains("--hosts") && m.contains("trailing comma"), "{m}");
    let m = message(&["--api", "webdev", "nodes"]);
    assert!(m.contains("--api") && m.contains("webdev"), "{m}");
}

#[test]
fn refuses_bad_usage() {
    for bad in [
        &[][..],
        &["group"],
        &["group", "create"],
        &["group", "create", "a", "b"],
        &["admin", "maintenance", "maybe"],
        &["admin", "version"],
        &["admin"],
        &["nodes", "extra"],
        &["request", "GET"],
        &["request", "GET", "/", "extra"],
        &["frobnicate"],
        &["--verbose", "nodes"],
        &["--timeout", "0", "nodes"],
        &["--timeout", "-1", "nodes"],
        &["--timeout", "x", "nodes"],
        &["--retries", "0", "nodes"],
        &["--retries", "101", "nodes"],
        &["--hosts"],
        &["--hosts", "http://a:1,,http://b:2", "nodes"],
        &["nodes", "--prometheus"],
        &["metrics", "--round-trip"],
        &["nodes", "--body", "f"],
    ] {
        assert!(parse(bad).is_err(), "{bad:?}");
    }
}
