//! The service manager's side channel (`sd_notify`): under systemd with `Type=notify` the unit
//! starts only once the listeners accept, the watchdog restarts a process that stopped making
//! progress, and `systemctl stop` shows that a graceful stop is under way.
//!
//! The protocol is one datagram per message to the socket named in `NOTIFY_SOCKET` (a path, or
//! `@name` for the abstract namespace). Without that variable every call does nothing, so the
//! same binary runs unchanged by hand, in containers and under other supervisors.

use std::os::unix::net::{SocketAddr, UnixDatagram};
use std::time::Duration;

/// Sends state changes to systemd; inert when the process was not started by it.
pub struct Notifier {
    target: Option<(UnixDatagram, SocketAddr)>,
}

impl Notifier {
    /// The notifier `NOTIFY_SOCKET` asks for, or an inert one.
    pub fn from_env() -> Self {
        let target = std::env::var_os("NOTIFY_SOCKET").and_then(|name| {
            let connected = socket_address(name.as_encoded_bytes())
                .and_then(|addr| Ok((UnixDatagram::unbound()?, addr)));
            match connected {
                Ok(target) => Some(target),
                Err(e) => {
                    tracing::warn!(socket = ?name, error = %e, "NOTIFY_SOCKET is not usable; systemd will not hear from this process");
                    None
                }
            }
        });
        Self { target }
    }

    /// The listeners accept connections.
    pub fn ready(&self, status: &str) {
        self.send(&format!("READY=1\nSTATUS={status}"));
    }

    /// The process is alive and its store answers.
    pub fn watchdog(&self) {
        self.send("WATCHDOG=1");
    }

    /// A graceful stop has begun.
    pub fn stopping(&self) {
        self.send("STOPPING=1\nSTATUS=stopping: draining requests and tasks");
    }

    /// A free-form line for `systemctl status`.
    pub fn status(&self, status: &str) {
        self.send(&format!("STATUS={status}"));
    }

    fn send(&self, message: &str) {
        if let Some((socket, addr)) = &self.target
            && let Err(e) = socket.send_to_addr(message.as_bytes(), addr)
        {
            tracing::warn!(error = %e, "cannot notify systemd");
        }
    }
}

/// How often systemd expects `WATCHDOG=1`: half of `WATCHDOG_USEC`, when it is set for this
/// process (`WATCHDOG_PID`, when present, names the process meant).
pub fn watchdog_interval() -> Option<Duration> {
    if let Some(pid) = std::env::var_os("WATCHDOG_PID")
        && pid.to_str().and_then(|p| p.parse::<u32>().ok()) != Some(std::process::id())
    {
        return None;
    }
    let usec: u64 = std::env::var("WATCHDOG_USEC").ok()?.parse().ok()?;
    (usec > 0).then(|| Duration::from_micros(usec / 2))
}

fn socket_address(name: &[u8]) -> std::io::Result<SocketAddr> {
    match name.split_first() {
        Some((b'@', abstract_name)) => {
            use std::os::linux::net::SocketAddrExt;
            SocketAddr::from_abstract_name(abstract_name)
        }
        Some((b'/', _)) => {
            use std::os::unix::ffi::OsStrExt;
            SocketAddr::from_pathname(std::path::Path::new(std::ffi::OsStr::from_bytes(name)))
        }
        _ => Err(std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            "neither an absolute path nor an @abstract name",
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sends_each_message_as_one_datagram_to_a_path() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("notify");
        let listener = UnixDatagram::bind(&path).expect("bind");
        let notifier = Notifier {
            target: Some((
                UnixDatagram::unbound().expect("socket"),
                socket_address(path.as_os_str().as_encoded_bytes()).expect("address"),
            )),
        };
        notifier.ready("serving");
        notifier.stopping();
        let mut buf = [0u8; 256];
        let n = listener.recv(&mut buf).expect("recv");
        assert_eq!(&buf[..n], b"READY=1\nSTATUS=serving");
        let n = listener.recv(&mut buf).expect("recv");
        assert!(buf[..n].starts_with(b"STOPPING=1\n"));
    }

    #[test]
    fn refuses_a_relative_name() {
        assert!(socket_address(b"notify").is_err());
        assert!(socket_address(b"").is_err());
        assert!(socket_address(b"@abstract").is_ok());
    }
}
