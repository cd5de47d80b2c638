"""A stopwatch and load meter for chat: how long things take, with a short pause on request.
Exercises the interpreter's quieter paths: sleeping, CPU and wall clocks, clock details, a large
allocation released again, deep recursion caught, and an error reported with its line."""
import datetime
import time

import pyward


def depth(n):
    return 0 if n == 0 else 1 + depth(n - 1)


def work(size):
    started = time.process_time()
    numbers = [i * i for i in range(size)]
    total = sum(numbers)
    numbers = None
    return total, time.process_time() - started


@pyward.command("stopwatch", security="everyone", help="stopwatch [pause ms, at most 50]")
def stopwatch(event, args):
    pause = min(int(args or "5"), 50)
    wall = time.perf_counter()
    time.sleep(pause / 1000)
    slept = time.perf_counter() - wall
    total, cpu = work(300000)
    try:
        depth(100000)
        recursion = "unbounded"
    except RecursionError:
        recursion = "bounded"
    try:
        int("not a number")
    except ValueError as e:
        problem = str(e)
    resolution = time.get_clock_info("monotonic").resolution
    now = datetime.datetime.now(datetime.timezone.utc)
    return "slept {:.0f} ms; summed {} squares in {:.0f} ms of CPU; recursion {}; {}; clock {} s; {}".format(
        slept * 1000, total > 0 and 300000, cpu * 1000, recursion, problem, resolution, now.year > 2000)
