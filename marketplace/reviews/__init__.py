"""Ratings and reviews of delivered products: one per order, moderated, asked for by mail."""
