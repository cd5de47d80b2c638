# escape: open a connection with asyncio
# scanned: scan_rejected
# unscanned: sandbox_violation @ interpreter ~ import of `asyncio` is refused
# evidence: no_connection
import asyncio
def attack():
    asyncio.run(asyncio.open_connection('127.0.0.1', 47811))
