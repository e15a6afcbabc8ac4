"""The language layer: every word a user reads, in Swedish or English, and numbers as each language writes them."""
