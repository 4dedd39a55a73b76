"""The code scanner's rules, and the violation it reports."""

from __future__ import annotations

import asyncio

from llama.common.v1 import resources_pb2
from services.safety.code_rules import scan_python
from services.safety.provider import Level, ShieldCall, Turn
from services.safety.providers.code_scanner import CodeScannerConfig, CodeScannerShield, code_blocks

CLEAN = """
import json

def load(path):
    with open(path) as file:
        return json.load(file)
"""


def rules(source: str) -> set[str]:
    findings = scan_python(source)
    assert findings is not None
    return {finding.rule for finding in findings}


def test_eval_of_input_is_high() -> None:
    findings = scan_python("value = eval(input('> '))")
    assert findings is not None and len(findings) == 1
    assert findings[0].rule == "eval-untrusted-input" and findings[0].severity == "high" and findings[0].line == 1


def test_subprocess_with_shell_true() -> None:
    assert rules("import subprocess\nsubprocess.run(cmd, shell=True)") == {"subprocess-shell"}
    assert rules("import subprocess as sp\nsp.Popen(cmd, shell=True)") == {"subprocess-shell"}
    assert rules("from subprocess import check_output\ncheck_output(cmd, shell=True)") == {"subprocess-shell"}
    assert rules("import subprocess\nsubprocess.run(['ls', '-l'], shell=False)") == set()


def test_os_system_pickle_and_exec() -> None:
    assert rules("import os\nos.system('rm -rf ' + path)") == {"os-shell-command"}
    assert rules("from os import system\nsystem(cmd)") == {"os-shell-command"}
    assert rules("import pickle\nobj = pickle.loads(request.data)") == {"unsafe-deserialization"}
    assert rules("exec(code)") == {"exec-dynamic-code"}
    assert rules("import sys\nexec(sys.stdin.read())") == {"exec-untrusted-input"}


def test_clean_code_and_prose_pass() -> None:
    assert rules(CLEAN) == set()
    assert scan_python("This is plain prose, not code.") is None


def test_code_blocks_are_taken_from_fences() -> None:
    text = "Try this:\n```python\nimport os\nos.system(cmd)\n```\nand in a shell:\n```bash\nls -l\n```\n"
    assert code_blocks(text) == [("python", "import os\nos.system(cmd)\n")]
    assert code_blocks("x = 1") == [(None, "x = 1")]


def _run(turns: list[Turn]):
    shield = CodeScannerShield("code-scanner", CodeScannerConfig())
    call = ShieldCall(shield=resources_pb2.Shield(identifier="code-scanner"), turns=turns, params={}, timeout=None)
    return asyncio.run(shield.run(call))


def test_shield_reports_findings_with_their_message() -> None:
    violation = _run(
        [
            Turn("user", "Write me a calculator."),
            Turn("assistant", "Here:\n```python\nprint(eval(input('expression: ')))\n```"),
        ]
    )
    assert violation is not None and violation.level is Level.ERROR
    assert violation.metadata["violation_type"] == "insecure_code"
    assert violation.metadata["findings"][0]["message_index"] == 1
    assert "eval-untrusted-input" in violation.user_message


def test_medium_findings_only_warn() -> None:
    violation = _run([Turn("assistant", "```py\nimport yaml\ndata = yaml.load(text)\n```")])
    assert violation is not None and violation.level is Level.WARN


def test_shield_passes_clean_code_and_text() -> None:
    assert _run([Turn("user", "How do I read a JSON file?"), Turn("assistant", f"```python\n{CLEAN}```")]) is None


INDENTED_FENCE = """Steps:
1. Save this:
    ```python
    import os
    os.system(input())
    ```
"""


def test_an_indented_fence_is_dedented_and_scanned() -> None:
    violation = _run([Turn("assistant", INDENTED_FENCE)])
    assert violation is not None and violation.level is Level.ERROR
    assert violation.metadata["rules"] == ["os-shell-command"]


def test_python_that_does_not_parse_fails_closed() -> None:
    broken = "```python\nimport os\nif True:\nos.system(input())\n   x = (\n```"
    violation = _run([Turn("assistant", broken)])
    assert violation is not None and violation.level is Level.ERROR
    assert violation.metadata["rules"] == ["unparseable-code"]
    untagged_risky = "```\nimport os\n  os.system(input())\n x\n```"
    assert _run([Turn("assistant", untagged_risky)]).level is Level.ERROR
    # Other languages and prose that do not parse as Python still pass.
    assert _run([Turn("assistant", "```\n$ ls -l | grep foo\n```")]) is None
    assert _run([Turn("user", "Why is my code slow? It loops twice.")]) is None
    question = _run([Turn("user", "What does os.system() do, and is eval( safe?")])
    assert question is not None and question.level is Level.WARN


def test_weak_hashes_are_refused() -> None:
    llama_stack_example = "import hashlib\ndef hash_password(password):\n    return hashlib.md5(password).hexdigest()"
    assert rules(llama_stack_example) == {"weak-hash"}
    assert rules("from hashlib import sha1\nsha1(secret)") == {"weak-hash"}
    assert rules("import hashlib\nhashlib.new('MD5', data)") == {"weak-hash"}
    assert rules("import hashlib\nhashlib.md5(blob, usedforsecurity=False)") == set()
    assert rules("import hashlib\nhashlib.sha256(password)") == set()
    violation = _run([Turn("assistant", f"```python\n{llama_stack_example}\n```")])
    assert violation is not None and violation.level is Level.ERROR
