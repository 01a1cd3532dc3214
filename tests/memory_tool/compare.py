"""Runs one memory-tool transcript through the Python SDK's own
`BetaLocalFilesystemMemoryTool` (on a temporary folder) and through a Cairn
node's `POST /v1/stores/{store}/memory-tool`, and fails on the first call
whose `content` or `is_error` differ by a byte.

usage: compare.py URL TOKEN STORE   (the store must exist and be empty)
Run by scripts/memory-tool-compare.sh with the pinned `anthropic` package.
"""

import json
import os
import sys
import tempfile
import urllib.request

from anthropic.tools import BetaLocalFilesystemMemoryTool
from anthropic.lib.tools._tool_dispatch import tool_error_content

LARGE = "".join(f"line {n} of a long memory, with some words to fill it\n" for n in range(1, 3001))

# Calls in order; each runs on both sides. No step leaves an empty directory
# behind (the SDK keeps one, a store has none: docs/memory-tool.md).
TRANSCRIPT = [
    {"command": "view", "path": "/memories"},
    {"command": "view", "path": "/memories/"},
    {"command": "create", "path": "/memories/notes.md", "file_text": "Line 1\nOld Text\nLine 3"},
    {"command": "create", "path": "/memories/notes.md", "file_text": "again"},
    {"command": "create", "path": "/memories/empty.txt", "file_text": ""},
    {"command": "create", "path": "/memories/trailing.txt", "file_text": "alpha\n\n\n"},
    {"command": "create", "path": "/memories/unicode/ünï €.md", "file_text": "héllo wörld ✓\n日本語のメモ\n🙂 emoji line\n"},
    {"command": "create", "path": "/memories/projects/a.md", "file_text": "x" * 2048},
    {"command": "create", "path": "/memories/projects/b.md", "file_text": "y" * 1280},
    {"command": "create", "path": "/memories/projects/deep/c.md", "file_text": "z" * 1536},
    {"command": "create", "path": "/memories/projects/deep/deeper/d.md", "file_text": "hidden by depth"},
    {"command": "create", "path": "/memories/.hidden/secret.md", "file_text": "not listed"},
    {"command": "create", "path": "/memories/.dotfile", "file_text": "not listed"},
    {"command": "create", "path": "/memories/README.md", "file_text": "R"},
    {"command": "create", "path": "/memories/a.txt", "file_text": "a"},
    {"command": "create", "path": "/memories/a/inner.md", "file_text": "inner"},
    {"command": "create", "path": "/memories/large.txt", "file_text": LARGE},
    {"command": "create", "path": "/memories/crlf.txt", "file_text": "one\r\ntwo\r\nthree"},
    {"command": "create", "path": "/memories", "file_text": "x"},
    {"command": "create", "path": "/memories/projects", "file_text": "x"},
    {"command": "create", "path": "/memories/a.txt/under", "file_text": "x"},
    {"command": "create", "path": "/memories/new.md"},
    {"command": "view", "path": "/memories"},
    {"command": "view", "path": "/memories/projects"},
    {"command": "view", "path": "/memories/projects/"},
    {"command": "view", "path": "/memories/unicode"},
    {"command": "view", "path": "/memories/notes.md"},
    {"command": "view", "path": "/memories/empty.txt"},
    {"command": "view", "path": "/memories/trailing.txt"},
    {"command": "view", "path": "/memories/unicode/ünï €.md"},
    {"command": "view", "path": "/memories/crlf.txt"},
    {"command": "view", "path": "/memories/large.txt"},
    {"command": "view", "path": "/memories/large.txt", "view_range": [2990, -1]},
    {"command": "view", "path": "/memories/notes.md", "view_range": [2, 3]},
    {"command": "view", "path": "/memories/notes.md", "view_range": [0, 1]},
    {"command": "view", "path": "/memories/notes.md", "view_range": [2, -1]},
    {"command": "view", "path": "/memories/notes.md", "view_range": [1, -2]},
    {"command": "view", "path": "/memories/notes.md", "view_range": [3, 2]},
    {"command": "view", "path": "/memories/notes.md", "view_range": [10, 20]},
    {"command": "view", "path": "/memories/notes.md", "view_range": [1]},
    {"command": "view", "path": "/memories/./projects/../notes.md"},
    {"command": "view", "path": "/memories/.hidden/secret.md"},
    {"command": "view", "path": "/memories/missing.md"},
    {"command": "view", "path": "/memories/a.txt/under"},
    {"command": "view", "path": "/etc/passwd"},
    {"command": "view", "path": "memories/notes.md"},
    {"command": "view", "path": "/memories/../secrets.env"},
    {"command": "view", "path": "/memories/../../etc/passwd"},
    {"command": "view", "path": "/memories/%2e%2e%2fx"},
    {"command": "view"},
    {"command": "view", "path": 7},
    {"command": "str_replace", "path": "/memories/notes.md", "old_str": "Old Text", "new_str": "New Text"},
    {"command": "str_replace", "path": "/memories/notes.md", "old_str": "Old Text", "new_str": "x"},
    {"command": "str_replace", "path": "/memories/notes.md", "old_str": "Line", "new_str": "x"},
    {"command": "str_replace", "path": "/memories/notes.md", "old_str": "New Text\nLine 3", "new_str": "Two\nlines"},
    {"command": "str_replace", "path": "/memories/notes.md", "old_str": "Two", "new_str": "$& $$ \\1"},
    {"command": "str_replace", "path": "/memories/notes.md", "old_str": "lines"},
    {"command": "str_replace", "path": "/memories/notes.md", "new_str": "x"},
    {"command": "str_replace", "path": "/memories/large.txt", "old_str": "line 1500 of", "new_str": "LINE 1500 OF"},
    {"command": "str_replace", "path": "/memories/unicode/ünï €.md", "old_str": "wörld", "new_str": "Welt 🌍"},
    {"command": "str_replace", "path": "/memories/trailing.txt", "old_str": "\n", "new_str": ""},
    {"command": "str_replace", "path": "/memories/empty.txt", "old_str": "x", "new_str": "y"},
    {"command": "str_replace", "path": "/memories/projects", "old_str": "x", "new_str": "y"},
    {"command": "str_replace", "path": "/memories", "old_str": "x", "new_str": "y"},
    {"command": "str_replace", "path": "/memories/missing.md", "old_str": "x", "new_str": "y"},
    {"command": "create", "path": "/memories/overlap.txt", "file_text": "aaa\nbaaab"},
    {"command": "str_replace", "path": "/memories/overlap.txt", "old_str": "aa", "new_str": "c"},
    {"command": "str_replace", "path": "/memories/overlap.txt", "old_str": "ca", "new_str": "d"},
    {"command": "view", "path": "/memories/overlap.txt"},
    {"command": "insert", "path": "/memories/notes.md", "insert_line": 1, "insert_text": "Inserted Line"},
    {"command": "insert", "path": "/memories/notes.md", "insert_line": 0, "insert_text": "First\n\n"},
    {"command": "view", "path": "/memories/notes.md"},
    {"command": "insert", "path": "/memories/notes.md", "insert_line": 5, "insert_text": "Last"},
    {"command": "insert", "path": "/memories/notes.md", "insert_line": 7, "insert_text": "x"},
    {"command": "insert", "path": "/memories/notes.md", "insert_line": -1, "insert_text": "x"},
    {"command": "insert", "path": "/memories/trailing.txt", "insert_line": 3, "insert_text": "end"},
    {"command": "insert", "path": "/memories/trailing.txt", "insert_line": 4, "insert_text": ""},
    {"command": "insert", "path": "/memories/empty.txt", "insert_line": 0, "insert_text": "only\n"},
    {"command": "insert", "path": "/memories/crlf.txt", "insert_line": 1, "insert_text": "one and a half"},
    {"command": "insert", "path": "/memories/a.txt", "insert_line": 1, "insert_text": "multi\nline"},
    {"command": "insert", "path": "/memories/notes.md", "insert_line": "2", "insert_text": "string line number"},
    {"command": "insert", "path": "/memories/notes.md", "insert_text": "x"},
    {"command": "insert", "path": "/memories/notes.md", "insert_line": 1},
    {"command": "insert", "path": "/memories/projects", "insert_line": 0, "insert_text": "x"},
    {"command": "insert", "path": "/memories/missing.md", "insert_line": 0, "insert_text": "x"},
    {"command": "view", "path": "/memories/notes.md"},
    {"command": "view", "path": "/memories/trailing.txt"},
    {"command": "view", "path": "/memories/empty.txt"},
    {"command": "view", "path": "/memories/crlf.txt"},
    {"command": "view", "path": "/memories/a.txt"},
    {"command": "rename", "old_path": "/memories/a.txt", "new_path": "/memories/moved/a.txt"},
    {"command": "rename", "old_path": "/memories/missing.md", "new_path": "/memories/elsewhere.md"},
    {"command": "rename", "old_path": "/memories/missing.md", "new_path": "/memories/notes.md"},
    {"command": "rename", "old_path": "/memories/notes.md", "new_path": "/memories/README.md"},
    {"command": "rename", "old_path": "/memories/notes.md", "new_path": "/memories"},
    {"command": "rename", "old_path": "/memories", "new_path": "/memories/x"},
    {"command": "rename", "old_path": "/memories/", "new_path": "/memories/x"},
    {"command": "rename", "old_path": "/memories/projects", "new_path": "/memories/projects/sub"},
    {"command": "rename", "old_path": "/memories/README.md", "new_path": "/memories/empty.txt/x"},
    {"command": "rename", "old_path": "/memories/projects/deep", "new_path": "/memories/archive/deep"},
    {"command": "rename", "old_path": "/memories/notes.md", "new_path": "/etc/x"},
    {"command": "rename", "old_path": "/memories/../x", "new_path": "/memories/x"},
    {"command": "view", "path": "/memories"},
    {"command": "view", "path": "/memories/archive"},
    {"command": "delete", "path": "/memories"},
    {"command": "delete", "path": "/memories/"},
    {"command": "delete", "path": "/memories/."},
    {"command": "delete", "path": "/memories/missing.md"},
    {"command": "delete", "path": "/memories/README.md/x"},
    {"command": "delete", "path": "/memories/README.md"},
    {"command": "delete", "path": "/memories/archive"},
    {"command": "delete", "path": "/memories/../x"},
    {"command": "view", "path": "/memories"},
    {"command": "undo", "path": "/memories/x"},
    {"path": "/memories/x"},
]


def sdk_call(tool, call):
    try:
        return {"content": tool.call(call), "is_error": False}
    except Exception as error:  # the tool runner's own rendering
        return {"content": tool_error_content(error), "is_error": True}


def cairn_call(url, token, store, call):
    request = urllib.request.Request(
        f"{url}/v1/stores/{store}/memory-tool",
        data=json.dumps(call).encode(),
        method="POST",
        headers={
            "Authorization": f"Bearer {token}",
            "Content-Type": "application/json",
            "X-Cairn-Agent": "compare",
            "X-Cairn-Session": "compare-sdk",
        },
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.load(response)


def main():
    url, token, store = sys.argv[1:4]
    with tempfile.TemporaryDirectory(dir=os.environ.get("COMPARE_TMP")) as base:
        tool = BetaLocalFilesystemMemoryTool(base_path=base)
        dir_size = os.stat(os.path.join(base, "memories")).st_size
        if dir_size != 4096:
            sys.exit(f"error: directories on {base} have st_size {dir_size}, not 4096 (ext4); set COMPARE_TMP")
        for index, call in enumerate(TRANSCRIPT):
            expected = sdk_call(tool, call)
            got = cairn_call(url, token, store, call)
            if got != expected:
                print(f"call {index}: {json.dumps(call)[:300]}", file=sys.stderr)
                print(f"  sdk:   {json.dumps(expected)[:2000]}", file=sys.stderr)
                print(f"  cairn: {json.dumps(got)[:2000]}", file=sys.stderr)
                sys.exit(1)
    print(f"memory tool: {len(TRANSCRIPT)} calls, every content equal to the SDK's")


if __name__ == "__main__":
    main()
