//! zeek: the tables as Zeek logs (`netql export zeek`): conn.log from the flows, dns.log from the
//! DNS transactions, http.log from the HTTP ones, ssl.log from the TLS and QUIC handshakes,
//! notice.log from the findings of the analyze suite, written by
//! [`log`] in Zeek's ASCII or JSON format, with Zeek's field names, types and rules for what is
//! left unset, so tools built on Zeek logs read them and rows join to Zeek's by Community ID.

pub mod columns;
pub mod conn;
pub mod dns;
pub mod http;
pub mod log;
pub mod notice;
pub mod site;
pub mod ssl;
pub mod uid;
