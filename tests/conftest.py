"""Test-suite setup: the helpers beside the tests (`model`, `strategies`, `helpers`, ...)
import by name.  `oms` itself must be installed (`pip install -e '.[test]'`); its compiled
core loads lazily, so the pure-Python modules import even before it is built."""
import os
import sys

_HERE = os.path.dirname(os.path.abspath(__file__))
if _HERE not in sys.path:
    sys.path.insert(0, _HERE)
