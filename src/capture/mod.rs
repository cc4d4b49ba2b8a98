//! capture: packets in and out of files. Reading classic pcap (from a read-only mapping) and
//! pcapng (libpcap, or our own block reader when libpcap refuses a file), live capture from an
//! interface through libpcap, writing classic pcap files, and the bundled sample capture.

pub mod live;
pub mod reader;
pub mod sample;
pub mod write;

pub use reader::{CaptureReader, RawRecord, linktype, release_mapped};
