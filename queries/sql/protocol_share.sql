-- protocol_share: frames and bytes per protocol, as tshark -z io,phs counts them (netql run
-- protocol_share), from the per-capture stack counts. A protocol twice in one stack (IP inside
-- an ICMP error) counts once. Spark SQL (Trino: CROSS JOIN UNNEST(split(protocols, ':'))).
WITH totals AS (
  SELECT SUM(frames) AS all_frames, SUM(bytes) AS all_bytes FROM stacks
),
per_stack AS (
  SELECT protocols, SUM(frames) AS frames, SUM(bytes) AS bytes
  FROM stacks WHERE protocols IS NOT NULL GROUP BY protocols
),
per_protocol AS (
  SELECT DISTINCT protocols, protocol, frames, bytes
  FROM per_stack LATERAL VIEW explode(split(protocols, ':')) p AS protocol
)
SELECT protocol, SUM(frames) AS frames, SUM(bytes) AS bytes,
       ROUND(SUM(frames) * 100.0 / MAX(all_frames), 2) AS frames_pct,
       ROUND(SUM(bytes) * 100.0 / MAX(all_bytes), 2) AS bytes_pct
FROM per_protocol CROSS JOIN totals
GROUP BY protocol
ORDER BY frames DESC, protocol
LIMIT 50
