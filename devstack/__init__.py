"""The local stack: moto server, resources from infra/, genesis, chalice local and the runner.

Test-and-local only; never deployed (Chalice deploys app.py and chalicelib/).
"""
