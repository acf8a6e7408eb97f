//! Shared test helper: nginx's WebDAV module on 127.0.0.1 as a
//! group store (`PUT /groups/<id>` 201 new / 204 there, `GET` 200 / 404,
//! `DELETE` 204 / 404), one temporary directory per instance.
#![allow(dead_code)] // each test file uses part of it

use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The nginx binary, or `None` when nginx is missing. Under `CI=true` a
/// missing nginx is a failure; elsewhere the caller skips with a message.
pub fn nginx_or_skip(test: &str) -> Option<PathBuf> {
    let bin = nginx_binary();
    if bin.is_none() {
        if std::env::var("CI").is_ok_and(|v| v == "true") {
            panic!("nginx is required under CI=true (.ci/run installs it)");
        }
        // Written to stderr directly, past the harness's capture, so the
        // skip shows in `cargo test` output.
        use std::io::Write as _;
        let _ = writeln!(
            std::io::stderr(),
            "SKIPPED {test}: nginx is not installed (apt-get install nginx)"
        );
    }
    bin
}

pub fn nginx_binary() -> Option<PathBuf> {
    ["/usr/sbin/nginx", "/usr/local/sbin/nginx", "/usr/bin/nginx"]
        .iter()
        .map(PathBuf::from)
        .find(|p| p.exists())
}

pub struct Nginx {
    child: Option<Child>,
    pub dir: PathBuf,
    port: u16,
}

impl Nginx {
    pub fn start(bin: &Path, index: usize) -> Nginx {
        for attempt in 0..20 {
            let port = free_port(index * 97 + attempt);
            let dir = std::env::temp_dir()
                .join(format!("cc-nginx-{}-{index}-{attempt}", std::process::id()));
            let _ = std::fs::remove_dir_all(&dir);
            std::fs::create_dir_all(dir.join("root/groups")).unwrap();
            std::fs::create_dir_all(dir.join("tmp")).unwrap();
            let conf = format!(
                "daemon off;\nmaster_process off;\nworker_processes 1;\npid {d}/nginx.pid;\nerror_log {d}/error.log warn;\n\
                 events {{ worker_connections 64; }}\n\
                 http {{\n  access_log off;\n  client_body_temp_path {d}/tmp;\n  proxy_temp_path {d}/tmp;\n\
                   server {{\n    listen 127.0.0.1:{port};\n    root {d}/root;\n\
                     location /groups/ {{\n      dav_methods PUT DELETE;\n      create_full_put_path on;\n      dav_access user:rw;\n    }}\n  }}\n}}\n",
                d = dir.display()
            );
            std::fs::write(dir.join("nginx.conf"), conf).unwrap();
            let child = Command::new(bin)
                .arg("-p")
                .arg(&dir)
                .arg("-e")
                .arg(dir.join("error.log"))
                .arg("-c")
                .arg(dir.join("nginx.conf"))
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .expect("nginx starts");
            let mut n = Nginx {
                child: Some(child),
                dir,
                port,
            };
            if n.wait_listening() {
                return n;
            }
            n.stop();
        }
        panic!("nginx did not start on any port");
    }

    fn wait_listening(&mut self) -> bool {
        let end = Instant::now() + Duration::from_secs(5);
        while Instant::now() < end {
            if let Some(c) = self.child.as_mut() {
                if let Ok(Some(_)) = c.try_wait() {
                    return false;
                }
            }
            if TcpStream::connect(("127.0.0.1", self.port)).is_ok() {
                return true;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        false
    }

    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    pub fn holds(&self, id: &str) -> bool {
        self.dir.join("root/groups").join(id).exists()
    }

    pub fn stop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

impl Drop for Nginx {
    fn drop(&mut self) {
        self.stop();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn free_port(salt: usize) -> u16 {
    let base = 20_000 + ((std::process::id() as usize * 31 + salt * 131) % 12_000) as u16;
    for p in base..32_000 {
        if TcpListener::bind(("127.0.0.1", p)).is_ok() {
            return p;
        }
    }
    20_000
}
