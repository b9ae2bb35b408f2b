"""Local stand-ins for the Kubernetes and GitHub APIs that speak the real protocols (demo and tests)."""
