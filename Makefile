# The two commands a newcomer needs; both set everything up on a fresh machine.
.PHONY: run test lint unit faults bench clean

run:  ## set up, seed the demo tenant and start web + worker + beat
	bin/run

test:  ## set up, then ruff, mypy and every test on SQLite and on PostgreSQL
	bin/test

lint:  ## fast loop: ruff, mypy, migrations check
	bin/lint

unit:  ## fast loop: every test but the browser ones, on SQLite (pass more with ARGS="-k sync")
	bin/setup && .venv/bin/pytest -n 2 -q -m "not browser" $(ARGS)

bench:  ## PostgreSQL + gunicorn + wrk: sync vs COPY, table size, match vs a one-lookup floor; then the in-process ones (BENCH_FULL=1 adds 10M numbers)
	bin/bench

clean:  ## remove the virtual environment, node_modules and local data
	rm -rf .venv node_modules var

faults:  ## fault-injection suite over the phone-cache sync: 1,000+ faults on a throw-away SQLite, prints the counts
	bin/setup && .venv/bin/pytest -p no:randomly -n 2 -q tests/test_faults.py --faults=full
