"""The grammar caps count what llama.cpp's parser recurses on and expands, and nothing inside literals, classes or
comments."""

from __future__ import annotations

import json

from llama_cpp.llama_grammar import json_schema_to_gbnf

from services.inference.grammar_limits import (
    MAX_GRAMMAR_CHARS,
    MAX_GRAMMAR_NESTING,
    MAX_GRAMMAR_REPEATS,
    grammar_problem,
)

ARITHMETIC = r"""
root  ::= (expr "=" ws term "\n")+   # one equation per line
expr  ::= term ([-+*/] term)*
term  ::= ident | num | "(" ws expr ")" ws
ident ::= [a-z] [a-z0-9_]* ws
num   ::= [0-9]{1,6} ws
ws    ::= [ \t\n]*
"""


def test_ordinary_grammars_pass() -> None:
    assert grammar_problem(ARITHMETIC) is None
    assert grammar_problem('root ::= "yes" | "no"') is None
    schema = {
        "type": "object",
        "properties": {
            "name": {"type": "string", "maxLength": 40},
            "tags": {"type": "array", "items": {"type": "string"}},
        },
        "required": ["name"],
    }
    assert grammar_problem(json_schema_to_gbnf(json.dumps(schema))) is None


def test_each_cap_is_enforced_at_its_edge() -> None:
    nested = "root ::= " + "(" * MAX_GRAMMAR_NESTING + '"a"' + ")" * MAX_GRAMMAR_NESTING
    assert grammar_problem(nested) is None
    deeper = "root ::= " + "(" * (MAX_GRAMMAR_NESTING + 1) + '"a"' + ")" * (MAX_GRAMMAR_NESTING + 1)
    assert "nests parentheses" in grammar_problem(deeper)
    # side by side is not nested
    assert grammar_problem("root ::= " + '("a") ' * (MAX_GRAMMAR_NESTING * 4)) is None

    assert grammar_problem('root ::= "a"' + "+" * MAX_GRAMMAR_REPEATS) is None
    assert "repetition operators" in grammar_problem('root ::= "a"' + "+" * MAX_GRAMMAR_REPEATS + "?")
    assert "repetition operators" in grammar_problem('root ::= "a"' + "{1,2}" * (MAX_GRAMMAR_REPEATS + 1))

    long = 'root ::= "' + "a" * (MAX_GRAMMAR_CHARS - 11) + '"'
    assert len(long) == MAX_GRAMMAR_CHARS and grammar_problem(long) is None
    assert "characters long" in grammar_problem(long + " ")


def test_literals_classes_and_comments_do_not_count() -> None:
    many = MAX_GRAMMAR_REPEATS + MAX_GRAMMAR_NESTING
    assert grammar_problem('root ::= "' + "((+*?{" * many + '"') is None
    assert grammar_problem(r'root ::= "\"(" [(\]+*?{] "x"' + ' "(\\\\"' * many) is None
    assert grammar_problem('root ::= "a" # ' + "(" * many + "+" * many + "\n") is None
    # an escaped quote does not end a literal early; the counting resumes after the real end
    assert "nests parentheses" in grammar_problem(r'root ::= "\"" ' + "(" * (MAX_GRAMMAR_NESTING + 1))
