"""HTTP API (contract §5): FastAPI app factory, thin routes over the ticket service."""
