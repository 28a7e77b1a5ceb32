"""Chat completions from an OpenAI-compatible endpoint (the embedded model, vLLM, gateways)
over one kept-alive aiohttp session: the request is the JSON body the OpenAI API documents,
the answer stays a parsed JSON dict.

The openai SDK sends the same request, but its stack (request options, httpx with a pure-
Python HTTP parser writing headers and body in two system calls, a pydantic ChatCompletion
per answer) was about half of the harness's own CPU per step (docs/performance.md); aiohttp
parses HTTP in C and writes a request in one call. Retries and timeouts stay the model
client's (agentopt.models.client): this module only makes one attempt and says what failed.
"""

from __future__ import annotations

import functools
import json
import ssl
from typing import Any

import aiohttp


class HTTPStatusError(Exception):
    """The endpoint answered with an error status (`status_code`: retried or not by the client's policy)."""

    def __init__(self, status_code: int, message: str):
        super().__init__(message)
        self.status_code = status_code


class EndpointConnectionError(ConnectionError):
    """The endpoint could not be reached, or dropped the connection (retried)."""


class MalformedAnswer(ValueError):
    """The endpoint answered 200 with a body that is not JSON (retried)."""


@functools.cache
def _tls_context() -> ssl.SSLContext:
    """certifi's CA bundle, as httpx and the openai SDK verify with; built once per process."""
    import certifi

    return ssl.create_default_context(cafile=certifi.where())


def _error_message(status: int, body: bytes) -> str:
    try:
        data = json.loads(body)
        error = data.get("error") if isinstance(data, dict) else None
        message = error.get("message") if isinstance(error, dict) else error if isinstance(error, str) else None
    except ValueError:
        message = None
    text = message or body.decode("utf-8", errors="replace").strip() or "no body"
    return f"Error code: {status} - {text[:300]}"


class OpenAICompatibleClient:
    """POST {base_url}/chat/completions; one connection pool for every endpoint and request."""

    def __init__(self) -> None:
        self._session: aiohttp.ClientSession | None = None
        self._proxies: dict[str, tuple[Any, Any]] = {}  # base URL -> (proxy, proxy auth) from the environment

    def _client(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            # Up to 1,000 connections (the openai SDK's default), kept alive between calls; no
            # cookies. trust_env stays off: with it aiohttp reads ~/.netrc and the proxy variables
            # in a thread for every request; the proxy is looked up once per endpoint instead.
            connector = aiohttp.TCPConnector(limit=1000, limit_per_host=0, ssl=_tls_context())
            self._session = aiohttp.ClientSession(connector=connector, cookie_jar=aiohttp.DummyCookieJar())
        return self._session

    def _proxy(self, url: str) -> tuple[Any, Any]:
        """The proxy the environment names for `url` (HTTPS_PROXY, NO_PROXY, ...), as the openai SDK used it."""
        if url not in self._proxies:
            from aiohttp.helpers import get_env_proxy_for_url
            from yarl import URL

            try:
                self._proxies[url] = get_env_proxy_for_url(URL(url))
            except LookupError:
                self._proxies[url] = (None, None)
        return self._proxies[url]

    async def chat_completion(self, base_url: str, api_key: str, body: dict[str, Any]) -> dict[str, Any]:
        url = base_url.rstrip("/") + "/chat/completions"
        headers = {"Authorization": f"Bearer {api_key}", "Content-Type": "application/json", "Accept": "application/json"}
        data = json.dumps(body, ensure_ascii=False).encode()
        proxy, proxy_auth = self._proxy(url)
        try:
            async with self._client().post(url, data=data, headers=headers, proxy=proxy, proxy_auth=proxy_auth) as response:
                raw = await response.read()
                status = response.status
        except aiohttp.ClientResponseError as exc:
            raise HTTPStatusError(exc.status, f"Error code: {exc.status} - {exc.message}") from None
        except (aiohttp.ClientError, OSError) as exc:
            raise EndpointConnectionError(f"{type(exc).__name__}: {exc}") from None
        if status >= 400:
            raise HTTPStatusError(status, _error_message(status, raw))
        try:
            answer = json.loads(raw)
        except ValueError:
            raise MalformedAnswer(f"the answer is not JSON: {raw[:200]!r}") from None
        if not isinstance(answer, dict):
            raise MalformedAnswer(f"the answer is not a JSON object: {raw[:200]!r}")
        return answer

    async def aclose(self) -> None:
        session, self._session = self._session, None
        if session is not None and not session.closed:
            await session.close()
