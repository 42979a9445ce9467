"""One of the generated apps of the deploy-gate benchmark's project."""
