//! A Weir cluster of real `weir` processes on loopback, with the faults the tests inject:
//! `kill -9` and restart, SIGSTOP/SIGCONT, and a cut of a broker's Raft port. Every broker's
//! peers reach it through a TCP proxy the test controls (its `--voters` address), so cutting
//! the proxy isolates the broker from the Raft traffic of the others while its clients still
//! reach it.

use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::ClientConfig;

use crate::{eventually, Weir};

/// A free loopback port for a broker to bind later. Taken below the kernel's ephemeral range
/// (32768 and up), where the outgoing connections of parallel tests would otherwise grab a
/// port between this check and the broker's bind.
pub fn free_port() -> u16 {
    use std::sync::atomic::AtomicU32;
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let seed = std::process::id().wrapping_mul(2_654_435_761);
    loop {
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let port = 20_000 + (seed.wrapping_add(n.wrapping_mul(7_919)) % 12_000) as u16;
        if TcpListener::bind(("127.0.0.1", port)).is_ok() {
            return port;
        }
    }
}

/// A running cluster. Broker `i` (node id `i`, counting from 1) listens for clients on a fixed
/// port, so a restarted broker is where clients left it.
pub struct TestCluster {
    brokers: Vec<Option<Weir>>,
    client_ports: Vec<u16>,
    raft_ports: Vec<u16>,
    proxies: Vec<Proxy>,
    voters: String,
    extra: Vec<String>,
    dir: tempfile::TempDir,
}

impl TestCluster {
    /// Starts `n` brokers with `extra` CLI arguments each and waits until every one of them
    /// is registered (Metadata at each lists all `n`).
    pub fn start(n: usize, extra: &[&str]) -> TestCluster {
        let cluster = TestCluster::start_serving(n, extra);
        cluster.wait_registered();
        cluster
    }

    /// Starts `n` brokers and returns as soon as each accepts connections (registrations may
    /// still be committing).
    pub fn start_serving(n: usize, extra: &[&str]) -> TestCluster {
        let dir = tempfile::tempdir().expect("temp dir");
        let raft_ports: Vec<u16> = (0..n).map(|_| free_port()).collect();
        let proxies: Vec<Proxy> = raft_ports.iter().map(|&port| Proxy::start(port)).collect();
        let voters = proxies.iter().enumerate().map(|(i, p)| format!("{}@127.0.0.1:{}", i + 1, p.port)).collect::<Vec<_>>().join(",");
        let mut cluster = TestCluster {
            brokers: (0..n).map(|_| None).collect(),
            client_ports: (0..n).map(|_| free_port()).collect(),
            raft_ports,
            proxies,
            voters,
            extra: extra.iter().map(|s| s.to_string()).collect(),
            dir,
        };
        for id in 1..=n as i32 {
            cluster.spawn(id);
        }
        for id in 1..=n as i32 {
            cluster.broker_mut(id).wait_listening();
        }
        cluster
    }

    fn spawn(&mut self, id: i32) {
        let i = (id - 1) as usize;
        let data_dir = self.data_dir(id);
        let listen = format!("127.0.0.1:{}", self.client_ports[i]);
        let raft = format!("127.0.0.1:{}", self.raft_ports[i]);
        let node_id = id.to_string();
        let mut args: Vec<&str> = vec!["--node-id", &node_id, "--listen", &listen, "--raft-listen", &raft, "--voters", &self.voters];
        args.extend(self.extra.iter().map(String::as_str));
        self.brokers[i] = Some(Weir::spawn(&data_dir, &args, &[]));
    }

    pub fn data_dir(&self, id: i32) -> PathBuf {
        self.dir.path().join(format!("broker-{id}"))
    }

    fn broker_mut(&mut self, id: i32) -> &mut Weir {
        self.brokers[(id - 1) as usize].as_mut().unwrap_or_else(|| panic!("broker {id} is not running"))
    }

    pub fn broker(&self, id: i32) -> &Weir {
        self.brokers[(id - 1) as usize].as_ref().unwrap_or_else(|| panic!("broker {id} is not running"))
    }

    pub fn size(&self) -> usize {
        self.brokers.len()
    }

    /// Broker `id`'s client address.
    pub fn address(&self, id: i32) -> String {
        format!("127.0.0.1:{}", self.client_ports[(id - 1) as usize])
    }

    /// Every broker's client address, for `bootstrap.servers`.
    pub fn bootstrap(&self) -> String {
        self.client_ports.iter().map(|p| format!("127.0.0.1:{p}")).collect::<Vec<_>>().join(",")
    }

    pub fn client_config(&self) -> ClientConfig {
        let mut config = ClientConfig::new();
        config.set("bootstrap.servers", self.bootstrap()).set("broker.address.family", "v4");
        config
    }

    /// Waits until a Metadata request at every running broker lists every broker.
    pub fn wait_registered(&self) {
        for (i, port) in self.client_ports.iter().enumerate() {
            if self.brokers[i].is_none() {
                continue;
            }
            let consumer: BaseConsumer = ClientConfig::new()
                .set("bootstrap.servers", format!("127.0.0.1:{port}"))
                .set("broker.address.family", "v4")
                .create()
                .expect("a metadata client");
            eventually(Duration::from_secs(30), "every broker registered", || {
                let metadata = consumer.fetch_metadata(None, Duration::from_secs(2)).ok()?;
                (metadata.brokers().len() == self.size()).then_some(())
            });
        }
    }

    /// SIGKILL broker `id`: no flush, no clean shutdown.
    pub fn kill9(&mut self, id: i32) {
        if let Some(broker) = self.brokers[(id - 1) as usize].take() {
            broker.kill9();
        }
    }

    /// SIGTERM broker `id` and wait for it to exit (a clean shutdown hands leadership off).
    pub fn terminate(&mut self, id: i32) {
        if let Some(broker) = self.brokers[(id - 1) as usize].take() {
            let status = broker.terminate();
            assert!(status.success(), "broker {id} exited with {status}");
        }
    }

    /// Starts broker `id` again on its data directory (or an emptied one) and waits until it serves.
    pub fn restart(&mut self, id: i32) {
        assert!(self.brokers[(id - 1) as usize].is_none(), "broker {id} is running");
        self.spawn(id);
        self.broker_mut(id).wait_listening();
    }

    /// SIGSTOP / SIGCONT: the process freezes with its sockets open.
    pub fn pause(&self, id: i32) {
        // SAFETY: signalling our own child.
        unsafe { libc::kill(self.broker(id).pid(), libc::SIGSTOP) };
    }

    pub fn resume(&self, id: i32) {
        // SAFETY: signalling our own child.
        unsafe { libc::kill(self.broker(id).pid(), libc::SIGCONT) };
    }

    /// Cuts broker `id`'s Raft port: its peers' connections to it drop and new ones fail.
    pub fn cut_raft(&self, id: i32) {
        self.proxies[(id - 1) as usize].cut.store(true, Ordering::SeqCst);
        self.proxies[(id - 1) as usize].close_all();
    }

    pub fn heal_raft(&self, id: i32) {
        self.proxies[(id - 1) as usize].cut.store(false, Ordering::SeqCst);
    }

    /// The broker that leads `topic`/`partition`, as Metadata at any running broker says.
    pub fn leader_of(&self, topic: &str, partition: i32) -> i32 {
        let consumer: BaseConsumer = self.client_config().create().expect("a metadata client");
        eventually(Duration::from_secs(30), "a partition leader", || {
            let metadata = consumer.fetch_metadata(Some(topic), Duration::from_secs(2)).ok()?;
            let leader = metadata.topics().first()?.partitions().iter().find(|p| p.id() == partition)?.leader();
            (leader >= 1 && self.brokers[(leader - 1) as usize].is_some()).then_some(leader)
        })
    }
}

/// A TCP proxy in front of one broker's Raft port.
struct Proxy {
    port: u16,
    cut: Arc<AtomicBool>,
    connections: Arc<Mutex<Vec<TcpStream>>>,
}

impl Proxy {
    fn start(target: u16) -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind proxy");
        let port = listener.local_addr().expect("proxy address").port();
        let cut = Arc::new(AtomicBool::new(false));
        let connections: Arc<Mutex<Vec<TcpStream>>> = Arc::default();
        let (cut_flag, open) = (cut.clone(), connections.clone());
        std::thread::spawn(move || {
            for incoming in listener.incoming() {
                let Ok(client) = incoming else { continue };
                if cut_flag.load(Ordering::SeqCst) {
                    let _ = client.shutdown(Shutdown::Both);
                    continue;
                }
                let Ok(server) = TcpStream::connect(("127.0.0.1", target)) else {
                    let _ = client.shutdown(Shutdown::Both);
                    continue;
                };
                if let (Ok(c), Ok(s)) = (client.try_clone(), server.try_clone()) {
                    open.lock().unwrap_or_else(std::sync::PoisonError::into_inner).extend([c, s]);
                }
                pump(client.try_clone(), server.try_clone());
                pump(server.try_clone(), client.try_clone());
            }
        });
        Proxy { port, cut, connections }
    }

    fn close_all(&self) {
        for stream in self.connections.lock().unwrap_or_else(std::sync::PoisonError::into_inner).drain(..) {
            let _ = stream.shutdown(Shutdown::Both);
        }
    }
}

/// Copies `from` to `to` on a thread until either side closes.
fn pump(from: std::io::Result<TcpStream>, to: std::io::Result<TcpStream>) {
    let (Ok(mut from), Ok(mut to)) = (from, to) else { return };
    std::thread::spawn(move || {
        let mut buf = vec![0u8; 64 * 1024];
        loop {
            match from.read(&mut buf) {
                Ok(0) | Err(_) => break,
                Ok(n) => {
                    if to.write_all(&buf[..n]).is_err() {
                        break;
                    }
                }
            }
        }
        let _ = to.shutdown(Shutdown::Both);
        let _ = from.shutdown(Shutdown::Both);
    });
}
