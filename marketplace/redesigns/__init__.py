"""Redesign challenges: an operator asks designers to redo a product its buyers rated badly."""
