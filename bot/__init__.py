"""orchestrator-bot: start AI coding agents on Kubernetes from GitHub comments and labels."""

__version__ = "0.1.0"
