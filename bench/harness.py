"""What every scenario gets: the scale (full or quick), a scratch folder and seeded databases."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from bench.population import Databases


@dataclass
class Harness:
    """Shared state of one `python -m bench` run."""

    quick: bool
    workdir: Path
    database: str = "sqlite"  # the kind of database scenarios use unless they need another
    _databases: dict[str, Databases] = field(default_factory=dict)

    def databases(self, kind: str | None = None) -> Databases:
        """Return the seeded-database factory for a kind (the run's default kind if None)."""
        kind = kind or self.database
        if kind not in self._databases:
            folder = self.workdir / f"db-{kind}"
            folder.mkdir(exist_ok=True)
            self._databases[kind] = Databases(kind, folder)
        return self._databases[kind]

    def scale(self, full: int, quick: int) -> int:
        """Pick the full-size or the quick figure."""
        return quick if self.quick else full

    async def close(self) -> None:
        """Drop every database the run created."""
        for databases in self._databases.values():
            await databases.close()
