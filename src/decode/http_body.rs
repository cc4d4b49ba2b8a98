//! http_body: how an HTTP/1.x message's bytes are framed on a TCP stream, for the stream
//! parsers ([`crate::decode::stream`]): where a head starts and ends, how the body after it is
//! framed (length, chunked, until close; RFC 9112 section 6.3), chunked bodies read step by step,
//! and content-coded bodies decoded only to count what they decode to (as Zeek counts them).

/// Where the reader of a chunked body stands.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Chunk {
    /// Reading a chunk-size line.
    Size,
    /// Inside chunk data (plus its CRLF).
    Data(u64),
    /// After the last (zero) chunk: reading trailer lines until an empty one.
    Trailer,
}

/// A body's content coding being undone, only to count what it decodes to.
pub(crate) struct Inflate {
    gzip: bool,
    decoder: Option<Box<dyn std::io::Write + Send>>,
    out: std::sync::Arc<std::sync::atomic::AtomicU64>,
}

impl std::fmt::Debug for Inflate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Inflate").field("gzip", &self.gzip).finish()
    }
}

/// Counts the bytes written to it.
struct Count(std::sync::Arc<std::sync::atomic::AtomicU64>);

impl std::io::Write for Count {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        self.0.fetch_add(b.len() as u64, std::sync::atomic::Ordering::Relaxed);
        Ok(b.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Inflate {
    pub(crate) fn new(gzip: bool) -> Inflate {
        let out = std::sync::Arc::new(std::sync::atomic::AtomicU64::new(0));
        let sink = Count(out.clone());
        let decoder: Box<dyn std::io::Write + Send> = if gzip {
            Box::new(flate2::write::GzDecoder::new(sink))
        } else {
            Box::new(flate2::write::ZlibDecoder::new(sink))
        };
        Inflate {
            gzip,
            decoder: Some(decoder),
            out,
        }
    }

    /// Feed coded bytes; a coding error ends the decoding (what came out so far counts).
    pub(crate) fn feed(&mut self, b: &[u8]) {
        if let Some(d) = self.decoder.as_mut()
            && d.write_all(b).is_err()
        {
            self.decoder = None;
        }
    }

    pub(crate) fn decoded(mut self) -> u64 {
        if let Some(mut d) = self.decoder.take() {
            let _ = d.flush();
        }
        let _ = self.gzip;
        self.out.load(std::sync::atomic::Ordering::Relaxed)
    }
}

/// What one step through a chunked body did.
pub(crate) enum Step {
    Need,
    /// Bytes consumed, of which chunk data, and whether the body ended.
    Consumed(usize, u64, bool),
}

/// Read what `b` holds of a chunked body from where `c` stands.
pub(crate) fn chunked_step(c: &mut Chunk, b: &[u8]) -> Step {
    match *c {
        Chunk::Size => match httparse::parse_chunk_size(b) {
            Ok(httparse::Status::Complete((n, size))) => {
                *c = if size == 0 {
                    Chunk::Trailer
                } else {
                    Chunk::Data(size + 2)
                };
                Step::Consumed(n, 0, false)
            }
            Ok(httparse::Status::Partial) => Step::Need,
            // A broken size line: treat the rest as the end of the body.
            Err(_) => Step::Consumed(b.len(), 0, true),
        },
        Chunk::Data(rem) => {
            let take = rem.min(b.len() as u64);
            // The last two bytes of each chunk are its CRLF, not data.
            let data = take.min(rem.saturating_sub(2));
            *c = if rem == take {
                Chunk::Size
            } else {
                Chunk::Data(rem - take)
            };
            Step::Consumed(take as usize, data, false)
        }
        Chunk::Trailer => match b.windows(2).position(|w| w == b"\r\n") {
            Some(0) => Step::Consumed(2, 0, true),
            Some(i) => Step::Consumed(i + 2, 0, false),
            None => Step::Need,
        },
    }
}

/// The bytes start a request line (a known method) or a status line, or could once more come.
pub(crate) fn looks_like_http_start(b: &[u8]) -> bool {
    let status: &[u8] = b"HTTP/";
    crate::decode::app::HTTP_METHODS.iter().chain([&status]).any(|s| {
        let n = s.len().min(b.len());
        b[..n] == s[..n]
    })
}

/// Where the head that `b` starts ends (after its empty line), if it does in `b`.
pub(crate) fn find_head_end(b: &[u8]) -> Option<usize> {
    b.windows(4).position(|w| w == b"\r\n\r\n").map(|i| i + 4)
}

/// How the body after a head is framed.
pub(crate) enum Body {
    None,
    Length(u64),
    Chunked,
    UntilClose,
}

/// How the body after this request or response head is framed (RFC 9112 section 6.3), and its
/// content coding when gzip (true) or deflate (false). Read once per head and parser, with no
/// copies.
pub(crate) fn http_body(head: &[u8]) -> (Body, Option<bool>) {
    // Control bytes masked: a stray ESC must not hide the framing (see `http::masked`).
    let head = &*crate::decode::http::masked(head);
    let mut headers = [httparse::EMPTY_HEADER; 64];
    let is_response = head.starts_with(b"HTTP/");
    let (parsed, status) = if is_response {
        let mut r = httparse::Response::new(&mut headers);
        let ok = r.parse(head).is_ok();
        (ok, r.code.unwrap_or(0))
    } else {
        let mut r = httparse::Request::new(&mut headers);
        (r.parse(head).is_ok(), 0)
    };
    if !parsed {
        return (Body::None, None);
    }
    // httparse fills the slots it used and leaves the rest empty.
    let hs = headers.iter().take_while(|h| !h.name.is_empty());
    let value = |name: &str| {
        hs.clone()
            .find(|h| h.name.eq_ignore_ascii_case(name))
            .map(|h| h.value.trim_ascii())
    };
    let coding = match value("content-encoding") {
        Some(v) if v.eq_ignore_ascii_case(b"gzip") || v.eq_ignore_ascii_case(b"x-gzip") => Some(true),
        Some(v) if v.eq_ignore_ascii_case(b"deflate") => Some(false),
        _ => None,
    };
    if is_response && ((100..200).contains(&status) || status == 204 || status == 304) {
        return (Body::None, coding);
    }
    let chunked = value("transfer-encoding").is_some_and(|v| v.windows(7).any(|w| w.eq_ignore_ascii_case(b"chunked")));
    if chunked {
        return (Body::Chunked, coding);
    }
    let length = value("content-length")
        .and_then(|v| std::str::from_utf8(v).ok())
        .and_then(|v| v.parse::<u64>().ok());
    let body = match length {
        Some(0) => Body::None,
        Some(n) => Body::Length(n),
        None if is_response => Body::UntilClose,
        None => Body::None,
    };
    (body, coding)
}
