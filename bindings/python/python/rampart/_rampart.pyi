"""Type stubs of the native module (``rampart._rampart``)."""

from os import PathLike
from typing import Any, Dict, List, Literal, Optional, Tuple, Union

Json = Union[Dict[str, Any], List[Any], str, int, float, bool, None]
RequestInput = Union[Dict[str, Any], str, bytes]
EntityInput = Union[List[Dict[str, Any]], str, bytes]

__version__: str

class RampartError(Exception): ...
class PolicyError(RampartError):
    diagnostics: List["Diagnostic"]
class RequestError(RampartError): ...
class EntityError(RampartError): ...
class PlanError(RampartError): ...

class Diagnostic:
    code: str
    severity: Literal["error", "warning"]
    message: str
    file: Optional[str]
    line: Optional[int]
    column: Optional[int]
    rendered: str

class Decision:
    allowed: bool
    decision: Literal["allow", "deny"]
    rules: List[str]
    reasons: List[str]
    obligations: List[Dict[str, Any]]
    controls: List[str]
    errors: List[Dict[str, Any]]
    def __bool__(self) -> bool: ...
    def to_dict(self) -> Dict[str, Any]: ...

class Plan:
    decision: Literal["always", "never", "conditional"]
    resource_type: str
    condition: Optional[Dict[str, Any]]
    text: Optional[str]
    rules: List[str]
    obligations: List[str]
    controls: List[str]
    json: Dict[str, Any]
    def to_dict(self) -> Dict[str, Any]: ...

class Entities:
    @staticmethod
    def from_json(policy: "Policy", data: EntityInput) -> "Entities": ...
    def __len__(self) -> int: ...

class Policy:
    @staticmethod
    def load(dir: Union[str, PathLike[str]], entities: Optional[EntityInput] = None) -> "Policy": ...
    @staticmethod
    def from_bundle(bundle: Union[bytes, str], entities: Optional[EntityInput] = None) -> "Policy": ...
    @property
    def warnings(self) -> List[Diagnostic]: ...
    def load_entities(self, data: EntityInput) -> Entities: ...
    def decide(self, request: RequestInput, entities: Optional[Entities] = None, *, fill_time: bool = True) -> Decision: ...
    def explain(self, request: RequestInput, entities: Optional[Entities] = None, *, fill_time: bool = True) -> Tuple[Decision, Dict[str, Any]]: ...
    def plan(self, request: RequestInput, entities: Optional[Entities] = None, *, fill_time: bool = True) -> Plan: ...
    def close(self) -> None: ...
    def __enter__(self) -> "Policy": ...
    def __exit__(self, *args: Any) -> bool: ...

def check(dir: Union[str, PathLike[str]]) -> List[Diagnostic]: ...
