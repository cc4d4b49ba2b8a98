#!/usr/bin/env python3
"""A real MCP client against `netql mcp`: the `mcp` PyPI SDK (2.x), over stdio or streamable HTTP.

    python3 tests/it/mcp_client.py --netql target/debug/netql --captures DIR --cache DIR
    python3 tests/it/mcp_client.py --url http://127.0.0.1:PORT/mcp [--token TOKEN]
    python3 tests/it/mcp_client.py --netql ... --mcp-arg=--lake --mcp-arg=DIR --calls CALLS.json

It lists the tools, calls each one, pages a truncated result to the end, hits the error cases,
and prints one JSON summary on stdout that tests/it/mcp.rs asserts on. The SDK validates every
successful structuredContent against the tool's outputSchema, so a schema mismatch fails here.
Exit code 3 means the `mcp` package is missing (.ci/test installs it in a virtual environment).
"""

import argparse
import asyncio
import json
import sys

try:
    from mcp import Client, StdioServerParameters
except ImportError as e:  # pragma: no cover - the Rust test turns this into a clear failure
    print(
        f"the Python MCP SDK is not installed ({e}); run the tests with .ci/test, or: python3 -m pip install 'mcp>=2,<3'",
        file=sys.stderr,
    )
    sys.exit(3)


def text_of(result):
    return "\n".join(c.text for c in result.content if getattr(c, "type", None) == "text")


async def call(client, name, args=None):
    r = await client.call_tool(name, args or {})
    return {
        "is_error": bool(r.is_error),
        "text": text_of(r),
        "structured": r.structured_content,
    }


async def exercise(client, full):
    s = {"protocol_version": client.protocol_version}
    s["server_name"] = client.server_info.name if client.server_info else None
    s["instructions"] = client.instructions or ""

    tools = (await client.list_tools()).tools
    s["tools"] = sorted(t.name for t in tools)
    s["tools_with_output_schema"] = sorted(t.name for t in tools if t.output_schema)
    s["read_only_tools"] = sorted(t.name for t in tools if t.annotations and t.annotations.read_only_hint)

    r = await call(client, "list_captures")
    s["list_captures"] = {
        "is_error": r["is_error"],
        "names": [c["name"] for c in (r["structured"] or {}).get("captures", [])],
        "packets": {c["name"]: c["packets"] for c in (r["structured"] or {}).get("captures", [])},
    }

    # A run_script aggregation over the synscan capture, paged 100 rows at a time to the end.
    script = (
        'packets().filter(col("l4") == "tcp").group_by(["dst_port"])'
        '.agg([count().alias("packets"), first("frame").alias("first_frame")])'
        '.sort(["packets", "dst_port"], [true, false])'
    )
    pages, rows, total, cursor, first_text = 0, [], None, None, ""
    while True:
        args = {"cursor": cursor} if cursor else {"script": script, "captures": ["synscan.pcapng"], "max_rows": 100}
        r = await call(client, "run_script", args)
        if r["is_error"]:
            s["paging_error"] = r["text"]
            break
        st = r["structured"]
        if pages == 0:
            first_text = r["text"]
        pages += 1
        rows.extend(st["rows"])
        total = st["total_rows"]
        cursor = st["next_cursor"]
        if not st["truncated"] or pages > 100:
            break
    s["paging"] = {
        "pages": pages,
        "rows": len(rows),
        "total_rows": total,
        "distinct_ports": len({row["dst_port"] for row in rows}),
        "packets_sum": sum(row["packets"] for row in rows),
        "first_text_has_cursor_hint": "cursor=" in first_text,
    }

    r = await call(client, "run_script", {"script": 'packets().filter(col("l4") == "tcp").count()', "captures": "synscan.pcapng"})
    s["tcp_count"] = (r["structured"] or {}).get("value") if not r["is_error"] else r["text"]

    # Rhai's print must go to stderr: on stdout it would corrupt the protocol stream.
    r = await call(client, "run_script", {"script": 'print("not on stdout"); 42', "captures": ["sample.pcap"]})
    s["print_script"] = (r["structured"] or {}).get("value") if not r["is_error"] else r["text"]

    # Error cases: tool errors the model can read, never protocol errors.
    r = await call(client, "run_script", {"script": "packets().filter(col(\"l4\") == )"})
    s["bad_script"] = {"is_error": r["is_error"], "text": r["text"]}
    r = await call(client, "run_script", {"script": "packets()", "captures": ["../../etc/passwd"]})
    s["traversal"] = {"is_error": r["is_error"], "text": r["text"]}
    r = await call(client, "run_script", {"script": "packets()", "captures": ["/etc/passwd"]})
    s["absolute"] = {"is_error": r["is_error"], "text": r["text"]}
    r = await call(client, "run_query", {"name": "top_talkers", "captures": ["nope.pcap"]})
    s["unknown_capture"] = {"is_error": r["is_error"], "text": r["text"]}

    if not full:
        return s

    r = await call(client, "describe_schema")
    st = r["structured"] or {}
    s["describe_schema"] = {
        "is_error": r["is_error"],
        "packet_columns": len(st.get("packets", [])),
        "flow_columns": len(st.get("flows", [])),
        "examples": len(st.get("examples", [])),
        "has_guide": "group_by" in st.get("guide", ""),
        "sample_values_from": st.get("sample_values_from"),
    }

    r = await call(client, "list_queries")
    s["list_queries"] = sorted(q["name"] for q in (r["structured"] or {}).get("queries", []))

    r = await call(client, "run_query", {"name": "top_talkers", "captures": ["sample.pcap"], "params": {"limit": 3}})
    st = r["structured"] or {}
    s["top_talkers"] = {"is_error": r["is_error"], "rows": len(st.get("rows", [])), "columns": st.get("columns", [])}

    r = await call(client, "run_query", {"name": "port_scan", "captures": ["synscan.pcapng"]})
    st = r["structured"] or {}
    s["port_scan"] = {
        "is_error": r["is_error"],
        "kind": st.get("kind"),
        "findings": len(st.get("findings", [])),
        "frames": sum(len(f.get("frames", [])) for f in st.get("findings", [])),
        "files": sorted({str(f.get("file")) for f in st.get("findings", [])}),
    }

    for mode, extra in (("latest", {}), ("all", {}), ("file", {"file": "synscan.pcapng"})):
        r = await call(client, "analyze", {"mode": mode, **extra})
        st = r["structured"] or {}
        s[f"analyze_{mode}"] = {
            "is_error": r["is_error"],
            "files": st.get("files"),
            "packets": st.get("packets"),
            "findings_total": st.get("findings_total"),
            "verdict": st.get("verdict"),
            "error_text": r["text"] if r["is_error"] else None,
        }

    r = await call(client, "capture_live", {"seconds": 1})
    s["capture_live"] = {"is_error": r["is_error"], "text": r["text"]}
    return s


async def scripted(client, calls):
    """The calls listed in CALLS.json ([{"tool", "args", "pages"}]): each result, and with
    "pages" the rows (or findings) of every page, following next_cursor to the end."""
    out = {"instructions": client.instructions or "", "results": []}
    for c in calls:
        r = await call(client, c["tool"], c.get("args", {}))
        res = {"is_error": r["is_error"], "text": r["text"], "structured": r["structured"], "pages": 1}
        if c.get("pages") and not r["is_error"]:
            st = r["structured"]
            rows = list(st.get("rows") or st.get("findings") or [])
            while st.get("truncated") and res["pages"] < 200:
                nxt = await call(client, c["tool"], {"cursor": st["next_cursor"]})
                if nxt["is_error"]:
                    res["page_error"] = nxt["text"]
                    break
                st = nxt["structured"]
                res["pages"] += 1
                rows.extend(st.get("rows") or st.get("findings") or [])
            res["all_rows"] = rows
        out["results"].append(res)
    return out


async def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--netql")
    ap.add_argument("--captures")
    ap.add_argument("--cache")
    ap.add_argument("--url")
    ap.add_argument("--token", help="bearer token for --url (sent as Authorization: Bearer ...)")
    ap.add_argument("--mode", default="auto", help="auto, legacy or a protocol version")
    ap.add_argument("--mcp-arg", action="append", default=[], help="a flag of `netql mcp` itself (repeatable)")
    ap.add_argument("--calls", help="a JSON file of calls to make instead of the built-in exercise")
    a = ap.parse_args()
    if a.url and a.token:
        from mcp.client.streamable_http import create_mcp_http_client, streamable_http_client

        http = create_mcp_http_client(headers={"Authorization": f"Bearer {a.token}"})
        target = streamable_http_client(a.url, http_client=http)
    elif a.url:
        target = a.url
    else:
        target = StdioServerParameters(
            command=a.netql,
            args=["--captures", a.captures, "--cache-dir", a.cache, "mcp", *a.mcp_arg],
            cwd=a.cache,
        )
    async with Client(target, mode=a.mode, read_timeout_seconds=120) as client:
        if a.calls:
            with open(a.calls) as f:
                summary = await scripted(client, json.load(f))
        else:
            summary = await exercise(client, full=not a.url)
    print(json.dumps(summary))


if __name__ == "__main__":
    asyncio.run(main())
