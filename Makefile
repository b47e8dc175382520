# The two commands the README gives: `make demo` (main job) and `make test` (test suite).
# Both create the virtual environment and install everything on a fresh machine.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
export NO_MKDOCS_2_WARNING := 1
export DISABLE_MKDOCS_2_WARNING := true

.PHONY: demo test setup site serve-docs docs translations clean studio-page

# The example plugin is installed next to visionblocks, as a plugin user would: its MobileNet pages
# are part of the site (`visionblocks docs generate`) and its examples part of the docs tests.
# The studio's page (`visionblocks studio`) is built from studio/frontend/ with its locked npm
# dependencies into core/studio/static/ (neither node_modules nor the bundle is committed).
$(STAMP): pyproject.toml examples/plugins/visionblocks-mobilenet/pyproject.toml studio/frontend/package-lock.json
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet -e '.[docs,test,mlflow,onnx]' -e examples/plugins/visionblocks-mobilenet
	bash scripts/install-system-deps.sh
	$(MAKE) studio-page
	touch $(STAMP)

# The studio's page alone, after editing studio/frontend/src/.
studio-page:
	cd studio/frontend && npm ci --no-audit --no-fund && npm run build

setup: $(STAMP)

## The main job: sample pipeline on the bundled digits, then the five-language site.
demo: $(STAMP)
	$(VENV)/bin/visionblocks sample digits data/digits
	$(VENV)/bin/visionblocks run examples/digits-pipeline.yaml --out runs/digits
	$(VENV)/bin/visionblocks report runs/digits
	$(MAKE) site

test: $(STAMP)
	$(PY) -m pytest

# BUILD_ONLY_LOCALE=es make site (or serve-docs): one language alone, for quick previews.
site: $(STAMP)
	$(PY) -m mkdocs build --strict

serve-docs: $(STAMP)
	$(PY) -m mkdocs serve -a 127.0.0.1:8001

docs: $(STAMP)
	$(VENV)/bin/visionblocks docs generate

translations: $(STAMP)
	$(VENV)/bin/visionblocks docs extract

clean:
	rm -rf site runs data .pytest_cache
