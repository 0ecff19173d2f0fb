"""The lean path for machine endpoints: the UI's middleware steps out of their way.

A PBX calls `/api/v1/match` (and its own event URL) once per call and wants the answer in
milliseconds; it has no session, no cookie, no language, no CSRF token and no HTML to protect
with a Content-Security-Policy. The admin UI needs all of those. Measured in process
(`bench/profile_match.py`), the UI's middleware cost a match request about 0.45 ms of CPU, as
much as the whole one-lookup floor view's own work.

Views declare themselves machine endpoints (`machine_endpoint`, or `machine_endpoint = True`
on a DRF view class); each UI middleware in `settings.MIDDLEWARE` is wrapped in a `UIOnly`
subclass that hands a request for such a view straight to the next step. Which view a path
reaches is looked up with Django's own URL resolver (`django.urls.resolve`) and remembered per
path, so the URLconf stays the one place that says what a path is. What still runs for machine
endpoints: SecurityMiddleware, WhiteNoise, SessionMiddleware (lazy: a request that never reads the
session costs a small object) and CsrfViewMiddleware (machine endpoints are exempt), both because
Django's deploy checks look for them by name, CommonMiddleware, XFrameOptionsMiddleware, the call
log, the agents' events and django-axes's (a no-op outside sign-in; its check wants its name too).
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, ClassVar, TypeVar

from asgiref.sync import iscoroutinefunction, markcoroutinefunction
from django.conf import settings
from django.http import HttpRequest
from django.http.response import HttpResponseBase
from django.urls import Resolver404, resolve
from django.utils import translation
from django.utils.module_loading import import_string

ViewT = TypeVar("ViewT", bound=Callable[..., Any])

MACHINE_ENDPOINT = "machine_endpoint"


def machine_endpoint(view: ViewT) -> ViewT:
    """Mark a function view as a machine endpoint (see the module docstring); returns `view`."""
    setattr(view, MACHINE_ENDPOINT, True)
    return view


@functools.lru_cache(maxsize=4096)
def is_machine_path(path_info: str) -> bool:
    """Whether `path_info` (e.g. "/api/v1/match") resolves to a machine endpoint.

    A path that resolves to nothing is not one (it gets the branded 404 of the UI). Cached per
    path (bounded: least recently used paths are forgotten first); the URLconf is fixed for the
    life of a process.
    """
    try:
        match = resolve(path_info)
    except Resolver404:
        return False
    view = match.func
    return bool(
        getattr(view, MACHINE_ENDPOINT, False) or getattr(getattr(view, "cls", None), MACHINE_ENDPOINT, False)
    )


class UIOnly:
    """Runs the middleware named by `wrapped` (a dotted path) for every request except those of
    machine endpoints, which go straight to the next step.

    Sync and async like the wrapped middleware (its `sync_capable`/`async_capable` are copied by
    each subclass), and its `process_view`, `process_exception` and `process_template_response`
    hooks are offered to Django only when the wrapped middleware has them.
    """

    wrapped: ClassVar[str]
    sync_capable: ClassVar[bool] = True
    async_capable: ClassVar[bool] = True

    def __init__(self, get_response: Callable[[HttpRequest], Any]) -> None:
        self.get_response = get_response
        self.inner = import_string(self.wrapped)(get_response)
        self.async_mode = iscoroutinefunction(get_response)
        if self.async_mode:
            markcoroutinefunction(self)
        for hook in ("process_view", "process_exception", "process_template_response"):
            if hasattr(self.inner, hook):
                setattr(self, hook, self._hook(hook))

    def _hook(self, name: str) -> Callable[..., Any]:
        inner = getattr(self.inner, name)

        def hook(request: HttpRequest, *args: Any) -> Any:
            if is_machine_path(request.path_info):
                return args[0] if name == "process_template_response" else None
            return inner(request, *args)

        return hook

    def __call__(self, request: HttpRequest) -> Any:
        """The wrapped middleware's answer, or the next step's for a machine endpoint."""
        if self.async_mode:
            return self.__acall__(request)
        if is_machine_path(request.path_info):
            self.machine_request(request)
            return self.get_response(request)
        return self.inner(request)

    def machine_request(self, request: HttpRequest) -> None:
        """What a machine endpoint's request gets instead of the wrapped middleware (nothing)."""

    async def __acall__(self, request: HttpRequest) -> HttpResponseBase:
        """`__call__` under an ASGI handler."""
        if is_machine_path(request.path_info):
            self.machine_request(request)
            response: HttpResponseBase = await self.get_response(request)
        else:
            response = await self.inner(request)
        return response


def _ui_only(dotted_path: str) -> type[UIOnly]:
    """A `UIOnly` subclass for the middleware at `dotted_path`, with its sync/async abilities.

    It also subclasses the wrapped class, so that the system checks which look for a middleware
    by class (the admin's for sessions, auth and messages; django-axes's) still find it; its
    `__init__` and `__call__` are `UIOnly`'s, which delegate to an instance of the wrapped class.
    """
    middleware = import_string(dotted_path)
    name = f"UIOnly{dotted_path.rsplit('.', 1)[1]}"
    return type(
        name,
        (UIOnly, middleware),
        {
            "wrapped": dotted_path,
            "sync_capable": getattr(middleware, "sync_capable", True),
            "async_capable": getattr(middleware, "async_capable", False),
            "__module__": __name__,
            "__doc__": f"`{dotted_path}`, skipped for machine endpoints (`UIOnly`).",
        },
    )


# settings.MIDDLEWARE names these (dotted paths must name module attributes).


class LocaleMiddleware(_ui_only("django.middleware.locale.LocaleMiddleware")):  # type: ignore[misc]
    """The language from the cookie or Accept-Language for pages; for machine endpoints always
    `settings.LANGUAGE_CODE` (English): a PBX's `reason`/`error` texts are read by integrators
    and logs, whatever the PBX sends, and a language a page left active in this thread must not
    leak into them."""

    def machine_request(self, request: HttpRequest) -> None:
        """Activate the default language (English) for a machine endpoint."""
        translation.activate(settings.LANGUAGE_CODE)


AuthenticationMiddleware = _ui_only("django.contrib.auth.middleware.AuthenticationMiddleware")
AuditlogMiddleware = _ui_only("auditlog.middleware.AuditlogMiddleware")
MessageMiddleware = _ui_only("django.contrib.messages.middleware.MessageMiddleware")
CSPMiddleware = _ui_only("csp.middleware.CSPMiddleware")
HtmxMiddleware = _ui_only("django_htmx.middleware.HtmxMiddleware")
