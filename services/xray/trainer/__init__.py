"""Optional fine-tuning worker for the xray service (torch; runs in .venv-train, never in the service image)."""
