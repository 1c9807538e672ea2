"""Progress bars (tqdm, optional): shown on a terminal, silent when output is redirected or when asked."""

from __future__ import annotations

import sys
import time
from collections.abc import Iterable, Iterator
from typing import Any


def want_progress(quiet: bool | None) -> bool:
    """Progress bars unless quiet, or stderr is not a terminal, or tqdm is not installed."""
    if quiet:
        return False
    if quiet is None and not sys.stderr.isatty():
        return False
    try:
        import tqdm  # noqa: F401
    except ImportError:
        return False
    return True


class Progress:
    """A bar over an iterable with a postfix (running loss/accuracy) refreshed at most 10 times a second."""

    def __init__(self, iterable: Iterable, enabled: bool, total: int | None = None, desc: str = "", leave: bool = True):
        self.iterable = iterable
        self.bar: Any = None
        if enabled:
            from tqdm.auto import tqdm

            self.bar = tqdm(iterable, total=total, desc=desc, leave=leave, dynamic_ncols=True, file=sys.stderr)
        self._last = 0.0

    def __iter__(self) -> Iterator:
        return iter(self.bar if self.bar is not None else self.iterable)

    def postfix(self, force: bool = False, **values: Any) -> None:
        """Show ``values`` after the bar; throttled unless ``force`` (the epoch bar must end on the last epoch's)."""
        if self.bar is None:
            return
        now = time.monotonic()
        if force or now - self._last >= 0.1:
            self._last = now
            self.bar.set_postfix(
                {k: f"{v:.4g}" if isinstance(v, float) else v for k, v in values.items()}, refresh=False
            )

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
