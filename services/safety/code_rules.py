"""Insecure-code rules over Python source, by walking its syntax tree (names resolved through the file's imports)."""

from __future__ import annotations

import ast
from dataclasses import asdict, dataclass
from typing import Any

HIGH = "high"
MEDIUM = "medium"

_SHELL_RUNNERS = {
    "subprocess.run",
    "subprocess.call",
    "subprocess.check_call",
    "subprocess.check_output",
    "subprocess.Popen",
    "asyncio.create_subprocess_shell",
}
_OS_SHELLS = {"os.system", "os.popen", "commands.getoutput", "subprocess.getoutput", "subprocess.getstatusoutput"}
_DESERIALIZERS = {
    "pickle.loads",
    "pickle.load",
    "cPickle.loads",
    "cPickle.load",
    "dill.loads",
    "dill.load",
    "marshal.loads",
    "marshal.load",
    "shelve.open",
}
_DYNAMIC_CODE = {"eval", "exec", "builtins.eval", "builtins.exec"}
_WEAK_HASHES = {"hashlib.md5", "hashlib.sha1", "Crypto.Hash.MD5.new", "Crypto.Hash.SHA1.new"}
_WEAK_HASH_NAMES = {"md5", "sha1", "md4", "md5-sha1"}
_UNTRUSTED_SOURCES = {"input", "raw_input", "sys.stdin.read", "sys.stdin.readline", "sys.argv", "os.environ"}


@dataclass(frozen=True)
class Finding:
    rule: str
    severity: str
    line: int
    detail: str

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


class _Scanner(ast.NodeVisitor):
    def __init__(self) -> None:
        self.aliases: dict[str, str] = {}
        self.findings: list[Finding] = []

    def visit_Import(self, node: ast.Import) -> None:
        for alias in node.names:
            if alias.asname:  # import os.path as p: p is os.path
                self.aliases[alias.asname] = alias.name
            else:  # import os.path: the name bound is os
                top = alias.name.split(".")[0]
                self.aliases[top] = top
        self.generic_visit(node)

    def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
        for alias in node.names:
            self.aliases[alias.asname or alias.name] = f"{node.module}.{alias.name}" if node.module else alias.name
        self.generic_visit(node)

    def qualified(self, node: ast.AST) -> str:
        """`sp.run` -> `subprocess.run` when `import subprocess as sp`; "" for what is not a dotted name."""
        if isinstance(node, ast.Name):
            return self.aliases.get(node.id, node.id)
        if isinstance(node, ast.Attribute):
            base = self.qualified(node.value)
            return f"{base}.{node.attr}" if base else ""
        return ""

    def _reads_untrusted(self, node: ast.AST) -> bool:
        for child in ast.walk(node):
            target = child.func if isinstance(child, ast.Call) else child
            if isinstance(target, ast.Name | ast.Attribute) and self.qualified(target) in _UNTRUSTED_SOURCES:
                return True
        return False

    def _add(self, rule: str, severity: str, node: ast.AST, detail: str) -> None:
        self.findings.append(Finding(rule, severity, getattr(node, "lineno", 0), detail))

    def visit_Call(self, node: ast.Call) -> None:
        name = self.qualified(node.func)
        if name in _DYNAMIC_CODE and node.args and not isinstance(node.args[0], ast.Constant):
            function = name.rsplit(".", 1)[-1]
            if self._reads_untrusted(node.args[0]):
                self._add(f"{function}-untrusted-input", HIGH, node, f"{function}() runs code read from user input")
            else:
                self._add(f"{function}-dynamic-code", MEDIUM, node, f"{function}() runs dynamically built code")
        elif name in _SHELL_RUNNERS and (
            name.endswith("_shell") or any(_is_true(kw) for kw in node.keywords if kw.arg == "shell")
        ):
            self._add("subprocess-shell", HIGH, node, f"{name}() runs its command through a shell (shell=True)")
        elif name in _OS_SHELLS:
            self._add("os-shell-command", HIGH, node, f"{name}() runs its command through a shell")
        elif name in _DESERIALIZERS:
            self._add("unsafe-deserialization", HIGH, node, f"{name}() can run arbitrary code from untrusted data")
        elif _weak_hash(name, node):
            self._add(
                "weak-hash",
                HIGH,
                node,
                f"{name}() is a broken hash for passwords, tokens and signatures; use hashlib.sha256, or "
                "hashlib.scrypt for passwords (or pass usedforsecurity=False where it is only a checksum)",
            )
        elif name == "yaml.load" and not _safe_yaml_loader(node):
            self._add("yaml-unsafe-load", MEDIUM, node, "yaml.load() without a SafeLoader can build arbitrary objects")
        self.generic_visit(node)


def _weak_hash(name: str, call: ast.Call) -> bool:
    """MD5 / SHA-1 (by constructor or `hashlib.new("md5")`), unless marked `usedforsecurity=False`."""
    if any(kw.arg == "usedforsecurity" and not _is_true(kw) for kw in call.keywords):
        return False
    if name in _WEAK_HASHES:
        return True
    algorithm = call.args[0] if call.args else None
    return (
        name == "hashlib.new"
        and isinstance(algorithm, ast.Constant)
        and str(algorithm.value).lower() in _WEAK_HASH_NAMES
    )


def _safe_yaml_loader(call: ast.Call) -> bool:
    loaders = [kw.value for kw in call.keywords if kw.arg == "Loader"] + call.args[1:2]
    return any("Safe" in ast.unparse(loader) for loader in loaders)


def _is_true(keyword: ast.keyword) -> bool:
    return not (isinstance(keyword.value, ast.Constant) and not keyword.value.value)


def scan_python(source: str) -> list[Finding] | None:
    """The findings in `source`, or None when it is not Python."""
    try:
        tree = ast.parse(source)
    except (SyntaxError, ValueError):
        return None
    scanner = _Scanner()
    scanner.visit(tree)
    return scanner.findings
