"""The crash tier: a workload, a nemesis and a checker over real processes (Jepsen's method, this stack).

`harness chaos` (and `make chaos`) runs rounds: `round.run_round` starts the stack
(`stack`), runs the clients (`workload`) and the seeded fault schedule (`nemesis`) together,
heals, and asks the checker (`checker`) for every broken promise. Each round's folder keeps
the histories, the fault log (replayable) and the report.
"""
