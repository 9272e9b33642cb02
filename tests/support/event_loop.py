"""Run a coroutine to completion from a synchronous test, whatever else is running.

After the browser tests, Playwright's event loop still runs in the main thread, and
`asyncio.run()` refuses to start inside it: the coroutine gets its own thread and loop.
Exceptions reach the caller.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

T = TypeVar("T")


def run_in_own_loop(make: Callable[[], Coroutine[Any, Any, T]]) -> T:
    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(lambda: asyncio.run(make())).result()
