"""minicash benchmarks (``make bench``): every figure is reported as a ratio to a reference
measured in the same run, because these machines are shared and noisy."""
