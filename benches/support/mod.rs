//! What several benchmarks share: a free loopback port and a private nats-server with
//! JetStream, stopped when dropped. Each benchmark is its own crate and includes this
//! module with `mod support;`.

// Not every benchmark uses every helper.
#![allow(dead_code)]

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub(crate) fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A nats-server with JetStream on a free loopback port, storing below `dir`.
pub(crate) struct Nats {
    pub(crate) port: u16,
    child: Child,
}

impl Nats {
    pub(crate) fn start(dir: &Path) -> Nats {
        let port = free_port();
        let child = Command::new("/usr/sbin/nats-server")
            .args(["-a", "127.0.0.1", "-p", &port.to_string(), "-js", "-sd"])
            .arg(dir)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("nats-server is installed");
        let deadline = Instant::now() + Duration::from_secs(20);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "nats-server did not start");
            std::thread::sleep(Duration::from_millis(20));
        }
        Nats { port, child }
    }

    /// Stop it now (a benchmark measuring what happens without NATS).
    pub(crate) fn stop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Nats {
    fn drop(&mut self) {
        self.stop();
    }
}
