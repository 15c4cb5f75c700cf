"""Builds the compiled core: the Cython modules in cext/ become extension modules of `oms`."""
import numpy
from Cython.Build import cythonize
from setuptools import Extension, setup

# x86-64-v2 includes SSE4.2: the journal's CRC32C uses the crc32 instruction
COMPILE_ARGS = ["-O3", "-march=x86-64-v2", "-Wno-unused-function"]

extensions = [
    Extension(                       # the router: venue rows, listings, the routing decision
        "oms._router",
        ["cext/oms/_router.pyx"],
        include_dirs=["cext/oms", numpy.get_include()],
        extra_compile_args=COMPILE_ARGS,
    ),
    Extension(
        "oms._engine",
        ["cext/oms/_engine.pyx"],
        include_dirs=["cext/oms", numpy.get_include()],
        extra_compile_args=COMPILE_ARGS,
    ),
    Extension(
        "oms._journal",
        ["cext/oms/_journal.pyx"],
        include_dirs=["cext/oms", numpy.get_include()],
        extra_compile_args=COMPILE_ARGS,
    ),
    Extension(                       # FIX codec of the gateways
        "oms._fix",
        ["cext/oms/_fix.pyx"],
        include_dirs=["cext/oms", numpy.get_include()],
        extra_compile_args=COMPILE_ARGS,
    ),
    Extension(                       # FIX initiator codec towards external venues
        "oms._venue_fix",
        ["cext/oms/_venue_fix.pyx"],
        include_dirs=["cext/oms", numpy.get_include()],
        extra_compile_args=COMPILE_ARGS,
    ),
    Extension(                       # binary protocol codec of the gateways
        "oms._binary",
        ["cext/oms/_binary.pyx"],
        include_dirs=["cext/oms", numpy.get_include()],
        extra_compile_args=COMPILE_ARGS,
    ),
]

setup(
    ext_modules=cythonize(
        extensions,
        include_path=["cext"],
        compiler_directives={"language_level": "3"},
    ),
)
