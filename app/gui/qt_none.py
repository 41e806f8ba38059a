"""A guard against a PySide6 reference-count bug on CPython older than 3.12.

Some PySide6 builds (6.12.0 here) return ``None`` from every method that returns ``void`` in C++
(``QPainter.drawLine``, ``QLabel.setText``, ``QWidget.update`` ...) without taking a reference to
it. On CPython 3.12 and later ``None`` is immortal (PEP 683) and nothing happens; on 3.11 each such
call lowers ``None``'s count by one, and after a few thousand calls (a few repaints of a chart) the
interpreter aborts with "Fatal Python error: none_dealloc: deallocating None".

:func:`protect` measures the leak and, only where it exists, gives ``None`` a count so large that no
run can bring it to zero: what CPython 3.12 does for every immortal object. :class:`cairn.app.gui.tasks.Tasks`
calls it when it is made, before any view exists."""

from __future__ import annotations

import ctypes
import logging
import sys

from PySide6.QtCore import QRectF

log = logging.getLogger(__name__)
PROBES = 64
HEADROOM = 1 << 40  # references added: more than any process makes calls
_protected = False


def leaks() -> bool:
    """Does a call of a ``void`` method drop a reference to ``None``?"""
    probe = QRectF()
    before = sys.getrefcount(None)
    for _ in range(PROBES):
        probe.setWidth(1.0)
    return before - sys.getrefcount(None) >= PROBES


def protect() -> bool:
    """Make ``None`` effectively immortal where PySide6 leaks it; True when this call did so."""
    global _protected
    if _protected or sys.implementation.name != "cpython" or sys.version_info >= (3, 12) or not leaks():
        return False
    # ob_refcnt is the first field of every object; the GIL is held, and nothing here releases it.
    ctypes.c_ssize_t.from_address(id(None)).value += HEADROOM
    _protected = True
    log.info("PySide6 drops a reference to None on each void call; None made immortal, as in Python 3.12")
    return True
