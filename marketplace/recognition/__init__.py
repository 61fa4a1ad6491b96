"""Recognition: contributor profiles, badges, and thanks to those who made a product happen."""
