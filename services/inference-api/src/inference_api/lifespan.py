"""Opening what the app needs once (storage, token verifier, chat services) and closing it on shutdown."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, AsyncExitStack, asynccontextmanager

from fastapi import FastAPI

from chat_agent.models.base import ModelFactory
from chat_agent.models.providers import ProviderModels
from chat_agent.tools.registry import ToolRegistry
from chat_agent.turns import TurnObserver, TurnPolicy, TurnRunner
from chat_http.runtime import RuntimeStatus
from chat_http.state import ServiceState, lifespan_state, open_edge_resources
from chat_http.telemetry import TurnMetrics, telemetry_of
from inference_api.chat.service import ChatServices
from inference_api.config import Settings
from inference_api.state import AppState

__all__ = ["lifespan_for"]


def lifespan_for(
    settings: Settings, *, model_factory: ModelFactory | None = None
) -> Callable[[FastAPI], AbstractAsyncContextManager[dict[str, ServiceState]]]:
    """A lifespan that opens storage and the chat services for `settings`.

    `model_factory` replaces the provider models (benchmarks and tests use a scripted model).
    """

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[dict[str, ServiceState]]:
        async with AsyncExitStack() as stack:
            telemetry = telemetry_of(app)
            edge = await open_edge_resources(settings, stack, telemetry=telemetry)
            storage = edge.storage
            models: ModelFactory
            if model_factory is None:
                providers = ProviderModels(settings.provider_config())
                stack.push_async_callback(providers.aclose)
                models = providers
            else:
                models = model_factory
            runtime_status = RuntimeStatus()
            observers: list[TurnObserver] = [runtime_status]
            if telemetry.metrics is not None:
                observers.append(TurnMetrics(telemetry.metrics))
            turns = TurnRunner(
                TurnPolicy(
                    max_attempts=settings.model_max_attempts,
                    initial_delay=settings.model_retry_delay,
                    window_messages=max(40, 2 * settings.history_messages),
                    flush_seconds=settings.sse_flush_ms / 1000,
                ),
                observers=observers,
            )
            # Last in, first out: running turns finish and are stored before storage closes.
            stack.push_async_callback(turns.drain, settings.shutdown_grace_seconds)
            registry = ToolRegistry()
            chat = ChatServices(
                settings=settings,
                storage=storage,
                models=models,
                tools=registry,
                knowledge=edge.knowledge,
                turns=turns,
                quotas=edge.quota_cache,
                metrics=telemetry.metrics,
            )
            yield lifespan_state(
                AppState(
                    settings=settings,
                    **edge.state_fields(),
                    tool_registry=registry,
                    chat=chat,
                    runtime_status=runtime_status,
                )
            )

    return lifespan
