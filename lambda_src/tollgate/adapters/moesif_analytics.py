"""Analytics on Moesif: the company (Stripe subscription) and user (API key id) that Moesif's
billing meters attribute API usage to.

moesifapi sends requests without any timeout and does not retry POSTs (urllib3 skips them), so
the adapter hands its controller an HTTP client with both. moesifapi keeps the application id
and base URI in process-wide class attributes; one Moesif application per process is all
Tollgate needs. The application id is read (from the cached secret) before each call, so a
rotated id is picked up without a deploy.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from tollgate.domain.errors import DownstreamError
from tollgate.domain.ports.analytics import Analytics

MOESIF_API_BASE = "https://api.moesif.net"
MOESIF_TIMEOUT_SECONDS = (2, 4)  # connect, read
MOESIF_RETRIES = 2  # on connection errors, 429 and 5xx: upserts are idempotent
_BACKOFF_FACTOR = 0.2  # urllib3: no sleep before the first retry, 0.4 s before the second
MOESIF_CALL_BUDGET_SECONDS = (MOESIF_RETRIES + 1) * sum(MOESIF_TIMEOUT_SECONDS) + _BACKOFF_FACTOR * 2
_SERVICE = "Moesif"
_RETRY_STATUSES = (429, 500, 502, 503, 504)


class MoesifAnalytics(Analytics):
    """Companies and users through moesifapi's ApiController."""

    def __init__(
        self,
        application_id: Callable[[], str],
        api_base: str | None = None,
        timeout: tuple[float, float] = MOESIF_TIMEOUT_SECONDS,
    ):
        from moesifapi.configuration import Configuration
        from moesifapi.controllers.api_controller import ApiController

        self._application_id = application_id
        Configuration.BASE_URI = api_base or MOESIF_API_BASE
        self._api = ApiController(http_client=_bounded_http_client(timeout))

    def upsert_company(self, company_id: str, metadata: dict[str, str]) -> None:
        from moesifapi.models import CompanyModel

        self._call("update company", self._api.update_company, CompanyModel(company_id=company_id, metadata=metadata))

    def upsert_user(self, user_id: str, company_id: str, metadata: dict[str, str]) -> None:
        from moesifapi.models import UserModel

        self._call(
            "update user",
            self._api.update_user,
            UserModel(user_id=user_id, company_id=company_id, metadata=metadata),
        )

    def _call(self, action: str, operation: Any, model: Any) -> None:
        import requests
        from moesifapi.configuration import Configuration
        from moesifapi.exceptions.api_exception import APIException

        Configuration.application_id = self._application_id()
        try:
            operation(model)
        except APIException as error:
            status = error.response_code
            raise DownstreamError(
                _SERVICE, f"{action} failed (HTTP {status})", retryable=status in _RETRY_STATUSES
            ) from None
        except requests.RequestException as error:
            raise DownstreamError(_SERVICE, f"{action} failed ({type(error).__name__})", retryable=True) from None


def _bounded_http_client(timeout: tuple[float, float]) -> Any:
    """A moesifapi HttpClient whose requests have a timeout and bounded retries."""
    import requests
    from moesifapi.http.http_client import HttpClient
    from moesifapi.http.http_method_enum import HttpMethodEnum
    from moesifapi.http.http_response import HttpResponse
    from requests.adapters import HTTPAdapter
    from urllib3.util.retry import Retry

    class BoundedRequestsClient(HttpClient):
        def __init__(self) -> None:
            retry = Retry(
                total=MOESIF_RETRIES,
                backoff_factor=_BACKOFF_FACTOR,
                status_forcelist=_RETRY_STATUSES,
                allowed_methods=None,  # POST included
                respect_retry_after_header=False,  # a Retry-After of minutes would outlast the function
                raise_on_status=False,  # the last answer is returned and mapped by its status
            )
            self.session = requests.Session()
            adapter = HTTPAdapter(max_retries=retry)
            self.session.mount("http://", adapter)
            self.session.mount("https://", adapter)

        def execute_as_string(self, request: Any) -> HttpResponse:
            response = self.session.request(
                HttpMethodEnum.to_string(request.http_method),
                request.query_url,
                headers=request.headers,
                params=request.query_parameters,
                data=request.parameters,
                timeout=timeout,
            )
            return HttpResponse(response.status_code, response.headers, response.text)

    return BoundedRequestsClient()
