"""cffi builder for lxbrand._lxbrand_c: csrc/*.c against libseccomp.

The cdef is the block of csrc/lxbrand.h between CFFI-BEGIN and CFFI-END, so
the header stays the one description of the C/Python interface.
"""
import os
import subprocess
import sys

from cffi import FFI

HERE = os.path.dirname(os.path.abspath(__file__))
CSRC = os.path.join(os.path.dirname(HERE), "csrc")


def _cdef() -> str:
    blocks = []
    # lxbrand.h, then csrc/perfstats.h (--stats from the syscall tracepoints)
    for header in ("lxbrand.h", "perfstats.h"):
        with open(os.path.join(CSRC, header)) as f:
            text = f.read()
        blocks.append(text.split("/* CFFI-BEGIN */", 1)[1].split("/* CFFI-END */", 1)[0])
    return "\n".join(blocks).replace("/* PYTHON-CALLBACK */", 'extern "Python+C"')


# the tracer's decoding table, generated from the brand's (csrc/trace_gen.py)
GEN = os.path.join(os.path.dirname(HERE), "build", "gen")
subprocess.run([sys.executable, os.path.join(CSRC, "trace_gen.py"), "-o", os.path.join(GEN, "trace_table.h")],
               check=True)

ffibuilder = FFI()
ffibuilder.cdef(_cdef())
ffibuilder.set_source(
    "lxbrand._lxbrand_c",
    '#include "lxbrand.h"\n#include "perfstats.h"\n',
    sources=[os.path.relpath(os.path.join(CSRC, n), os.getcwd())
             for n in sorted(os.listdir(CSRC)) if n.endswith(".c")],
    include_dirs=[CSRC, GEN],
    libraries=["seccomp", "m"],
    extra_compile_args=["-O2", "-Wall", "-Wextra", "-Wno-unused-parameter", "-std=gnu11"],
)

if __name__ == "__main__":
    ffibuilder.compile(tmpdir=os.path.join(os.path.dirname(HERE), "build", "cffi"), verbose=True)
