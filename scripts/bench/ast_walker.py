#!/usr/bin/env python3
"""A straightforward CPython `ast` scanner applying pyward's default rules, written the way the
seed projects scan (ast.walk plus string checks). It exists only as the baseline for
scripts/bench-scan; pyward's own scanner is in policy/src/scan/.

Usage: ast_walker.py PATH...   (prints one line per rejected file, then a count)
"""
import ast
import os
import re
import sys
import unicodedata

ALLOWED_IMPORTS = {"json", "time", "math", "re", "functools", "collections", "hashlib",
                   "datetime", "random", "pyward"}
FORBIDDEN_NAMES = {"eval", "exec", "compile", "__import__", "globals", "locals", "vars", "dir",
                   "breakpoint", "exit", "quit", "open", "input", "memoryview", "bytearray",
                   "__builtins__", "__loader__", "__spec__", "__build_class__"}
FORBIDDEN_ATTRS = {
    "login", "logout", "stop", "start", "crypto", "api", "device_id", "access_token",
    "__class__", "__bases__", "__base__", "__subclasses__", "__mro__", "mro", "__globals__",
    "__builtins__", "__code__", "__dict__", "__closure__", "__func__", "__self__",
    "__getattribute__", "__getattr__", "__setattr__", "__delattr__", "__reduce__",
    "__reduce_ex__", "__subclasshook__", "__init_subclass__", "__import__", "__loader__",
    "__spec__", "__traceback__", "__defaults__", "__kwdefaults__", "__wrapped__",
    "f_back", "f_globals", "f_locals", "f_builtins", "f_code", "f_trace", "gi_frame", "gi_code",
    "gi_yieldfrom", "cr_frame", "cr_code", "cr_await", "ag_frame", "ag_code", "tb_frame",
    "tb_next", "co_code", "co_consts", "func_globals", "_getframe"}
PATTERNS = ["os.system", "os.popen", "os.exec", "os.remove", "os.unlink", "subprocess",
            "importlib", "ctypes", "socket", "sys.exit", "sys.modules", "builtins", "posix",
            "rm -rf", "chmod 777", "| sh", "| bash"]
DANGEROUS_WORDS = {w for w in FORBIDDEN_NAMES | FORBIDDEN_ATTRS if "_" in w}
WORD = re.compile(r"\w+")
# The pipeline seed's escape regexes.
CHR_CHAIN = re.compile(r"chr\s*\(\s*\d+\s*\)\s*\+\s*chr\s*\(\s*\d+\s*\)")
HEX_BYTES = re.compile(r"b['\"]\\x[0-9a-f]{2}")
CODING = re.compile(rb"^[ \t\f]*#.*?coding[:=][ \t]*([-\w.]+)")


def fold(node):
    """Constant-fold string concatenation, chr() and slicing (the common tricks)."""
    if isinstance(node, ast.Constant) and isinstance(node.value, (str, int)):
        return node.value
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
        a, b = fold(node.left), fold(node.right)
        if isinstance(a, str) and isinstance(b, str):
            return a + b
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "chr" \
            and len(node.args) == 1:
        v = fold(node.args[0])
        if isinstance(v, int) and 0 <= v < 0x110000:
            return chr(v)
    if isinstance(node, ast.Subscript) and isinstance(node.slice, ast.Slice):
        v = fold(node.value)
        if isinstance(v, str):
            parts = [fold(p) if p is not None else None
                     for p in (node.slice.lower, node.slice.upper, node.slice.step)]
            if all(p is None or isinstance(p, int) for p in parts):
                return v[slice(*parts)]
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) \
            and node.func.attr == "join" and len(node.args) == 1:
        sep = fold(node.func.value)
        items = node.args[0]
        if isinstance(sep, str) and isinstance(items, (ast.List, ast.Tuple)):
            parts = [fold(e) for e in items.elts]
            if all(isinstance(p, str) for p in parts):
                return sep.join(parts)
    return None


def check_string(value, findings, line):
    low = unicodedata.normalize("NFKC", value).lower()
    if any(p in low for p in PATTERNS):
        findings.append((line, "forbidden-string"))
    elif any(w in DANGEROUS_WORDS for w in WORD.findall(low)):
        findings.append((line, "forbidden-string"))


def scan(path, data):
    findings = []
    if len(data) > 256 * 1024:
        return [(1, "file-too-large")]
    if b"\0" in data:
        return [(1, "nul-byte")]
    for line in data.split(b"\n")[:2]:
        m = CODING.match(line)
        if m and m.group(1).lower().replace(b"_", b"-") not in (b"utf-8", b"utf8"):
            findings.append((1, "coding-declaration"))
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        return [(1, "not-utf8")]
    if re.search(r"\r(?!\n)", text):
        findings.append((1, "lone-carriage-return"))
    if CHR_CHAIN.search(text) or HEX_BYTES.search(text):
        findings.append((1, "obfuscation"))
    try:
        tree = ast.parse(text, filename=path)
    except (SyntaxError, ValueError, RecursionError, MemoryError) as error:
        return findings + [(getattr(error, "lineno", 1) or 1, "parse-error")]
    for node in ast.walk(tree):
        line = getattr(node, "lineno", 0)
        if isinstance(node, ast.Name):
            if node.id in FORBIDDEN_NAMES:
                findings.append((line, "forbidden-name"))
            elif node.id in ("getattr", "setattr", "delattr", "hasattr"):
                pass
        elif isinstance(node, ast.Attribute):
            if node.attr in FORBIDDEN_ATTRS:
                findings.append((line, "forbidden-attribute"))
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.split(".")[0] not in ALLOWED_IMPORTS:
                    findings.append((line, "forbidden-import"))
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                findings.append((line, "relative-import"))
            elif (node.module or "").split(".")[0] not in ALLOWED_IMPORTS:
                findings.append((line, "forbidden-import"))
            elif any(a.name == "*" for a in node.names):
                findings.append((line, "star-import"))
            elif any(a.name.startswith("_") for a in node.names):
                findings.append((line, "forbidden-import"))
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Name) \
                and node.func.id in ("getattr", "setattr", "delattr", "hasattr"):
            name = fold(node.args[1]) if len(node.args) > 1 else None
            if not isinstance(name, str) or name in FORBIDDEN_ATTRS or name.startswith("_"):
                findings.append((line, "dynamic-attribute"))
        elif isinstance(node, ast.Constant) and isinstance(node.value, str):
            check_string(node.value, findings, line)
        elif isinstance(node, (ast.BinOp, ast.Subscript, ast.Call)):
            value = fold(node)
            if isinstance(value, str) and value.strip() in FORBIDDEN_NAMES | FORBIDDEN_ATTRS:
                findings.append((line, "obfuscated-string"))
    return findings


def files(paths):
    for p in paths:
        if os.path.isdir(p):
            for root, _, names in os.walk(p):
                for n in sorted(names):
                    if n.endswith(".py"):
                        yield os.path.join(root, n)
        else:
            yield p


def main():
    rejected = total = 0
    for path in files(sys.argv[1:]):
        total += 1
        with open(path, "rb") as f:
            found = scan(path, f.read())
        if found:
            rejected += 1
            print("{}: {}".format(path, ",".join(sorted({r for _, r in found}))))
    print("{} file(s) scanned: {} rejected".format(total, rejected))


if __name__ == "__main__":
    sys.setrecursionlimit(10000)
    main()
