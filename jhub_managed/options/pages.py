"""What the hub's own pages show of the suite: the announcement and branding, the budget
notice."""

from __future__ import annotations

from traitlets import Bool, HasTraits, validate
from traitlets import Integer as Int

from .errors import ConfigureError


class PageOptions(HasTraits):
    # -- usage pages: the budget notice on the hub's home page (hubside/budget_notice.py) ----

    usage_notice_refresh = Int(
        60,
        config=True,
        help="""Seconds for which the hub keeps the budgets' use it shows in the budget notice
        on its home page before adding it up again (in a background thread; a page never
        waits for it). Members of a group see the notice at 80 % and 100 % of its monthly
        budget.""",
    )

    @validate("usage_notice_refresh")
    def _check_notice_refresh(self, proposal):
        if not 1 <= proposal.value <= 86400:
            raise ConfigureError("usage_notice_refresh must be between 1 and 86400 seconds")
        return proposal.value

    announcement_in_templates = Bool(
        True,
        config=True,
        help="Show the hub admins' announcement and branding on the hub's own pages.",
    )
