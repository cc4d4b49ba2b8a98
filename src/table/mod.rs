//! table: decoded packets as Polars tables: the schema, column building, packed storage, flows,
//! the Parquet cache, the captures folder and the parallel load.

pub mod cache;
pub mod catalog;
pub mod column;
pub mod community_id;
pub mod dns_coded;
pub mod dns_pairing;
pub mod dns_table;
pub mod events;
pub mod flow;
pub mod flow_acc;
pub mod flow_table;
pub mod flow_view;
pub mod http_pairing;
pub mod http_table;
pub mod interner;
pub mod kept_scan;
pub mod lake;
pub mod live;
pub mod load;
pub mod messages;
pub mod packed;
pub mod packet_columns;
pub mod packet_store;
pub mod pipeline;
pub mod scan_filter;
pub mod schema;
pub mod stacks;
pub mod tls_sessions;
pub mod tls_table;
pub mod tx_conn;
pub mod values;
pub mod zeek_endpoint;
pub mod zeek_roles;
pub mod zeek_tcp;
