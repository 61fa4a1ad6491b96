"""The security headers of every answer: Flask-Talisman, with its per-request work done once."""

from __future__ import annotations

from flask import request
from flask_talisman import Talisman


class OnceTalisman(Talisman):
    """Talisman as configured, minus work it repeats. It works out the options of the
    request's view four times an answer (for HTTPS, the nonce, the headers and the CSP) and
    writes the CSP's header from its dict on every answer: together, 4 % of the CPU of the
    site's busiest write (the vote, sampled with py-spy under gunicorn). Here the options
    are worked out once a request, and the app-wide policy's header once, while no nonce
    goes into it (this app sets none: no inline scripts). A view given options of its own,
    or a nonce, still gets its header built as Talisman builds it."""

    _built_policy: str | None = None

    def _get_local_options(self):
        # On the request, as Talisman keeps its nonce: ``g`` may outlive a request (a test's
        # app context).
        options = getattr(request, "_talisman_options", None)
        if options is None:
            options = request._talisman_options = super()._get_local_options()
        return options

    def _parse_policy(self, policy):
        if policy is not self.content_security_policy or getattr(request, "csp_nonce", None):
            return super()._parse_policy(policy)
        if self._built_policy is None:
            self._built_policy = super()._parse_policy(policy)
        return self._built_policy
