"""OpenTelemetry traces, configured only by the standard `OTEL_*` variables and off by default.

Off (no exporter named, no OTLP endpoint, or `OTEL_SDK_DISABLED=true`) the SDK is not even imported:
spans go to OpenTelemetry's no-op tracer and nothing is instrumented. On, the SDK exports every span
through a redacting exporter (no message text, prompts, tool arguments or results, exception messages
or query strings leave the process), each span carries the request id (`chat.request_id`), and FastAPI,
httpx and botocore (Bedrock) are instrumented; strands-agents' agent, cycle, model and tool spans
join the same trace because they use the global tracer provider.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Final, Self

from opentelemetry import trace
from pydantic import model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

if TYPE_CHECKING:
    from fastapi import FastAPI
    from opentelemetry.sdk.trace.export import SpanExporter

__all__ = [
    "REQUEST_ID_ATTRIBUTE",
    "TracingSettings",
    "configure_tracing",
    "install_tracer_provider",
    "instrument_app",
    "recording_tracer",
]

logger = logging.getLogger(__name__)

REQUEST_ID_ATTRIBUTE: Final = "chat.request_id"
_EXPORTERS: Final = frozenset({"otlp", "console"})
_UNTRACED_URLS: Final = "/ping,/metrics"
"""Probes and scrapes, every few seconds: not worth a trace each."""


class TracingSettings(BaseSettings):
    """The standard OpenTelemetry variables this service honours (read from the environment only).

    The SDK and the OTLP exporter read the rest themselves (`OTEL_SERVICE_NAME`,
    `OTEL_RESOURCE_ATTRIBUTES`, `OTEL_TRACES_SAMPLER`, `OTEL_EXPORTER_OTLP_HEADERS`, `OTEL_BSP_*` ...).
    """

    model_config = SettingsConfigDict(extra="ignore")

    otel_sdk_disabled: bool = False
    otel_traces_exporter: str | None = None
    """Comma-separated: `otlp`, `console` or `none`; unset = `otlp` when an OTLP endpoint is set."""
    otel_exporter_otlp_endpoint: str | None = None
    otel_exporter_otlp_traces_endpoint: str | None = None
    otel_exporter_otlp_protocol: str | None = None
    otel_exporter_otlp_traces_protocol: str | None = None

    def exporters(self) -> list[str]:
        """The exporters asked for; empty means tracing is off."""
        if self.otel_sdk_disabled:
            return []
        if self.otel_traces_exporter is not None:
            names = [name.strip().lower() for name in self.otel_traces_exporter.split(",") if name.strip()]
            return [name for name in names if name != "none"]
        if self.otel_exporter_otlp_endpoint or self.otel_exporter_otlp_traces_endpoint:
            return ["otlp"]
        return []

    @model_validator(mode="after")
    def _supported(self) -> Self:
        unknown = sorted(set(self.exporters()) - _EXPORTERS)
        if unknown:
            raise ValueError(f"OTEL_TRACES_EXPORTER names unsupported exporters: {', '.join(unknown)}.")
        protocol = self.otel_exporter_otlp_traces_protocol or self.otel_exporter_otlp_protocol
        if "otlp" in self.exporters() and protocol not in (None, "http/protobuf"):
            raise ValueError("Only OTEL_EXPORTER_OTLP_PROTOCOL=http/protobuf is supported.")
        return self


def _recording(provider: trace.TracerProvider) -> bool:
    return not isinstance(provider, trace.ProxyTracerProvider | trace.NoOpTracerProvider)


def install_tracer_provider(
    exporter: SpanExporter, *, service: str, version: str, batch: bool = True
) -> trace.TracerProvider:
    """Make an SDK tracer provider exporting to `exporter` (redacted) the process's global one.

    Tests pass an in-memory exporter with `batch=False`. OpenTelemetry allows one global provider per
    process: when one is set already, `exporter` is added to it.
    """
    from chat_http import _otel

    return _otel.install(exporter, service=service, version=version, batch=batch)


def configure_tracing(settings: TracingSettings, *, service: str, version: str) -> bool:
    """Install the exporters the variables ask for; whether spans are recorded in this process.

    Spans are recorded when an exporter is configured here, or when something else (a test, an
    auto-instrumentation wrapper) installed a recording provider first; such a provider's own exporters
    are not redacted by this library.
    """
    names = settings.exporters()
    if names:
        from chat_http import _otel

        for name in names:
            install_tracer_provider(_otel.exporter(name), service=service, version=version)
    provider = trace.get_tracer_provider()
    if not _recording(provider):
        return False
    from chat_http import _otel

    if not _otel.installed_here(provider):
        logger.warning(
            "tracing: a tracer provider was installed outside chat_http; its spans are not redacted"
        )
    _otel.instrument_clients()
    return True


def recording_tracer() -> trace.Tracer | None:
    """The tracer of chat_http's own spans, or `None` when spans are not recorded (tracing off)."""
    if not _recording(trace.get_tracer_provider()):
        return None
    return trace.get_tracer("chat_http")


def instrument_app(app: FastAPI) -> None:
    """One server span per request (not per streamed chunk); probes and scrapes are left out."""
    from opentelemetry.instrumentation.fastapi import FastAPIInstrumentor

    FastAPIInstrumentor.instrument_app(app, excluded_urls=_UNTRACED_URLS, exclude_spans=["receive", "send"])
