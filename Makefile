# lxbrand.  `make setup` installs what it needs, builds, makes the Debian
# rootfs and runs a real program in a zone; `make test` runs the tests.
PY ?= python3
EXAMPLES ?= 2000
APT_PACKAGES := libseccomp-dev mmdebstrap debootstrap bubblewrap proot strace busybox-static \
                iproute2 util-linux procps gcc make file podman runc uidmap skopeo umoci containerd libjansson-dev passt \
                python3-venv python3-dev clang libbpf-dev bpftool
PIP_PACKAGES := wheel setuptools cffi click construct hypothesis pytest

# lxrun(1): into /usr/local/share/man as root, else ~/.local/share/man
MANDIR ?= $(if $(filter 0,$(shell id -u)),/usr/local/share/man,$(HOME)/.local/share/man)

.PHONY: setup deps build install-shared testbins test conformance conformance-traced realworld realworld-traced bench \
        bench-quick clean manpage install-man

setup: deps build install-man $(if $(filter 0,$(shell id -u)),install-shared)
	@root=$$($(PY) -m lxbrand.rootfs) && echo "rootfs: $$root" && \
	  lxrun "$$root" python3 -c 'import os, platform; print("hello from", platform.node(), "as pid", os.getpid(), "on", platform.platform())'

deps:
	@missing=$$(for p in $(APT_PACKAGES); do dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null | \
	  grep -q '^install ok installed' || echo $$p; done); \
	if [ -n "$$missing" ]; then \
	  echo "apt-get install $$missing"; \
	  DEBIAN_FRONTEND=noninteractive apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing >/dev/null; \
	fi
	$(PY) -m pip install --quiet --disable-pip-version-check --root-user-action=ignore $(PIP_PACKAGES)

# pip installs the Python CLI as lxrun and lxrun-py; the C front door
# (csrc/frontdoor/) then takes lxrun's place, and the brand of a zone with
# default options is compiled into its cache
build:
	$(PY) -m pip install --quiet --disable-pip-version-check --root-user-action=ignore \
	  --no-build-isolation -e '.[test]'
	$(MAKE) lxbrand/lxbrand-init
	$(MAKE) -C csrc/frontdoor PY=$(PY) install
	$(PY) -c 'from lxbrand.brand.compile import Brand, store_frontdoor; store_frontdoor(Brand())'
	$(MAKE) -C testbins

# a zone started from Python has its init cloned by this small program, not
# by the interpreter (csrc/launcher.c, csrc/init/lxbrand-init.c)
INIT_SOURCES := csrc/init/lxbrand-init.c $(addprefix csrc/,launcher.c zone_init.c zone_guest.c zone_fs.c \
                zone_util.c zone_proc.c)
lxbrand/lxbrand-init: $(INIT_SOURCES) csrc/lxbrand.h csrc/zone_int.h csrc/zone_proto.h
	$(CC) -O2 -g -std=gnu11 -Wall -Wextra -Wno-unused-parameter -Icsrc -o $@ $(INIT_SOURCES)

testbins:
	$(MAKE) -C testbins

manpage:        # regenerate docs/lxrun.1 from the click definitions
	$(PY) -m lxbrand.manpage > docs/lxrun.1

install-man:
	install -D -m 644 docs/lxrun.1 $(MANDIR)/man1/lxrun.1

# lxrun for every user of the host (`make setup` as root does it): PY may be
# out of other users' reach (pyenv in root's 0700 home), so SHARED gets its
# own copy of this tree, installed as `make build` installs it but into a
# venv of the system's python3 (SYSPY), and lxrun and lxrun-py are linked
# from BINDIR (/usr/local/bin as root).  Made again, from nothing, by each
# run; root's own lxrun stays PY's.  The copy's lxbrand-oci is linked only
# inside SHARED (podman's stays PY's).
LXBRAND_SHARED ?= /opt/lxbrand
SHARED := $(LXBRAND_SHARED)
SYSPY ?= /usr/bin/python3
BINDIR ?= $(if $(filter 0,$(shell id -u)),/usr/local/bin,$(HOME)/.local/bin)
install-shared:
	@test -x $(SYSPY) || { echo "install-shared: no $(SYSPY) (SYSPY=...)"; exit 1; }
	rm -rf $(SHARED) && mkdir -p $(SHARED)/src
	tar -c --exclude=./.git --exclude=./build --exclude=./.hypothesis --exclude=./.pytest_cache --exclude=__pycache__ --exclude='*.so' --exclude='*.egg-info' \
	  --exclude=./lxbrand/lxbrand-init . | tar -x -C $(SHARED)/src
	$(SYSPY) -m venv $(SHARED)/venv
	$(SHARED)/venv/bin/pip install --quiet --disable-pip-version-check wheel setuptools cffi click construct
	cd $(SHARED)/src && $(SHARED)/venv/bin/pip install --quiet --disable-pip-version-check --no-build-isolation -e .
	$(MAKE) -C $(SHARED)/src lxbrand/lxbrand-init
	$(MAKE) -C $(SHARED)/src/csrc/frontdoor PY=$(SHARED)/venv/bin/python BINDIR=$(SHARED)/bin install
	chmod -R a+rX $(SHARED)
	@mkdir -p $(BINDIR) && ln -sfn $(SHARED)/venv/bin/lxrun $(BINDIR)/lxrun && \
	  ln -sfn $(SHARED)/venv/bin/lxrun-py $(BINDIR)/lxrun-py && \
	  echo "lxrun for every user: $(BINDIR)/lxrun -> $(SHARED)/venv/bin/lxrun"

test: build
	$(PY) -m pytest -q tests

conformance: build
	LXB_EXAMPLES=$(EXAMPLES) $(PY) -m pytest -q tests/conformance -p no:cacheprovider -s

realworld: build
	$(PY) -m tests.realworld

# the same two suites with every zone under --trace=$(TRACE) --stats --report
# (issue 13: a zone's behaviour does not change under tracing)
TRACE ?= all
conformance-traced: build
	LXB_TRACE='$(TRACE)' LXB_EXAMPLES=$(EXAMPLES) $(PY) -m pytest -q tests/conformance -p no:cacheprovider -s

realworld-traced: build
	$(PY) -m tests.realworld --trace='$(TRACE)'

bench: build       # the default runners into bench/RESULTS.md, then --trace/--stats/--report beside strace
	$(PY) -m bench
	$(PY) -m bench --runners tracing --only w1,w2,w3,w4,w5,w6,w7 --output bench/tracing

bench-quick: build
	$(PY) -m bench --quick

clean:
	rm -rf build lxbrand/_lxbrand_c*.so lxbrand/_lxbrand_c.c lxbrand/lxbrand-init *.egg-info
	$(MAKE) -C testbins clean
