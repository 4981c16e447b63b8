"""A real MCP client (the official Python `mcp` SDK) driven by tai's Rust tests and benchmark.

Usage:
  mcp_client.py stdio STEPS_JSON [NAME=VALUE...] -- COMMAND [ARGS...]   (NAME=VALUE: server env)
  mcp_client.py http STEPS_JSON URL [--token TOKEN]

STEPS_JSON is a JSON list of steps, run in order on one connection:
  {"op": "list_tools"}                                   -> {"tools": [{"name", "input_schema"}]}
  {"op": "call", "tool": NAME, "args": {...}}            -> {"is_error", "texts", "structured"}
  {"op": "list_resources"}                               -> {"uris": [...]} (percent-decoded)
  {"op": "read_resource", "uri": URI}                    -> {"texts": [...]}
  {"op": "get_prompt", "name": NAME, "args": {...}}      -> {"texts": [...]}
  {"op": "bench", "tool": NAME, "args": {...}, "n": N}   -> {"ms": [per-call milliseconds], "errors": k}
Prints one JSON object {"results": [...]} on stdout; a connection failure prints
{"error": "..."} and exits 2.
"""

import asyncio
import json
import sys
import time
from urllib.parse import unquote

from mcp import Client
from mcp.client.stdio import StdioServerParameters
from mcp.client.streamable_http import streamable_http_client
from mcp.shared._httpx_utils import create_mcp_http_client


def texts(content):
    return [c.text for c in content if getattr(c, "type", None) == "text"]


async def run_steps(client, steps):
    out = []
    for step in steps:
        op = step["op"]
        if op == "list_tools":
            r = await client.list_tools()
            out.append({"tools": [{"name": t.name, "input_schema": t.input_schema} for t in r.tools]})
        elif op == "call":
            r = await client.call_tool(step["tool"], step.get("args", {}))
            out.append(
                {
                    "is_error": bool(r.is_error),
                    "texts": texts(r.content),
                    "structured": r.structured_content,
                }
            )
        elif op == "list_resources":
            r = await client.list_resources()
            out.append({"uris": [unquote(str(x.uri)) for x in r.resources]})
        elif op == "read_resource":
            r = await client.read_resource(step["uri"])
            out.append({"texts": [getattr(c, "text", "") for c in r.contents]})
        elif op == "get_prompt":
            r = await client.get_prompt(step["name"], step.get("args", {}))
            out.append({"texts": [m.content.text for m in r.messages]})
        elif op == "bench":
            ms, errors = [], 0
            for _ in range(step["n"]):
                t = time.perf_counter()
                r = await client.call_tool(step["tool"], step.get("args", {}))
                ms.append((time.perf_counter() - t) * 1000.0)
                errors += 1 if r.is_error else 0
            out.append({"ms": ms, "errors": errors, "last": texts(r.content)[:1]})
        else:
            raise ValueError(f"unknown step {op!r}")
    return out


async def main(argv):
    mode, steps = argv[1], json.loads(argv[2])
    if mode == "stdio":
        sep = argv.index("--")
        env = dict(kv.split("=", 1) for kv in argv[3:sep])
        cmd = argv[sep + 1 :]
        server = StdioServerParameters(command=cmd[0], args=cmd[1:], env=env or None)
        async with Client(server) as client:
            return await run_steps(client, steps)
    if mode == "http":
        url = argv[3]
        headers = {}
        if "--token" in argv:
            headers["Authorization"] = "Bearer " + argv[argv.index("--token") + 1]
        http = create_mcp_http_client(headers=headers)
        async with http:
            async with Client(streamable_http_client(url, http_client=http)) as client:
                return await run_steps(client, steps)
    raise ValueError(f"unknown mode {mode!r}")


if __name__ == "__main__":
    try:
        results = asyncio.run(main(sys.argv))
    except BaseException as e:  # noqa: BLE001 - report any failure to the Rust side as JSON
        print(json.dumps({"error": f"{type(e).__name__}: {e}"}))
        sys.exit(2)
    print(json.dumps({"results": results}))
