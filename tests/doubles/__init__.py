"""Test doubles of the services cvibot talks to, for cvibot's own tests and benchmarks.

- :mod:`doubles.fake_daily`: a daily-python ``CallClient`` stand-in with the real SDK's
  threading, ordering and error behaviour (no network);
- :mod:`doubles.fake_tavus`: the documented Tavus REST endpoints, in process or on a
  loopback HTTP server.

They are not part of the ``cvibot`` package: a bot's tests drive a bot with
:class:`cvibot.testing.FakeConversation` instead. ``tests/`` is on ``sys.path`` in pytest
(``pythonpath`` in pyproject.toml); the bench scripts and the tests' worker scripts put
it there themselves.
"""
