//! packed: the packet table's stored columns held narrow in memory, and made back into Polars
//! columns when a query names them. Most columns need far fewer bits than their type within a
//! chunk of packets (ports, lengths, TTLs; timestamps within a thousand packets; a chunk's
//! addresses and MACs are a few thousand distinct codes), so each chunk of each column keeps
//! the narrowest of:
//! - nothing, when every row is null (VLAN ids, fragments);
//! - a counting sequence (frame numbers);
//! - the same values as the column before (`cap_len` = `wire_len`);
//! - a base per 1024 rows plus 0/1/2/4/8/10/12/16/21/32-bit offsets (no offsets: a constant);
//! - a chunk dictionary with 1-16-bit codes (addresses, MACs, flow ids, flag sets);
//! - differences below another column, themselves packed (`payload_len` below `wire_len`);
//! - steps from row to row, in the largest power of ten dividing them all (packet times:
//!   whole microseconds ~0.4 ms apart in a classic pcap);
//! - each value after the last of its key, the packet's flow and sending port (TCP sequence
//!   and acknowledgement numbers, random per connection, move by about a segment);
//! - the Polars array itself when none of these is narrower (and for booleans).
//!
//! Validity bitmaps are kept as they are. Every encoding reads back the exact values: offsets are
//! taken over every slot, null ones included, so nothing depends on what a null slot holds.
//! Only the `bandwidth` query and ad-hoc scripts scan `packets()`; the analyze suite reads flows,
//! events (gathered row by row from here, see [`PackedTable::gather`]) and the stack counts.
//!
//! `layout` holds the layouts, `packer` picks one per chunk, `table` holds a table of packed
//! columns, `scan` serves it to Polars.

pub mod layout;
pub mod packer;
pub mod scan;
pub mod table;

pub use scan::PackedScan;
pub use table::{PackedTable, PackedTableBuilder};
