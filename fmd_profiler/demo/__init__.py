"""A small realistic app and a traffic generator, for ``make demo``, tests and benchmarks."""
