"""A managed class broken on purpose, to show that the comparison notices a regression."""

from jhub_managed.authenticators import ManagedGitHubOAuthenticator


class LetsEveryoneInGitHubOAuthenticator(ManagedGitHubOAuthenticator):
    async def check_allowed(self, username, authentication=None):
        return True
