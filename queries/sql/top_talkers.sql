-- top_talkers: packets and bytes sent + received per IP address (netql run top_talkers).
-- Spark SQL (also Trino/DuckDB) over the lake's flows table: every IP packet is in one flow,
-- counted in the direction it went.
WITH sides AS (
  SELECT src_ip AS address, packets_fwd AS tx_packets, bytes_fwd AS tx_bytes,
         packets_rev AS rx_packets, bytes_rev AS rx_bytes
  FROM flows
  UNION ALL
  SELECT dst_ip AS address, packets_rev AS tx_packets, bytes_rev AS tx_bytes,
         packets_fwd AS rx_packets, bytes_fwd AS rx_bytes
  FROM flows
)
SELECT address,
       SUM(tx_packets) + SUM(rx_packets) AS packets,
       SUM(tx_bytes) + SUM(rx_bytes) AS bytes,
       SUM(tx_packets) AS tx_packets, SUM(tx_bytes) AS tx_bytes,
       SUM(rx_packets) AS rx_packets, SUM(rx_bytes) AS rx_bytes
FROM sides
GROUP BY address
ORDER BY packets DESC, bytes DESC, address
LIMIT 10
