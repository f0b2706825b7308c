# The two commands of the README.  Everything they need is installed by
# ward/scripts/bootstrap.sh, which is quick when it is all there already
# (the dev extras too, import-linter among them: `make test` runs the layers
# contract of pyproject.toml, `lint-imports`, in tests/test_layers.py).
# The suite runs in two processes (pytest-xdist), a test file to each at a
# time: each process starts its own database and broker (tests/conftest.py).
.PHONY: demo test

demo:
	@bash ward/scripts/bootstrap.sh
	@bash ward/scripts/demo.sh

test:
	@bash ward/scripts/bootstrap.sh --browser
	@.venv/bin/python -m pytest -n 2 --dist loadfile
