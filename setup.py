# cffi builds lxbrand._lxbrand_c from csrc/ (see lxbrand/_build.py).
from setuptools import setup

setup(cffi_modules=["lxbrand/_build.py:ffibuilder"])
