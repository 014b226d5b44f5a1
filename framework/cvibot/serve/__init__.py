"""``cvibot serve``: one host process for many conversations, and the fleet contract."""
