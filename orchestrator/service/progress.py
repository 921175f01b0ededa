"""Install progress: one fraction over base app size, the install step and essential bytes.

As in the framework: the essential part's denominator starts from
``essentialDownloadAllowance`` and is refined to the real essential total once
the extension has answered. The install step (catalog fetched, extension
answered) weighs ``max(1 MiB, base size / 20)``.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

MiB = 2**20


def install_step_weight(base_size: int) -> int:
    """What the install step counts for in the progress fraction."""
    return max(MiB, base_size // 20)


@dataclass(frozen=True)
class InstallProgress:
    """Bytes done over bytes expected, in three phases."""

    base_size: int
    essential_total: int
    essential_done: int = 0
    step_done: bool = False
    refined: bool = False

    @property
    def step_weight(self) -> int:
        return install_step_weight(self.base_size)

    @property
    def total(self) -> int:
        return self.base_size + self.step_weight + self.essential_total

    @property
    def done(self) -> int:
        step = self.step_weight if self.step_done else 0
        return self.base_size + step + min(self.essential_done, self.essential_total)

    @property
    def fraction(self) -> float:
        return 1.0 if self.total == 0 else min(1.0, self.done / self.total)

    def answered(self, essential_total: int) -> InstallProgress:
        """The extension answered: the step is done and the denominator becomes real."""
        return replace(self, step_done=True, refined=True, essential_total=essential_total)

    def phases(self) -> dict[str, float]:
        """Each phase's own fraction, for the TUI's split bar."""
        essential = 1.0 if self.essential_total == 0 else min(
            1.0, self.essential_done / self.essential_total)
        return {"app": 1.0, "install": 1.0 if self.step_done else 0.0, "essential": essential}
