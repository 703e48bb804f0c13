"""What an app above `cases` does when a case ends or is reopened: `closure` records why the case ended, stops
what was still running on it and opens the return of the creditor's documents (C25). `cases` cannot import
it, so `ClosureConfig.ready()` registers its callbacks here; `case_transition` calls them inside its own
transaction, so a failing callback rolls the move back with it."""

from collections.abc import Callable

# callback(case=Case, previous=CaseStatus, actor=User | None, reason=str), the case already saved in its new status.
TransitionHook = Callable[..., None]

_ON_ENDED: list[TransitionHook] = []
_ON_REOPENED: list[TransitionHook] = []


def register_on_ended(callback: TransitionHook) -> None:
    """Have `callback` called each time an open case becomes « Soldé », « Retourné au créancier » or
    « Irrécouvrable ». Registering the same callback twice (a second `ready()`) keeps one."""
    if callback not in _ON_ENDED:
        _ON_ENDED.append(callback)


def register_on_reopened(callback: TransitionHook) -> None:
    """Have `callback` called each time an ended case goes back to an open status (a reversal of the payment
    that settled it, a supervisor's reopening of an irrecoverable case)."""
    if callback not in _ON_REOPENED:
        _ON_REOPENED.append(callback)


def case_ended_run(*, case, previous, actor, reason: str) -> None:
    for callback in _ON_ENDED:
        callback(case=case, previous=previous, actor=actor, reason=reason)


def case_reopened_run(*, case, previous, actor, reason: str) -> None:
    for callback in _ON_REOPENED:
        callback(case=case, previous=previous, actor=actor, reason=reason)
