"""GitHub: teams become hub groups (``org:team``), on top of oauthenticator's GitHub class."""

from __future__ import annotations

from oauthenticator.github import GitHubOAuthenticator
from traitlets import default

from .mixin import ManagedAuthenticatorMixin
from .rules import github_team_groups


class ManagedGitHubOAuthenticator(ManagedAuthenticatorMixin, GitHubOAuthenticator):
    """GitHub login; with ``manage_groups``, the person's teams become hub groups ``org:team``.

    Takes every option of oauthenticator's ``GitHubOAuthenticator`` (``client_id``,
    ``allowed_organizations``, ``github_url`` for GitHub Enterprise, ...), with its defaults.
    When hub groups are wanted (``manage_groups``, or a managed option that needs them) and
    ``auth_state_groups_key`` is not set, teams are read at every login
    (``populate_teams_in_auth_state`` and the ``read:org`` scope then default to on).
    """

    allow_rule_description = "the GitHub organisations or teams that may use this hub"

    def wants_teams(self) -> bool:
        """Whether the person's teams are needed: as hub groups, or to find staff."""
        groups_from_teams = self.manage_groups and not self.auth_state_groups_key
        return bool(groups_from_teams or self.staff_provider_groups)

    @default("scope")
    def _default_scope(self):
        return ["read:org"] if self.populate_teams_in_auth_state else []

    @default("populate_teams_in_auth_state")
    def _default_populate_teams(self):
        return self.wants_teams()

    def allow_rules(self):
        return {**super().allow_rules(), "allowed_organizations": self.allowed_organizations}

    def configuration_problems(self):
        problems = super().configuration_problems()
        if self.wants_teams() and not self.populate_teams_in_auth_state:
            problems.append(
                "team-based groups need populate_teams_in_auth_state = True (the default)"
            )
        if self.populate_teams_in_auth_state and "read:org" not in self.scope:
            problems.append(f'reading teams needs "read:org" in scope (scope is {self.scope})')
        return problems

    async def get_user_groups(self, auth_state):
        if self.auth_state_groups_key:  # the hub chose where groups come from
            return await super().get_user_groups(auth_state)
        return set(github_team_groups((auth_state or {}).get("teams")))
