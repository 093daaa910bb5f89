"""The floor both sides stand on: the cloud's clock, the state file, settings, ARNs, admin requests.

Nothing here imports moto, the engine or anything above: the server and the notebook side
both use these, so they must stay light and pure.
"""
