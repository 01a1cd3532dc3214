"""Drives a Cairn node through the official `anthropic` SDK's
`client.beta.memory_stores` (base_url = the node, api_key = a Cairn token),
then tries the SDK's self-hosted sandbox sync (`SessionMemoryStores`).

Run by tests/node/managed.rs, which checks the results through Cairn's own
API: it reads the JSON this script prints on its last line.
Usage: managed_memory.py BASE_URL TOKEN SYNC_DIR | managed_memory.py BASE_URL TOKEN --delete STORE_ID
"""

import asyncio
import hashlib
import json
import sys
import types

import anthropic

base_url, token, sync_dir = sys.argv[1], sys.argv[2], sys.argv[3]
client = anthropic.Anthropic(base_url=base_url, api_key=token, max_retries=0)
ms = client.beta.memory_stores
if sync_dir == "--delete":
    gone = ms.delete(sys.argv[4])
    assert gone.type == "memory_store_deleted" and gone.id == sys.argv[4], gone
    try:
        ms.retrieve(sys.argv[4])
        raise AssertionError("a deleted store was found")
    except anthropic.NotFoundError:
        pass
    sys.exit(0)
SESSION = {"X-Cairn-Session": "sesn_sdk_test"}


def sha(text):
    return hashlib.sha256(text.encode()).hexdigest()


store = ms.create(name="SDK Store", description="made by the SDK", metadata={"owner": "t"})
assert store.id.startswith("memstore_") and store.name == "SDK Store", store
assert ms.retrieve(store.id).description == "made by the SDK"
store = ms.update(store.id, name="Renamed Store", metadata={"owner": None, "k": "v"})
assert store.name == "Renamed Store" and store.metadata == {"k": "v"}, store
assert store.id in [s.id for s in ms.list()]

a = ms.memories.create(store.id, path="/notes/a.md", content="one\n", extra_headers=SESSION)
assert a.id.startswith("mem_") and a.content is None and a.content_sha256 == sha("one\n"), a
b = ms.memories.create(store.id, path="/notes/deep/b.md", content="")
try:
    ms.memories.create(store.id, path="/notes/a.md", content="again")
    raise AssertionError("create over an existing path succeeded")
except anthropic.ConflictError as e:
    assert e.body["error"]["type"] == "memory_path_conflict_error", e.body
    assert e.body["error"]["conflicting_memory_id"] == a.id, e.body

listed = list(ms.memories.list(store.id, path_prefix="/notes/"))
assert sorted(m.path for m in listed) == ["/notes/a.md", "/notes/deep/b.md"], listed
shallow = ms.memories.list(store.id, path_prefix="/notes/", depth=1).data
assert [(i.type, i.path) for i in shallow] == [("memory", "/notes/a.md"), ("memory_prefix", "/notes/deep/")], shallow
paged = ms.memories.list(store.id, limit=1)
assert len(paged.data) == 1 and paged.next_page, paged
assert len(list(ms.memories.list(store.id, limit=1))) == 2
assert ms.memories.retrieve(a.id, memory_store_id=store.id).content == "one\n"

first_version = a.memory_version_id
a2 = ms.memories.update(a.id, memory_store_id=store.id, content="two\n",
                        precondition={"type": "content_sha256", "content_sha256": sha("one\n")},
                        extra_headers=SESSION)
assert a2.id == a.id and a2.content_sha256 == sha("two\n"), a2
try:
    ms.memories.update(a.id, memory_store_id=store.id, content="three\n",
                       precondition={"type": "content_sha256", "content_sha256": sha("one\n")})
    raise AssertionError("a stale precondition was accepted")
except anthropic.ConflictError as e:
    assert e.status_code == 409 and e.body["error"]["type"] == "memory_precondition_failed_error", e.body

moved = ms.memories.update(a.id, memory_store_id=store.id, path="/archive/a.md", view="full")
assert moved.id == a.id and moved.path == "/archive/a.md" and moved.content == "two\n", moved
assert ms.memories.retrieve(a.id, memory_store_id=store.id).path == "/archive/a.md"

by_session = list(ms.memory_versions.list(store.id, session_id="sesn_sdk_test"))
assert [(v.operation, v.path) for v in by_session] == [("modified", "/notes/a.md"), ("created", "/notes/a.md")], by_session
assert all(v.created_by.type == "session_actor" for v in by_session)
of_a = list(ms.memory_versions.list(store.id, memory_id=a.id))
assert [v.operation for v in of_a] == ["modified", "modified", "created"], of_a
assert of_a[0].created_by.type == "api_actor"

redacted = ms.memory_versions.redact(first_version, memory_store_id=store.id)
assert redacted.redacted_at is not None and redacted.content is None and redacted.path is None, redacted
again = ms.memory_versions.retrieve(first_version, memory_store_id=store.id)
assert again.redacted_at is not None and again.content_sha256 is None, again
try:
    ms.memory_versions.redact(moved.memory_version_id, memory_store_id=store.id)
    raise AssertionError("the live head was redacted")
except anthropic.BadRequestError:
    pass

try:
    ms.memories.delete(b.id, memory_store_id=store.id, expected_content_sha256=sha("x"))
    raise AssertionError("a stale delete was accepted")
except anthropic.ConflictError:
    pass
deleted = ms.memories.delete(b.id, memory_store_id=store.id, expected_content_sha256=sha(""))
assert deleted.type == "memory_deleted" and deleted.id == b.id, deleted
try:
    ms.memories.retrieve(b.id, memory_store_id=store.id)
    raise AssertionError("a deleted memory was found")
except anthropic.NotFoundError:
    pass

# The SDK's self-hosted sandbox sync, on a session object built here (Cairn
# serves no sessions): download, edit and add a file locally, sync back.
sync_result = "not run"
try:
    from anthropic.lib.tools._memories import SessionMemoryStores

    async def sync():
        aclient = anthropic.AsyncAnthropic(base_url=base_url, api_key=token, max_retries=0)
        resource = types.SimpleNamespace(type="memory_store", memory_store_id=store.id,
                                         access="read_write", mount_path=sync_dir + "/mnt",
                                         name="renamed-store")
        stores = SessionMemoryStores(aclient, workdir=sync_dir)
        await stores.download(types.SimpleNamespace(resources=[resource]))
        root = stores.roots[0]
        assert (root / "archive" / "a.md").read_text() == "two\n"
        (root / "archive" / "a.md").write_text("edited locally\n")
        (root / "new.md").write_text("made locally\n")
        await stores.finish()
        await stores.dispose()

    asyncio.run(sync())
    sync_result = "ok"
except Exception as e:  # reported, and checked by the Rust test
    sync_result = f"{type(e).__name__}: {e}"

archived = ms.archive(store.id)
assert archived.archived_at is not None
try:
    ms.memories.create(store.id, path="/late.md", content="x")
    raise AssertionError("an archived store took a new memory")
except anthropic.BadRequestError:
    pass
assert store.id not in [s.id for s in ms.list()]
assert store.id in [s.id for s in ms.list(include_archived=True)]

print(json.dumps({"store": store.id, "memory": a.id, "sync": sync_result}))
