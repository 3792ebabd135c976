"""Drive a sign-in like a browser without one: an HTTP client that keeps cookies, follows
redirects one at a time (so a test can stop at, or replay, any of them) and fills in the
OpenID provider's own login, consent and logout forms."""

from __future__ import annotations

from dataclasses import dataclass, field
from html.parser import HTMLParser
from urllib.parse import urljoin

import httpx

MAX_HOPS = 20


@dataclass
class Form:
    action: str
    method: str
    fields: dict[str, str] = field(default_factory=dict)
    form_id: str = ""


class _Forms(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.forms: list[Form] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if tag == "form":
            self.forms.append(
                Form(a.get("action", ""), a.get("method", "get").lower(), {}, a.get("id", ""))
            )
        elif tag == "input" and self.forms and a.get("name") and a.get("type") == "hidden":
            self.forms[-1].fields[a["name"]] = a.get("value", "")


def forms(html: str) -> list[Form]:
    parser = _Forms()
    parser.feed(html)
    return parser.forms


def follow(client: httpx.Client, response: httpx.Response, *, stop_at: str = "") -> httpx.Response:
    """Follow redirects until a page (or, with `stop_at`, the first redirect to a URL that
    starts with it, returned unfollowed)."""
    for _ in range(MAX_HOPS):
        if not response.is_redirect:
            return response
        target = urljoin(str(response.url), response.headers["location"])
        if stop_at and target.startswith(stop_at):
            return response
        response = client.get(target)
    raise AssertionError(f"more than {MAX_HOPS} redirects, last at {response.url}")


def submit(
    client: httpx.Client, page: httpx.Response, extra: dict[str, str], *, action: str = ""
) -> httpx.Response:
    """Post the page's form (the first whose action contains `action`: its hidden fields
    plus `extra`) like a browser would."""
    found = [f for f in forms(page.text) if f.method == "post" and action in f.action]
    assert found, f"no form posting to {action!r} on {page.url}: {page.text[:500]}"
    form = found[0]
    origin = f"{page.url.scheme}://{page.url.netloc.decode()}"
    return client.post(
        urljoin(str(page.url), form.action),
        data={**form.fields, **extra},
        headers={"origin": origin},
    )


def sign_in_at_provider(
    client: httpx.Client, start: httpx.Response, login: str, *, stop_at: str = ""
) -> httpx.Response:
    """From the gateway's redirect to the provider: log in, consent, come back. With
    `stop_at` (the gateway's callback URL), the redirect to it is returned unfollowed."""
    page = follow(client, start, stop_at=stop_at)
    for _ in range(3):  # the login form, then the consent form (first time only)
        if page.is_redirect:
            return page
        fields = {f for form in forms(page.text) for f in form.fields}
        if "prompt" not in fields:
            return page
        extra = {"login": login, "password": "any"} if 'name="login"' in page.text else {}
        page = follow(client, submit(client, page, extra), stop_at=stop_at)
    return page
