# lxbrand: `make setup` installs and builds everything, `make test` runs the tests.
PY ?= python3
EXAMPLES ?= 2000

.PHONY: setup build testbins test conformance realworld bench bench-quick clean

setup: build
	$(PY) -c "import lxbrand.rootfs as r; print(r.cached())"

build:
	$(PY) -m pip install --quiet --no-build-isolation -e '.[test]'
	$(MAKE) -C testbins

testbins:
	$(MAKE) -C testbins

test: build
	$(PY) -m pytest -q tests

conformance: build
	LXB_EXAMPLES=$(EXAMPLES) $(PY) -m pytest -q tests/conformance -p no:cacheprovider -s

realworld: build
	$(PY) -m tests.realworld

bench: build
	$(PY) -m bench

bench-quick: build
	$(PY) -m bench --quick

clean:
	rm -rf build lxbrand/_lxbrand_c*.so lxbrand/_lxbrand_c.c *.egg-info
	$(MAKE) -C testbins clean
