import asyncio

import pytest

from conftest import source
from pyward_client import Client, PywardError


def run(coroutine):
    return asyncio.run(coroutine)


def test_load_call_and_list(daemon):
    async def go():
        async with Client(daemon.socket) as client:
            loaded = await client.load("calc", source("calc.py"))
            assert loaded["commands"][0]["name"] == "calc"
            result = await client.call_command("calc", "calc", "6 * 7", user="@ann")
            assert result["result"] == "42"
            assert [m["name"] for m in await client.modules()] == ["calc"]
    run(go())


def test_host_calls_go_to_registered_handlers(daemon):
    async def go():
        client = Client(daemon.socket)
        store, replies = {}, []

        @client.host("reply")
        async def reply(module, args, event):
            replies.append((module, args["text"], event["chat"]))

        @client.host("kv_get")
        async def kv_get(module, args, event):
            return store.get((module, args["key"]))

        @client.host("kv_set")
        async def kv_set(module, args, event):
            store[(module, args["key"])] = args["value"]

        await client.connect()
        await client.load("greet", source("async_greeter.py"))
        for _ in range(2):
            await client.call_command("greet", "welcome", "Ann", user="@ann", event={"chat": "c1", "sender": "@ann"})
        assert replies[-1] == ("greet", "Welcome, Ann! You are guest number 2.", "c1")
        await client.close()
    run(go())


def test_errors_carry_the_reason(daemon):
    async def go():
        client = Client(daemon.socket)

        @client.host("kv_set")
        async def kv_set(module, args, event):
            return None

        async with client:
            await client.load("poll", source("poll.py"))
            with pytest.raises(PywardError) as refused:
                await client.call_command("poll", "poll", "Q? | a | b", user="@nobody")
            assert refused.value.reason == "acl_denied"
            with pytest.raises(PywardError) as rejected:
                await client.load("evil", "import os\n")
            assert rejected.value.reason == "scan_rejected"
            assert rejected.value.data["findings"][0]["rule"] == "forbidden-import"
            await client.grant("@nobody", "poll", "poll", expires_in=60)
            result = await client.call_command("poll", "poll", "Q? | a | b", user="@nobody",
                                               event={"chat": "c", "sender": "@nobody"})
            assert result["result"].startswith("Q?")
    run(go())


def test_reconnects_after_the_supervisor_restarts(daemon):
    async def go():
        client = Client(daemon.socket, backoff=(0.05, 5.0))
        await client.connect()
        await client.load("calc", source("calc.py"))
        daemon.stop()
        daemon.start()
        # The old connection is gone; the next request reconnects, and the module was reloaded.
        for _ in range(50):
            try:
                modules = await client.modules()
                if modules:
                    break
            except (ConnectionError, OSError):
                await asyncio.sleep(0.05)
        result = await client.call_command("calc", "calc", "1 + 1", user="@ann")
        assert result["result"] == "2"
        await client.close()
    run(go())


def test_pipelines_run_one_shot(daemon):
    async def go():
        async with Client(daemon.socket) as client:
            result = await client.run(source("pipeline_aggregate.py"), "aggregate",
                                      [[{"region": "eu", "date": "2024-02-01", "amount": "3"}]])
            assert result["result"]["grand_total"] == 3.0
    run(go())


LONG_LINES = '''import pyward

def big():
    return "x" * 50000

def echo(value):
    return value

def chatty():
    pyward.log("y" * 30000)
    return "logged"
'''


def test_a_line_longer_than_the_client_limit_fails_only_its_request(daemon):
    async def go():
        client = Client(daemon.socket, line_limit=16384)
        logged = []

        @client.host("log")
        async def log(module, args, event):
            logged.append(args["message"])

        async with client:
            await client.load("long", LONG_LINES)
            # The long answer and a short one in flight at once on one connection.
            big = asyncio.ensure_future(client.call_function("long", "big", user="@owner"))
            short = asyncio.ensure_future(client.call_function("long", "echo", ["still here"], user="@owner"))
            with pytest.raises(PywardError) as dropped:
                await big
            assert dropped.value.reason == "line_too_long"
            assert "line_limit" in dropped.value.message
            assert (await short)["result"] == "still here"
            # A host call too long to read is refused to the module, not left waiting.
            with pytest.raises(PywardError) as failed:
                await client.call_function("long", "chatty", user="@owner")
            assert failed.value.reason == "module_error"
            assert "line_limit" in failed.value.data["detail"]
            assert logged == []
            # And the connection goes on.
            assert (await client.call_function("long", "echo", [1], user="@owner"))["result"] == 1
    run(go())


def test_the_supervisor_never_sends_a_line_over_its_limit():
    from conftest import Daemon

    # A result within its own budget, but longer than a line may be (server.max_line_bytes,
    # 1 MiB by default, which is also the client's default line_limit).
    daemon = Daemon('[budgets]\nmax_result_bytes = 4194304\n')
    try:
        async def go():
            async with Client(daemon.socket) as client:
                await client.load("long", LONG_LINES.replace("50000", "1500000"))
                with pytest.raises(PywardError) as refused:
                    await client.call_function("long", "big", user="@owner")
                assert refused.value.reason == "budget_exceeded"
                assert refused.value.data["budget"] == "server.max_line_bytes"
                assert "server.max_line_bytes" in refused.value.message
                assert (await client.call_function("long", "echo", [2], user="@owner"))["result"] == 2
        run(go())
    finally:
        daemon.cleanup()
