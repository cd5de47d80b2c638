# escape: open a connection with asyncio
# scanned: scan_rejected
# unscanned: sandbox_violation @ interpreter ~ refused `socket.__new__`
# kernel: error @ module ~ [Errno 1] Operation not permitted
# evidence: no_connection
import asyncio
def attack():
    asyncio.run(asyncio.open_connection('127.0.0.1', 47811))
