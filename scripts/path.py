"""The path an agent walks through a script, as a value the service stores."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any, Literal

from scripts.errors import ScriptPathError
from scripts.model import STEP_COUNT

MoveKind = Literal["start", "next", "back", "jump"]


@dataclass(frozen=True)
class Move:
    kind: MoveKind
    from_step: int | None
    to_step: int
    at: datetime | None = None


@dataclass(frozen=True)
class ScriptPath:
    """Every move (next, back, jump) in order, the current step and the
    furthest step reached; each move returns a new path."""

    moves: tuple[Move, ...] = ()
    step_count: int = STEP_COUNT

    @classmethod
    def begin(cls, *, at: datetime | None = None, step_count: int = STEP_COUNT) -> ScriptPath:
        return cls((Move("start", None, 1, at),), step_count)

    @classmethod
    def standing_at(cls, step: int, *, step_count: int = STEP_COUNT) -> ScriptPath:
        """A path known only by its current step: enough to move on from, as
        next, back and jump look at nothing else."""
        return cls((Move("start", None, step),), step_count)

    @property
    def current(self) -> int:
        if not self.moves:
            raise ScriptPathError("the path has not started")
        return self.moves[-1].to_step

    @property
    def max_reached(self) -> int:
        return max((move.to_step for move in self.moves), default=0)

    @property
    def visited(self) -> tuple[int, ...]:
        """Steps in the order first shown."""
        return tuple(dict.fromkeys(move.to_step for move in self.moves))

    @property
    def steps_walked(self) -> tuple[int, ...]:
        """Every step shown, repeats included."""
        return tuple(move.to_step for move in self.moves)

    def next(self, *, at: datetime | None = None) -> ScriptPath:
        if self.current >= self.step_count:
            raise ScriptPathError(f"step {self.current} is the last step")
        return self._move("next", self.current + 1, at)

    def back(self, *, at: datetime | None = None) -> ScriptPath:
        if self.current <= 1:
            raise ScriptPathError("step 1 is the first step")
        return self._move("back", self.current - 1, at)

    def jump(self, to_step: int, *, at: datetime | None = None) -> ScriptPath:
        if not 1 <= to_step <= self.step_count:
            raise ScriptPathError(f"there is no step {to_step}; steps run 1..{self.step_count}")
        return self._move("jump", to_step, at)

    def _move(self, kind: MoveKind, to_step: int, at: datetime | None) -> ScriptPath:
        return replace(self, moves=(*self.moves, Move(kind, self.current, to_step, at)))

    def to_data(self) -> dict[str, Any]:
        """JSON-ready: {'step_count': 9, 'moves': [{'kind', 'from', 'to', 'at'}]}."""
        return {
            "step_count": self.step_count,
            "moves": [
                {
                    "kind": move.kind,
                    "from": move.from_step,
                    "to": move.to_step,
                    "at": move.at.isoformat() if move.at else None,
                }
                for move in self.moves
            ],
        }

    @classmethod
    def from_data(cls, data: dict[str, Any]) -> ScriptPath:
        moves = tuple(
            Move(
                item["kind"],
                item["from"],
                item["to"],
                datetime.fromisoformat(item["at"]) if item.get("at") else None,
            )
            for item in data["moves"]
        )
        return cls(moves, int(data.get("step_count", STEP_COUNT)))
