//! capture: packets in and out of files, the first step of the flow. Reading: every capture is
//! opened by libpcap (which judges the file), then a classic pcap is read from a read-only
//! mapping (`mapped`), pcapng by libpcap or, for files libpcap refuses, by our block reader
//! (`pcapng`); records come out as [`RawRecord`]s in file order (`reader`). Also live capture from
//! an interface (`live`), writing classic pcap files (`write`) and the bundled sample capture
//! (`sample`). Nothing here looks inside a packet.

pub mod carve;
pub mod libpcap;
pub mod linktype;
pub mod live;
pub mod mapped;
pub mod pcapng;
pub mod prefetch;
pub mod reader;
pub mod record;
pub mod sample;
pub mod write;

pub use reader::CaptureReader;
pub use record::RawRecord;
