-- conversations: traffic between each pair of addresses, both ways (netql run conversations).
-- a is the lower address as text, b the higher; "a_to_b" counts what a sent.
WITH pairs AS (
  SELECT CASE WHEN src_ip <= dst_ip THEN src_ip ELSE dst_ip END AS a,
         CASE WHEN src_ip <= dst_ip THEN dst_ip ELSE src_ip END AS b,
         packets, bytes,
         CASE WHEN src_ip = dst_ip THEN packets WHEN src_ip <= dst_ip THEN packets_fwd ELSE packets_rev END AS a_to_b_frames,
         CASE WHEN src_ip = dst_ip THEN bytes WHEN src_ip <= dst_ip THEN bytes_fwd ELSE bytes_rev END AS a_to_b_bytes,
         first_ts, last_ts
  FROM flows
)
SELECT a, b,
       SUM(packets) AS frames, SUM(bytes) AS bytes,
       SUM(a_to_b_frames) AS frames_a_to_b, SUM(a_to_b_bytes) AS bytes_a_to_b,
       SUM(packets) - SUM(a_to_b_frames) AS frames_b_to_a, SUM(bytes) - SUM(a_to_b_bytes) AS bytes_b_to_a,
       MIN(first_ts) AS first_ts, MAX(last_ts) AS last_ts
FROM pairs
GROUP BY a, b
ORDER BY frames DESC, bytes DESC, a, b
LIMIT 20
