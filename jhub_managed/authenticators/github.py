"""GitHub: teams become hub groups (``org:team``), on top of oauthenticator's GitHub class."""

from __future__ import annotations

from oauthenticator.github import GitHubOAuthenticator
from traitlets import default

from .mixin import ManagedAuthenticatorMixin
from .rules import github_team_groups


class ManagedGitHubOAuthenticator(ManagedAuthenticatorMixin, GitHubOAuthenticator):
    """GitHub login; the person's teams become hub groups named ``org:team``.

    Takes every option of oauthenticator's ``GitHubOAuthenticator`` (``client_id``,
    ``allowed_organizations``, ``github_url`` for GitHub Enterprise, ...). Teams are read
    with the ``read:org`` scope, asked for by default, at every login.
    """

    allow_rule_description = "the GitHub organisations or teams that may use this hub"

    @default("scope")
    def _default_scope(self):
        return ["read:org"]

    @default("populate_teams_in_auth_state")
    def _default_populate_teams(self):
        return True

    def allow_rules(self):
        return {**super().allow_rules(), "allowed_organizations": self.allowed_organizations}

    def configuration_problems(self):
        problems = super().configuration_problems()
        wants_teams = (
            self.staff_provider_groups
            or self.allowed_groups
            or self.admin_groups
            or self.group_filter
        )
        if wants_teams and not self.populate_teams_in_auth_state:
            problems.append(
                "team-based groups need populate_teams_in_auth_state = True (the default)"
            )
        if self.populate_teams_in_auth_state and "read:org" not in self.scope:
            problems.append(f'reading teams needs "read:org" in scope (scope is {self.scope})')
        return problems

    async def get_user_groups(self, auth_state):
        return set(github_team_groups((auth_state or {}).get("teams")))
