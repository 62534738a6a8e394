# pgha.cluster: the two set-up commands are `make demo` and `make test`.
SHELL := /bin/bash
.DEFAULT_GOAL := help
LAB_OS ?= bookworm
LAB_BAKED ?= 1
# make demo PGHA_FAILOVER_MODE=automatic: Patroni + etcd fail over by themselves.
PGHA_FAILOVER_MODE ?=
export LAB_OS LAB_BAKED PGHA_FAILOVER_MODE
VENV := .venv
BIN := $(CURDIR)/$(VENV)/bin
# Python 3.11+ for the controller (ansible-core 2.19). The distribution's own first: Debian builds
# it with profile-guided optimisation, and Ansible's controller spends about a fifth less CPU under
# it than under a plain source build (pyenv's, measured on this lab); the lab's tests are bound by it.
PY ?= $(firstword $(wildcard /usr/bin/python3.11 /usr/bin/python3.12 /usr/bin/python3.13) \
        $(shell command -v python3.11 || command -v python3.12 || command -v python3.13 || command -v python3))
export PATH := $(BIN):$(PATH)
export ANSIBLE_CONFIG := $(CURDIR)/ansible.cfg
SYSTEM_PACKAGES := podman runc fuse-overlayfs slirp4netns uidmap iptables nftables mmdebstrap openssh-client git shellcheck python3-venv curl openssl nginx-light

.PHONY: help deps system-deps venv collection-link collections lab-image lab-images lab-up lab-down lab-logs demo site status \
        test checks molecule-in-turn unit lint sanity molecule molecule-default molecule-trixie molecule-colocated build \
        promtool bench-deploy bench-switchover bench-failover bench-restore switchover failover rejoin clean

help:
	@echo "make demo        install what is missing, start the lab, deploy, print status (PGHA_FAILOVER_MODE=automatic: Patroni + etcd)"
	@echo "make test        every test layer: unit, lint, sanity, molecule (bookworm with the backup, day-2, automatic and three-node layout suites; trixie)"
	@echo "make lab-up / lab-down / lab-logs    the local lab (LAB_OS=bookworm|trixie)"
	@echo "make site / status                   run playbooks/site.yml / status.yml on the lab"
	@echo "make switchover / failover / rejoin  day-2 operations on the lab (-e via ANSIBLE args: see README)"
	@echo "make bench-deploy / bench-switchover / bench-failover / bench-restore   benchmarks (print figures)"

deps: system-deps venv collections

system-deps:
	@missing=""; for p in $(SYSTEM_PACKAGES); do dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q 'install ok installed' || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then echo "installing:$$missing"; apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; fi

$(VENV)/.installed: requirements.txt
	@$(PY) -c 'import sys; sys.exit(sys.version_info < (3, 11))' || { echo "need Python 3.11+ (found $(PY))"; exit 1; }
	$(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -r requirements.txt
	touch $@

venv: $(VENV)/.installed

# Ansible finds this checkout as the collection pgha.cluster through the link
# .collections/ansible_collections/pgha/cluster (committed; recreated here if
# missing), next to the collections requirements.yml declares.
collection-link:
	@mkdir -p .collections/ansible_collections/pgha
	@[ -L .collections/ansible_collections/pgha/cluster ] || ln -sfn ../../.. .collections/ansible_collections/pgha/cluster

# Exactly the collections requirements.yml declares (from a pinned ansible wheel:
# Galaxy is not reachable from every machine; see tools/install_collections.py).
.collections/.installed: requirements.yml tools/install_collections.py $(VENV)/.installed
	$(BIN)/python tools/install_collections.py
	touch $@

collections: collection-link .collections/.installed

lab-image: deps
	lab/lab.sh image

lab-up: deps
	lab/lab.sh up

lab-down:
	lab/lab.sh down

lab-logs:
	lab/lab.sh logs

site: collection-link
	ansible-playbook playbooks/site.yml

status: collection-link
	ansible-playbook playbooks/status.yml

demo: lab-up
	ansible-playbook playbooks/site.yml
	ansible-playbook playbooks/status.yml

# The lab's images first, where they are missing. Then the lab-free checks (unit, lint, sanity,
# one after another, each printed when it ends) run while the first scenario deploys, at the
# lowest CPU priority (nice 19): they take the CPU the deployment leaves idle while it waits on
# its hosts, and barely slow it. The scenarios run one after another (-j1).
test: deps
	$(MAKE) --no-print-directory lab-images
	$(MAKE) --no-print-directory -j2 checks molecule-in-turn

checks: deps $(PROMTOOL)
	@mkdir -p .cache/checks; rc=0; for check in unit lint sanity; do \
	  start=$$SECONDS; \
	  if nice -n 19 $(MAKE) --no-print-directory $$check > .cache/checks/$$check.log 2>&1; then \
	    echo "make $$check: passed in $$((SECONDS - start)) s (.cache/checks/$$check.log)"; \
	  else rc=1; tail -n 150 .cache/checks/$$check.log; echo "make $$check: FAILED in $$((SECONDS - start)) s"; fi; \
	done; exit $$rc

molecule-in-turn: deps
	$(MAKE) --no-print-directory -j1 molecule

# Both lab images (bookworm and trixie), for the molecule scenarios.
lab-images: deps
	LAB_OS=bookworm lab/lab.sh image
	LAB_OS=trixie lab/lab.sh image

# promtool (Prometheus' rule and exposition checker) from Debian's prometheus
# package, unpacked under .cache: the alert rules' unit tests run it.
PROMTOOL := $(CURDIR)/.cache/prometheus/usr/bin/promtool
$(PROMTOOL):
	@mkdir -p .cache/prometheus/deb
	@cd .cache/prometheus/deb && { apt-get download -qq prometheus 2>/dev/null || { apt-get update -qq && apt-get download -qq prometheus; }; }
	@dpkg-deb -x .cache/prometheus/deb/prometheus_*.deb .cache/prometheus
	@test -x $@

promtool: $(PROMTOOL)

unit: deps $(PROMTOOL)
	PGHA_PROMTOOL=$(PROMTOOL) $(BIN)/python -m pytest -q tests/unit

lint: deps
	ansible-lint --profile production
	antsibull-docs lint-collection-docs --plugin-docs .
	antsibull-changelog lint

sanity: deps
	PY=$(PY) tests/sanity/run.sh

molecule: molecule-default molecule-trixie

# The shared checks, then backups and restores (molecule/backup/tests), then day-2
# operations (molecule/operations/tests), then the conversion to automatic mode, its
# faults and the hand-back (molecule/automatic/tests), then the three-node layout
# reached from that cluster (molecule/colocated/tests), on one lab.
molecule-default: deps
	LAB_OS=bookworm tests/molecule.sh default

molecule-trixie: deps
	LAB_OS=trixie tests/molecule.sh trixie

# The three-node layout's tests on a fresh deployment of it (not in make test: the default
# scenario runs them last, on its own lab).
molecule-colocated: deps
	LAB_OS=bookworm tests/molecule.sh colocated

build: collection-link
	ansible-galaxy collection build --force --output-path .cache/

bench-deploy: deps
	bench/deploy

bench-switchover: deps
	bench/switchover --runs 10

bench-failover: deps
	bench/failover --runs 5

bench-restore: deps
	bench/restore --size-gib 3 --wal-seconds 180 --runs 3

switchover: collection-link
	ansible-playbook playbooks/switchover.yml

failover: collection-link
	ansible-playbook playbooks/failover.yml

rejoin: collection-link
	ansible-playbook playbooks/rejoin.yml

clean: lab-down
	rm -rf .cache .collections
