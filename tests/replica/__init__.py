"""A Hugging Face Hub replica for tests, benchmarks and the offline demo (see hub-api.md)."""

from .server import ReplicaServer
from .store import Hub
from .synth import generate

__all__ = ["Hub", "ReplicaServer", "generate"]
