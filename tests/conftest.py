import importlib.util
import os
import sys
import types

_HERE = os.path.dirname(os.path.abspath(__file__))
_SRC = os.path.join(os.path.dirname(_HERE), "src")
if _HERE not in sys.path:            # `import model`, `import strategies`
    sys.path.insert(0, _HERE)

try:
    import oms  # noqa: F401
except ImportError:
    # Not installed, or the compiled core is not built (oms/__init__ imports oms._engine).
    # The reference model needs only the pure-Python modules (layout, codes, config), so
    # register a bare package whose submodules load from the source tree; anything that
    # needs the engine (test_model_equivalence) still skips via importorskip.
    for name in [m for m in sys.modules if m == "oms" or m.startswith("oms.")]:
        del sys.modules[name]
    spec = importlib.util.find_spec("oms")
    pkg_dir = (os.path.dirname(spec.origin) if spec and spec.origin
               else os.path.join(_SRC, "oms"))
    pkg = types.ModuleType("oms")
    pkg.__path__ = [pkg_dir]
    pkg.__file__ = os.path.join(pkg_dir, "__init__.py")
    sys.modules["oms"] = pkg
