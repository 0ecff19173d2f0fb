# The two commands a newcomer needs; both set everything up on a fresh machine.
.PHONY: run test bench faults clean

run:  ## set up, seed the demo tenant and start web + worker + beat
	bin/run

test:  ## set up, then ruff, mypy and every test on SQLite and on PostgreSQL
	bin/test

bench:  ## measure phone-cache sync and match throughput (prints figures)
	bin/setup && .venv/bin/python bench/match_bench.py

clean:  ## remove the virtual environment, node_modules and local data
	rm -rf .venv node_modules var

faults:  ## fault-injection suite over the phone-cache sync: 1,000+ faults on a throw-away SQLite, prints the counts
	bin/setup && unset CELERY_BROKER_URL && DATABASE_URL=sqlite:///:memory: \
	  .venv/bin/python -m pytest -p tests.faults.plugin -p no:randomly -n 2 -q tests/test_faults.py --faults=full
