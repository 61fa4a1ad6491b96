"""Development only, never shipped: ``make run``'s stack, the localstripe launcher and the
demo data. The tests and the benchmarks use it; the product does not import it."""
