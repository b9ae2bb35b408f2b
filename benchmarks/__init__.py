"""Benchmarks of orchestrator-bot: webhook intake against a bare aiohttp floor and Probot 14, GitHub
API calls per command, controller scale and memory. Run `python -m benchmarks --help`; results go to
`benchmarks/results/` and `benchmarks/README.md`."""
