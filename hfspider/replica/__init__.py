"""A Hugging Face Hub replica on this machine: for offline demos, benchmarks and tests (``scrapy replica``)."""

from .server import ReplicaServer
from .store import Hub
from .synth import generate, regular_family

__all__ = ["Hub", "ReplicaServer", "generate", "regular_family"]
