"""The control API: the orchestrator as a service on a local Unix socket."""

from orchestrator.control.client import ControlClient
from orchestrator.control.server import ControlServer
from orchestrator.control.sockets import socket_path

__all__ = ["ControlClient", "ControlServer", "socket_path"]
