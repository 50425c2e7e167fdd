from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Problem:
    line: int | None
    message: str


class ScriptError(ValueError):
    """A script file that cannot be used; names the file and line of each problem."""

    def __init__(self, source_name: str, problems: list[Problem]) -> None:
        self.source_name = source_name
        self.problems = tuple(problems)
        super().__init__("\n".join(self._describe(problem) for problem in self.problems))

    @property
    def line(self) -> int | None:
        return self.problems[0].line if self.problems else None

    def _describe(self, problem: Problem) -> str:
        where = self.source_name if problem.line is None else f"{self.source_name}:{problem.line}"
        return f"{where}: {problem.message}"


class ScriptPathError(ValueError):
    """A move the script path does not allow (before step 1, past the last step)."""
