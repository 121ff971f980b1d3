"""Covenant: the Chalice app. Wiring only; everything else is in chalicelib/."""

from chalice import Chalice

from chalicelib.api.explorer import explorer_api
from chalicelib.api.program_api import program_api
from chalicelib.api.public import public_api
from chalicelib.api.routing import error_shape
from chalicelib.handlers.events import events, subchain_handler
from chalicelib.observability import observe

app = Chalice(app_name="covenant")
app.register_middleware(error_shape, "http")  # first: it shapes every error answer, whatever raised it
app.register_middleware(observe, "all")
app.register_blueprint(public_api)
app.register_blueprint(program_api)
app.register_blueprint(explorer_api)
app.register_blueprint(events)

__all__ = ["app", "subchain_handler"]  # subchain_handler: each operator sub-chain's own function (infra/)
