# The two commands: `make up` runs the platform on embedded defaults, `make test` runs every test.
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed

.PHONY: up test bench compose-check clean-var

$(STAMP): requirements.txt requirements-dev.txt edge_agent/requirements.txt platform/bootstrap.sh
	bash platform/bootstrap.sh
	touch $(STAMP)

up: $(STAMP)
	$(PY) -m processes.up

# Two test processes (each with its own Redis, SQLite and MariaDB database), a file each at a
# time: the suite mostly waits on workers and brokers, so it takes about half as long.
test: $(STAMP)
	bash platform/bootstrap.sh --test-tools
	$(PY) -m pytest -n 2 --dist loadfile

bench: $(STAMP)
	for script in bench/[!_]*.py; do $(PY) $$script || exit 1; done  # bench/_*.py: shared modules

# docker-compose.yml run for real (not part of `make test`; root, a few minutes, more when
# the images are built the first time): platform/compose/check.py.
compose-check:
	bash platform/bootstrap.sh --test-tools
	python3 platform/compose/check.py

clean-var:
	rm -rf var/
