"""Pure-Python compute, timed inside the process: a sieve and sorting shuffled floats.
The same file runs in a pyward worker and under plain CPython (scripts/bench-compute)."""
import random
import time


def sieve(n):
    flags = [True] * (n + 1)
    flags[0] = flags[1] = False
    for i in range(2, int(n ** 0.5) + 1):
        if flags[i]:
            for j in range(i * i, n + 1, i):
                flags[j] = False
    return sum(flags)


def measure(repeat=5):
    results = {}
    for name, work in (
        ("sieve_2e6", lambda: sieve(2_000_000)),
        ("sort_50k_floats", lambda: sorted(random.random() for _ in range(50_000))),
    ):
        best = None
        for _ in range(repeat):
            started = time.perf_counter()
            work()
            elapsed = (time.perf_counter() - started) * 1000
            best = elapsed if best is None else min(best, elapsed)
        results[name] = round(best, 2)
    return results


if __name__ == "__main__":
    import json

    print(json.dumps(measure()))
