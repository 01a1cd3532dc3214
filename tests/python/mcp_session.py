"""Drives a Cairn node's `/mcp` through the official Python MCP SDK (`mcp`,
pinned in scripts/mcp-venv.sh) over Streamable HTTP: initialize, the tool
list, every tool, a version conflict, and a write refused on a read-only
token.

Run by tests/node/mcp.rs, which checks the store through Cairn's own API: it
reads the JSON this script prints on its last line.
Usage: mcp_session.py BASE_URL TOKEN READ_ONLY_TOKEN STORE
"""

import json
import sys

import anyio
import httpx2
from mcp.client.session import ClientSession
from mcp.client.streamable_http import streamable_http_client

base_url, token, read_only_token, store = sys.argv[1:5]
TOOLS = ["delete", "history", "insert", "list_stores", "read", "rename", "search", "str_replace", "view", "write"]


async def call(session, tool, arguments):
    """A tool's text and whether it is a tool error."""
    result = await session.call_tool(tool, arguments)
    text = "\n".join(block.text for block in result.content if block.type == "text")
    return text, result.is_error


async def ok(session, tool, arguments):
    text, is_error = await call(session, tool, arguments)
    assert not is_error, f"{tool}: {text}"
    return json.loads(text)


async def connected(bearer, headers, body):
    headers = {"Authorization": f"Bearer {bearer}", **headers}
    async with httpx2.AsyncClient(headers=headers, timeout=30) as http:
        async with streamable_http_client(f"{base_url}/mcp", http_client=http) as streams:
            read_stream, write_stream = streams[0], streams[1]
            async with ClientSession(read_stream, write_stream) as session:
                init = await session.initialize()
                return await body(session, init)


async def writer(session, init):
    assert init.server_info.name == "cairn", init
    tools = (await session.list_tools()).tools
    assert sorted(tool.name for tool in tools) == TOOLS, [tool.name for tool in tools]
    for tool in tools:
        assert tool.input_schema["type"] == "object" and tool.description, tool

    stores = await ok(session, "list_stores", {})
    assert store in [s["name"] for s in stores["stores"]], stores
    v1 = (await ok(session, "write", {"store": store, "path": "/py/a.md", "content": "alpha\nbeta\n", "only_if_absent": True}))["version"]
    read = await ok(session, "read", {"store": store, "path": "/py/a.md"})
    assert (read["content"], read["version"]) == ("alpha\nbeta\n", v1), read
    view, is_error = await call(session, "view", {"store": store, "path": "/py/a.md"})
    assert not is_error and "     2\tbeta" in view, view
    listing, is_error = await call(session, "view", {"store": store, "path": "/py/"})
    assert not is_error and "/py/a.md" in listing, listing
    v2 = (await ok(session, "str_replace", {"store": store, "path": "/py/a.md", "old_str": "beta", "new_str": "BETA", "expected_version": v1}))["version"]
    conflict, is_error = await call(session, "write", {"store": store, "path": "/py/a.md", "content": "lost", "expected_version": v1})
    assert is_error and conflict.startswith("version_conflict: ") and f"current version is {v2}" in conflict, conflict
    v3 = (await ok(session, "insert", {"store": store, "path": "/py/a.md", "insert_line": 2, "insert_text": "gamma\n"}))["version"]
    v4 = (await ok(session, "rename", {"store": store, "old_path": "/py/a.md", "new_path": "/py/b.md"}))["version"]
    history = await ok(session, "history", {"store": store, "path": "/py/b.md"})
    assert history["versions"][0]["version"] == v4, history
    found = await ok(session, "search", {"store": store, "query": "BETA", "path_prefix": "/py"})
    assert [(m["path"], m["version"], m["line_number"], m["line"]) for m in found["matches"]] == [("/py/b.md", v4, 2, "BETA")], found
    found = await ok(session, "search", {"store": store, "query": "^(alpha|gamma)$", "regex": True, "path_prefix": "/py", "limit": 1})
    assert [m["line_number"] for m in found["matches"]] == [1] and found["next_cursor"], found
    found = await ok(session, "search", {"store": store, "query": "^(alpha|gamma)$", "regex": True, "path_prefix": "/py", "limit": 1, "cursor": found["next_cursor"]})
    assert [m["line_number"] for m in found["matches"]] == [3] and "next_cursor" not in found, found
    bad, is_error = await call(session, "search", {"store": store, "query": "(", "regex": True})
    assert is_error and bad.startswith("invalid_pattern: "), bad
    await ok(session, "write", {"store": store, "path": "/py/tmp.md", "content": "tmp"})
    deleted = await ok(session, "delete", {"store": store, "path": "/py/tmp.md"})
    assert deleted["deleted"] == ["/py/tmp.md"], deleted
    return {"versions": [v1, v2, v3, v4], "session": history["versions"][0]["session"]}


async def reader(session, init):
    read = await ok(session, "read", {"store": store, "path": "/py/b.md"})
    denied, is_error = await call(session, "write", {"store": store, "path": "/py/b.md", "content": "x"})
    assert is_error and denied.startswith("forbidden: "), denied
    return {"read": read["content"], "denied": denied}


async def main():
    written = await connected(token, {"X-Cairn-Agent": "python-mcp"}, writer)
    refused = await connected(read_only_token, {}, reader)
    print(json.dumps({**written, **refused}))


anyio.run(main)
