"""`ccm-pwa billing evaluate`: one case as JSON on stdin, its evaluation as JSON on stdout."""

from __future__ import annotations

import json
from typing import TextIO

from ccm_pwa.domain.billing import evaluate_month
from ccm_pwa.domain.billing_json import CaseError, evaluation_to_dict, parse_case

EXIT_OK = 0
EXIT_BAD_INPUT = 2


def evaluate_command(stdin: TextIO, stdout: TextIO, stderr: TextIO) -> int:
    """Streams are parameters so tests and other front ends need no subprocess."""
    try:
        case = parse_case(stdin.read())
    except UnicodeDecodeError:
        return _bad_input(stderr, CaseError("$", "input is not UTF-8 text"))
    except CaseError as error:
        return _bad_input(stderr, error)
    stdout.write(json.dumps(evaluation_to_dict(evaluate_month(case)), indent=2) + "\n")
    return EXIT_OK


def _bad_input(stderr: TextIO, error: CaseError) -> int:
    # One line, always: callers grep stderr and a stray newline would split the message.
    line = f"error: {error.field}: {error.message}".replace("\r", " ").replace("\n", " ")
    stderr.write(line + "\n")
    return EXIT_BAD_INPUT
