"""Read a netql lake with Apache Spark (PySpark, local mode) and run the shipped SQL.

Usage: spark_lake.py LAKE SQL_DIR
Prints one JSON object: for each table Spark found (by partition discovery), its row count and
schema as Spark sees it; for each queries/sql/*.sql file, its result rows. Times are given as
microseconds since the epoch (UTC). Exit 3 when PySpark or Java is missing.
"""
import datetime
import decimal
import json
import os
import sys

os.environ["TZ"] = "UTC"
try:
    from pyspark.sql import SparkSession
except ImportError as e:  # the test setup installs it; say so plainly when it did not
    print(f"pyspark is not installed: {e}", file=sys.stderr)
    sys.exit(3)

lake, sql_dir = sys.argv[1], sys.argv[2]
spark = (
    SparkSession.builder.master("local[2]")
    .appName("netql-lake-test")
    .config("spark.sql.session.timeZone", "UTC")
    .config("spark.ui.enabled", "false")
    .config("spark.driver.host", "127.0.0.1")
    .config("spark.driver.bindAddress", "127.0.0.1")
    .config("spark.sql.shuffle.partitions", "4")
    .getOrCreate()
)
spark.sparkContext.setLogLevel("ERROR")


def plain(v):
    if isinstance(v, datetime.datetime):
        return (v - datetime.datetime(1970, 1, 1)) // datetime.timedelta(microseconds=1)
    if isinstance(v, datetime.date):
        return v.isoformat()
    if isinstance(v, decimal.Decimal):
        return float(v)
    if isinstance(v, list):
        return [plain(x) for x in v]
    return v


out = {"spark": spark.version, "tables": {}, "results": {}}
for table in ["flows", "dns", "http", "tls", "events", "stacks", "findings", "packets"]:
    path = os.path.join(lake, table)
    if not os.path.isdir(path):
        continue
    df = spark.read.parquet(path)
    df.createOrReplaceTempView(table)
    out["tables"][table] = {
        "rows": df.count(),
        "schema": {f.name: f.dataType.simpleString() for f in df.schema.fields},
        "sensors": sorted(r[0] for r in df.select("sensor").distinct().collect()),
    }
for name in sorted(os.listdir(sql_dir)):
    if name.endswith(".sql"):
        with open(os.path.join(sql_dir, name)) as f:
            rows = spark.sql(f.read()).collect()
        out["results"][name[:-4]] = [{k: plain(v) for k, v in r.asDict().items()} for r in rows]
print(json.dumps(out))
spark.stop()
