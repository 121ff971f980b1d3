"""The program's services: one module per capability, combining domain and storage."""
