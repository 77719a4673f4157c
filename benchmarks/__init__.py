"""The performance suite: ``make bench`` (``python -m benchmarks.run``) -> RESULTS.md.

Every comparison is a ratio measured in one run: contenders run interleaved, each in its own
process, on the same app, and each round is divided by the same round's baseline.
"""
