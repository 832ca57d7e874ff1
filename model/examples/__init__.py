"""Nearest training examples: retrieval (TF-IDF, MiniLM), literal slots, and example seeding."""
