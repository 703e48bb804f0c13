"""What an app above `approvals` does when the creditor decides one of its requests, or when a pending request
is cancelled (recall of the case): `payments` grants or refuses the long payment plan that waited for the
decision (C16). `approvals` cannot import the apps above it, so they register here, in their
`AppConfig.ready()`, a callback per kind of request; the callbacks run inside the decision's transaction, so a
failure rolls the decision back with them."""

from collections.abc import Callable

# callback(approval=ApprovalRequest, actor=User | None), the request already saved with its new status.
DecisionHook = Callable[..., None]

_HOOKS: dict[str, list[DecisionHook]] = {}


def on_decision(kind: str, callback: DecisionHook) -> None:
    """Have `callback` called each time a request of `kind` is accepted, refused or cancelled. Registering the
    same callback twice (a second `ready()`) keeps one."""
    callbacks = _HOOKS.setdefault(kind, [])
    if callback not in callbacks:
        callbacks.append(callback)


def decision_hooks_run(*, approval, actor) -> None:
    """Call the callbacks registered for the request's kind, in their order of registration."""
    for callback in _HOOKS.get(approval.kind, ()):
        callback(approval=approval, actor=actor)
