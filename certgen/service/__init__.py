"""The service standard as software: applications, working-day deadlines, the certification
decision, compensation (apology letters), complaints and the yearly report.

A sibling of issuing: it uses the registry and the batch pipeline only through their public
functions, and writes its events into the registry's one log (`service.log`).
"""
