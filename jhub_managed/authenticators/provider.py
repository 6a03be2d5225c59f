"""Requests to the identity provider: a provider that does not answer gives the "try again
later" page, never a 500."""

from __future__ import annotations

import asyncio
from typing import Any
from urllib.parse import urlparse, urlunparse

from tornado.httpclient import HTTPClientError
from traitlets import HasTraits

from .pages import LoginFailed, LoginProblem, ProviderUnavailable


def _without_query(url: str) -> str:
    return urlunparse(urlparse(url)._replace(query="", fragment=""))


class ProviderRequests(HasTraits):
    """Part of :class:`~jhub_managed.authenticators.ManagedAuthenticatorMixin`: timeouts,
    and the provider's failures as login problems."""

    async def httpfetch(self, url, label="fetching", parse_json=True, raise_error=True, **kwargs):
        for timeout in ("connect_timeout", "request_timeout"):
            if timeout not in self.http_request_kwargs:
                kwargs.setdefault(timeout, self.provider_timeout)
        try:
            response = await super().httpfetch(url, label, parse_json, raise_error, **kwargs)
        except LoginProblem:
            raise
        except HTTPClientError as e:
            if e.code == 599 or e.code >= 500:
                raise self._unavailable(label, url, e) from None
            raise
        except (OSError, asyncio.TimeoutError) as e:
            raise self._unavailable(label, url, e) from None
        except ValueError as e:  # not JSON: an error page from a proxy in front of it
            raise self._unavailable(label, url, f"an answer that is not JSON ({e})") from None
        code = getattr(response, "code", 200)
        if not parse_json and (code == 599 or code >= 500):
            raise self._unavailable(label, url, f"HTTP {code}")
        return response

    def _unavailable(self, label: str, url: str, cause: Any) -> ProviderUnavailable:
        where = f" {_without_query(url)}" if url else ""
        self.log.error(
            "Identity provider %s did not answer (%s%s): %s",
            self.login_service,
            label,
            where,
            cause,
        )
        return ProviderUnavailable(self.login_service)

    def _provider_error(self, error: HTTPClientError, label: str) -> LoginProblem:
        if error.code == 599 or error.code >= 500:
            return self._unavailable(label, "", error)
        self.log.warning("Identity provider refused a request while %s: %s", label, error)
        return LoginFailed(
            "The sign-in service did not accept this sign-in (it may have been used already). "
            "Please start again from the sign-in page.",
            detail=f"HTTP {error.code}",
        )
