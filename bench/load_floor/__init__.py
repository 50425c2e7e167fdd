"""The production topology under a floor's load, run by hand:

    .venv/bin/python -m bench.load_floor [--duration 600] [--rate 30] [--redis-db 6]

A fresh PostgreSQL database and one Redis db, gunicorn web processes,
`callcenter consume` and `callcenter dialer` (simulated carrier) as real
processes, 200 agents and 20 supervisors as Socket.IO clients in their own
processes. Prints what it measured; `--help` lists the knobs."""
