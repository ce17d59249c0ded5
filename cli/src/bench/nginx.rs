//! nginx as the comparison proxy: Debian's nginx, configured here to `grpc_pass` to the mock
//! registries' direct gRPC front over loopback, started as a child process and stopped on drop.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use kopir_gateway::error::GatewayError;

/// A running nginx.
pub struct Nginx {
    child: Child,
    /// Where it listens (HTTP/2 cleartext).
    pub addr: SocketAddr,
}

impl Drop for Nginx {
    fn drop(&mut self) {
        // SIGTERM lets the master stop its workers; SIGKILL would orphan them, each keeping a
        // core busy and the port bound after the benchmark ends.
        let asked = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .is_ok_and(|s| s.success());
        let until = Instant::now() + Duration::from_secs(5);
        while asked && Instant::now() < until {
            if matches!(self.child.try_wait(), Ok(Some(_))) {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        self.child.kill().ok();
        self.child.wait().ok();
    }
}

/// The nginx binary, if installed.
pub fn binary() -> Option<PathBuf> {
    ["/usr/sbin/nginx", "/usr/local/sbin/nginx", "/usr/bin/nginx"]
        .iter()
        .map(PathBuf::from)
        .find(|p| p.exists())
}

fn config(prefix: &Path, listen: SocketAddr, upstream: SocketAddr, workers: usize) -> String {
    // One worker per core, upstream keepalive so nginx reuses HTTP/2 connections to the backend
    // as the gateway does, and no cap on requests per connection (nginx's default of 1000 sends
    // GOAWAY mid-load and fails in-flight calls): the configuration a team would deploy.
    format!(
        "worker_processes {workers};\n\
         daemon off;\n\
         master_process on;\n\
         pid {prefix}/nginx.pid;\n\
         error_log {prefix}/error.log warn;\n\
         events {{ worker_connections 4096; }}\n\
         http {{\n\
           access_log off;\n\
           client_body_temp_path {prefix}/body;\n\
           proxy_temp_path {prefix}/proxy;\n\
           fastcgi_temp_path {prefix}/fastcgi;\n\
           uwsgi_temp_path {prefix}/uwsgi;\n\
           scgi_temp_path {prefix}/scgi;\n\
           upstream registry {{ server {upstream}; keepalive 64; keepalive_requests 10000000; }}\n\
           server {{\n\
             listen {listen} http2;\n\
             keepalive_requests 10000000;\n\
             http2_max_concurrent_streams 1024;\n\
             location / {{ grpc_pass grpc://registry; }}\n\
           }}\n\
         }}\n",
        prefix = prefix.display(),
    )
}

/// Starts nginx on `listen`, proxying gRPC to `upstream`; waits until it accepts connections.
pub async fn start(
    binary: &Path,
    dir: &Path,
    listen: SocketAddr,
    upstream: SocketAddr,
) -> Result<Nginx, GatewayError> {
    let fail = |what: String| GatewayError::Server(format!("nginx: {what}"));
    std::fs::create_dir_all(dir).map_err(|e| fail(format!("{}: {e}", dir.display())))?;
    let conf = dir.join("nginx.conf");
    let workers = std::thread::available_parallelism().map_or(2, |n| n.get());
    std::fs::write(&conf, config(dir, listen, upstream, workers))
        .map_err(|e| fail(format!("{}: {e}", conf.display())))?;
    let child = Command::new(binary)
        .arg("-p")
        .arg(dir)
        .arg("-c")
        .arg(&conf)
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .map_err(|e| fail(format!("cannot start {}: {e}", binary.display())))?;
    let nginx = Nginx {
        child,
        addr: listen,
    };
    let until = Instant::now() + Duration::from_secs(10);
    while Instant::now() < until {
        if tokio::net::TcpStream::connect(listen).await.is_ok() {
            return Ok(nginx);
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    Err(fail(format!(
        "did not listen on {listen} within 10 s; see {}/error.log",
        dir.display()
    )))
}
