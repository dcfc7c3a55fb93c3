"""verify: the verifying side (public and auditors). Imports only certgen's model, seal,
trust and registry modules, never its rendering, signing or batch code."""
