-- port_scan_candidates: vertical TCP scans as netql's port_scan finds them: one source probing
-- at least 15 ports (Zeek's port_scan_threshold) of one host, a probe being a TCP connection
-- attempt that carried no data either way. Each port is judged once: open (a SYN-ACK came
-- back), closed (only RSTs), else unanswered. netql's finding adds the scan's kind, span, rate
-- and the frames to carve.
WITH per_port AS (
  SELECT src_ip, dst_ip, dst_port,
         MAX(CASE WHEN syn_ack > 0 THEN 1 ELSE 0 END) AS is_open,
         MAX(CASE WHEN syn_ack = 0 AND rst_rev > 0 THEN 1 ELSE 0 END) AS rst
  FROM flows
  WHERE l4 = 'tcp' AND syn > 0 AND payload_fwd = 0 AND payload_rev = 0
  GROUP BY src_ip, dst_ip, dst_port
)
SELECT src_ip AS src, dst_ip AS dst, COUNT(*) AS ports,
       SUM(is_open) AS open,
       SUM(CASE WHEN is_open = 0 AND rst = 1 THEN 1 ELSE 0 END) AS closed,
       SUM(CASE WHEN is_open = 0 AND rst = 0 THEN 1 ELSE 0 END) AS unanswered
FROM per_port
GROUP BY src_ip, dst_ip
HAVING COUNT(*) >= 15
ORDER BY ports DESC, src, dst
