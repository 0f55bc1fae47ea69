"""Run statelint on ASL files, minus two false positives of statelint 3.1.0.

Usage: python scripts/statelint_asl.py statemachine/*.asl.json

- `URI` problems are ignored: `"${PrepareJobFunctionArn}"` placeholders are filled in by the
  template's DefinitionSubstitutions, so they are not ARNs yet.
- `ToleratedFailurePercentage is 100.0 but should be an Integer`: the API types it as a float, and
  moto's ASL parser rejects an integer there, so the file must say `100.0`.
- `Field "InputType" not allowed in ...ItemReader.ReaderConfig`: statelint predates the field;
  Step Functions requires it to read a JSON/CSV object from S3.
"""

from __future__ import annotations

import re
import sys

from statelint.config import Config
from statelint.linter import Linter
from statelint.problem import ProblemType

FALSE_POSITIVES = (
    re.compile(r"\.ToleratedFailurePercentage is \d+(\.\d+)? but should be an Integer$"),
    re.compile(r'^Field "InputType" not allowed in .*\.ItemReader\.ReaderConfig$'),
)


def lint(path: str) -> list[str]:
    problems = Linter.validate(path, Config(ignored_problem_types={ProblemType.URI}))
    return [p for p in problems if not any(fp.search(p.strip()) for fp in FALSE_POSITIVES)]


def main(paths: list[str]) -> int:
    if not paths:
        print("usage: statelint_asl.py FILE.asl.json...", file=sys.stderr)
        return 2
    failed = False
    for path in paths:
        problems = lint(path)
        for problem in problems:
            print(f"{path}: {problem.strip()}")
        failed = failed or bool(problems)
    if not failed:
        print(f"statelint: {len(paths)} file(s) OK")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
