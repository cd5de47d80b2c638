# expect: too-complex
# technique: nested comprehensions over constants, each level multiplying the scanner's folding
# work (found by fuzz/fuzz_targets/scan_python.rs: 1.7 KB took 12 s and 1.9 GB to scan)
s = "abcdefghijklmnopqrstuvwxyz"
t = [[[[[c for c in s][0] for b in s][0] for a in s][0] for z in s] for y in s]
