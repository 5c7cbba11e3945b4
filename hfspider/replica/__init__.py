"""A Hugging Face Hub replica on this machine: for offline demos, benchmarks and tests (``scrapy replica``)."""

from .server import ReplicaServer
from .store import Hub
from .synth import generate

__all__ = ["Hub", "ReplicaServer", "generate"]
