"""pcap-analyzer web service: FastAPI application, database layer and analysis worker."""
