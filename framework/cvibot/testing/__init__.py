"""Fakes that behave like the real services, for the tests of bots and plugins.

- :mod:`cvibot.testing.fake_daily`: a daily-python ``CallClient`` stand-in with the
  real SDK's threading, ordering and error behaviour (no network).
- :mod:`cvibot.testing.fake_tavus`: the documented Tavus REST endpoints, in process or
  on a loopback HTTP server.
"""
