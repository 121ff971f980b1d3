"""Persistence: PynamoDB models and the repository functions that write them."""
