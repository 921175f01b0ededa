"""The state dir on disk, shared by the service and by extensions' processes.

``containers``: each app group's container and staging folders, and the moves into
them that never leave the container. ``lock``: the app group's lock across
processes (``withExclusiveControl``). Both sit below ``orchestrator.service`` and
``orchestrator.sdk``, which both use them.
"""
