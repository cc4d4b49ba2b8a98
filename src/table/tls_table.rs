//! tls_table: TLS and QUIC handshakes ([`crate::table::tls_sessions`]) -> the `tls()` table, one
//! row per connection ([`crate::table::schema::TLS_SCHEMA`]), built column by column.

use polars::prelude::*;

use crate::error::Result;
use crate::table::column::{Col, TextLists, cat32, enum8, prim};
use crate::table::interner::Interner;
use crate::table::schema::{APP_DTYPE, cat_dtype, lcol};
use crate::table::tls_sessions::TlsSession;
use crate::table::tx_conn::TxConnColumns;

/// The tls table being built.
#[derive(Default)]
pub struct TlsColumns {
    conn: TxConnColumns,
    app: Col<u8>,
    version: Col<u32>,
    client_versions: TextLists,
    cipher: Col<u32>,
    curve: Col<u32>,
    server_name: Col<u32>,
    alpn: TextLists,
    next_protocol: Col<u32>,
    established: Vec<bool>,
    resumed: Vec<bool>,
    last_alert: Col<u32>,
    history: Col<u32>,
    ja4: Col<u32>,
    ja4_r: Col<u32>,
    ja3: Col<u32>,
    ja3_string: Col<u32>,
    ja3s: Col<u32>,
    ja3s_string: Col<u32>,
    cert_subject: Col<u32>,
    cert_issuer: Col<u32>,
    cert_not_before: Col<i64>,
    cert_not_after: Col<i64>,
    cert_san: TextLists,
    cert_self_signed: Col<bool>,
    cert_chain_fps: TextLists,
    client_hello_frame: Col<u32>,
    server_hello_frame: Col<u32>,
}

impl TlsColumns {
    pub fn len(&self) -> usize {
        self.conn.len()
    }

    pub fn is_empty(&self) -> bool {
        self.conn.is_empty()
    }

    pub fn push(&mut self, t: &TlsSession, it: &mut Interner) {
        let text = |it: &Interner, v: &Option<String>| v.as_deref().map(|s| it.text(s));
        self.conn.push(&t.conn);
        let app = if t.quic {
            crate::decode::App::Quic
        } else {
            crate::decode::App::Tls
        };
        self.app.push(Some(app as u8));
        // Numbers, named once each.
        self.version.push(t.version.map(|v| it.ssl_version(v)));
        self.client_versions
            .push_codes(t.client_versions.iter().map(|&v| it.ssl_version(v)));
        self.cipher.push(t.cipher.map(|c| it.tls_cipher(c)));
        self.curve.push(t.curve.map(|g| it.tls_group(g)));
        self.server_name.push(text(it, &t.server_name));
        self.alpn.push(&t.alpn, it);
        self.next_protocol.push(text(it, &t.next_protocol));
        self.established.push(t.established);
        self.resumed.push(t.resumed);
        self.last_alert.push(t.last_alert.map(|d| it.tls_alert(d)));
        self.history.push((!t.history.is_empty()).then(|| it.text(&t.history)));
        self.ja4.push(text(it, &t.ja4));
        self.ja4_r.push(text(it, &t.ja4_r));
        self.ja3.push(text(it, &t.ja3));
        self.ja3_string.push(text(it, &t.ja3_string));
        self.ja3s.push(text(it, &t.ja3s));
        self.ja3s_string.push(text(it, &t.ja3s_string));
        let cert = t.cert.as_ref();
        self.cert_subject.push(cert.map(|c| it.text(&c.subject)));
        self.cert_issuer.push(cert.map(|c| it.text(&c.issuer)));
        self.cert_not_before
            .push(cert.map(|c| c.not_before.saturating_mul(1_000_000_000)));
        self.cert_not_after
            .push(cert.map(|c| c.not_after.saturating_mul(1_000_000_000)));
        self.cert_san
            .push(cert.map(|c| c.dns_names.as_slice()).unwrap_or(&[]), it);
        self.cert_self_signed.push(cert.map(|c| c.self_signed));
        self.cert_chain_fps.push(&t.cert_chain_fps, it);
        self.client_hello_frame.push(t.client_hello_frame);
        self.server_hello_frame.push(t.server_hello_frame);
    }

    /// Each row's flow row (see [`TxConnColumns::take_flow_rows`]).
    pub fn take_flow_rows(&mut self) -> Vec<u32> {
        self.conn.take_flow_rows()
    }

    /// The table, every row of it from the capture file `file_code` names.
    pub fn into_dataframe(self, file_code: u32) -> Result<DataFrame> {
        let n = self.conn.len();
        let text = |name: &str, c: Col<u32>| cat32(name, c.rows(n), cat_dtype());
        let time = |name: &str, c: Col<i64>| {
            prim::<Int64Type>(name, c.rows(n))
                .as_materialized_series()
                .i64()
                .map(|ca| {
                    ca.clone()
                        .into_datetime(TimeUnit::Nanoseconds, Some(TimeZone::UTC))
                        .into_column()
                })
        };
        let bools = |name: &str, v: Vec<bool>| BooleanChunked::from_slice(name.into(), &v).into_column();
        let mut columns = self.conn.into_columns(file_code);
        columns.extend([
            enum8(lcol::APP, self.app.rows(n), &APP_DTYPE),
            text(lcol::VERSION, self.version),
            self.client_versions.column(lcol::CLIENT_VERSIONS, n),
            text(lcol::CIPHER, self.cipher),
            text(lcol::CURVE, self.curve),
            text(lcol::SERVER_NAME, self.server_name),
            self.alpn.column(lcol::ALPN, n),
            text(lcol::NEXT_PROTOCOL, self.next_protocol),
            bools(lcol::ESTABLISHED, self.established),
            bools(lcol::RESUMED, self.resumed),
            text(lcol::LAST_ALERT, self.last_alert),
            text(lcol::HISTORY, self.history),
            text(lcol::JA4, self.ja4),
            text(lcol::JA4_R, self.ja4_r),
            text(lcol::JA3, self.ja3),
            text(lcol::JA3_STRING, self.ja3_string),
            text(lcol::JA3S, self.ja3s),
            text(lcol::JA3S_STRING, self.ja3s_string),
            text(lcol::CERT_SUBJECT, self.cert_subject),
            text(lcol::CERT_ISSUER, self.cert_issuer),
            time(lcol::CERT_NOT_BEFORE, self.cert_not_before)?,
            time(lcol::CERT_NOT_AFTER, self.cert_not_after)?,
            self.cert_san.column(lcol::CERT_SAN, n),
            crate::table::column::boolean(lcol::CERT_SELF_SIGNED, self.cert_self_signed.rows(n)),
            self.cert_chain_fps.column(lcol::CERT_CHAIN_FPS, n),
            prim::<UInt32Type>(lcol::CLIENT_HELLO_FRAME, self.client_hello_frame.rows(n)),
            prim::<UInt32Type>(lcol::SERVER_HELLO_FRAME, self.server_hello_frame.rows(n)),
        ]);
        Ok(DataFrame::new(n, columns)?)
    }
}

/// An empty tls table with every column typed.
pub fn empty_tls() -> Result<DataFrame> {
    TlsColumns::default().into_dataframe(0)
}
