//! A small HTTP/1.1 file server on loopback for build downloads: serves a directory with
//! `Range` support, and can break a response off after some bytes (a dropped connection).

use std::io::{BufRead, BufReader, Read, Seek, SeekFrom, Write};
use std::net::TcpListener;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

/// A running file server.
pub struct FileServer {
    pub port: u16,
    /// When non-zero, the next response stops after this many body bytes (then resets).
    pub cut_after: Arc<AtomicU64>,
    /// The `Range` header of every request (empty when none), in order.
    pub ranges: Arc<Mutex<Vec<String>>>,
}

impl FileServer {
    /// Serves `root` on a free port until the test ends.
    pub fn start(root: PathBuf) -> FileServer {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind file server");
        let port = listener.local_addr().expect("addr").port();
        let cut_after = Arc::new(AtomicU64::new(0));
        let ranges = Arc::new(Mutex::new(Vec::new()));
        let (cut, seen) = (cut_after.clone(), ranges.clone());
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(stream) = stream else { continue };
                let (root, cut, seen) = (root.clone(), cut.clone(), seen.clone());
                std::thread::spawn(move || {
                    let _ = serve(stream, &root, &cut, &seen);
                });
            }
        });
        FileServer {
            port,
            cut_after,
            ranges,
        }
    }

    /// The URL of a file.
    pub fn url(&self, name: &str) -> String {
        format!("http://127.0.0.1:{}/{name}", self.port)
    }
}

fn serve(
    stream: std::net::TcpStream,
    root: &std::path::Path,
    cut: &AtomicU64,
    seen: &Mutex<Vec<String>>,
) -> std::io::Result<()> {
    let mut reader = BufReader::new(stream.try_clone()?);
    let mut stream = stream;
    let mut request = String::new();
    reader.read_line(&mut request)?;
    let path = request.split(' ').nth(1).unwrap_or("/").to_string();
    let mut range = String::new();
    loop {
        let mut line = String::new();
        reader.read_line(&mut line)?;
        if line.trim().is_empty() {
            break;
        }
        if let Some((name, value)) = line.split_once(':')
            && name.eq_ignore_ascii_case("range")
        {
            range = value.trim().to_string();
        }
    }
    seen.lock().expect("lock").push(range.clone());
    if let Some(target) = path.strip_prefix("/redirect/") {
        let reply = format!(
            "HTTP/1.1 302 Found\r\nLocation: /{target}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
        );
        return stream.write_all(reply.as_bytes());
    }
    let file = root.join(path.trim_start_matches('/'));
    let Ok(mut data) = std::fs::File::open(&file) else {
        return stream.write_all(
            b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
        );
    };
    let len = data.metadata()?.len();
    let start: u64 = range
        .strip_prefix("bytes=")
        .and_then(|r| r.strip_suffix('-'))
        .and_then(|n| n.parse().ok())
        .unwrap_or(0);
    let head = if range.is_empty() {
        format!("HTTP/1.1 200 OK\r\nContent-Length: {len}\r\nConnection: close\r\n\r\n")
    } else {
        format!(
            "HTTP/1.1 206 Partial Content\r\nContent-Range: bytes {start}-{}/{len}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
            len - 1,
            len - start
        )
    };
    stream.write_all(head.as_bytes())?;
    data.seek(SeekFrom::Start(start))?;
    let limit = match cut.swap(0, Ordering::SeqCst) {
        0 => u64::MAX,
        n => n,
    };
    std::io::copy(&mut data.take(limit), &mut stream)?;
    Ok(())
}
