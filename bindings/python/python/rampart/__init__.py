"""Rampart: policy-as-code for API security, in-process.

Compile a policy folder (or load a bundle built by ``rampart build``) and decide requests
against it::

    import rampart

    policy = rampart.Policy.load("examples/payments")
    decision = policy.decide({
        "principal": {"type": "User", "id": "alice"},
        "action": "payments:read",
        "resource": {"type": "Account", "id": "a1"},
        "context": {"auth": {"scopes": ["payments:read"]}, "tls": {"version": "1.3"}},
    })
    if decision.allowed:
        ...

Requests, decisions and plans have the JSON shapes of every other door (``rampart eval``,
``POST /v1/decide``, ``POST /v1/plan``). Every error is a subclass of ``RampartError``.
"""

from ._rampart import (
    Decision,
    Diagnostic,
    Entities,
    EntityError,
    Plan,
    PlanError,
    Policy,
    PolicyError,
    RampartError,
    RequestError,
    __version__,
    check,
)

__all__ = [
    "Decision",
    "Diagnostic",
    "Entities",
    "EntityError",
    "Plan",
    "PlanError",
    "Policy",
    "PolicyError",
    "RampartError",
    "RequestError",
    "__version__",
    "check",
]
