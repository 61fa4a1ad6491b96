"""Public pages that belong to no single package: home, how it works, health, dev mail."""
