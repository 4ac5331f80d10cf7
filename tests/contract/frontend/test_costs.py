"""The costs page, as `FE/costs/services/cost.service.ts` calls it (FE = `frontend/ai.client/src/app`)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from frontend_kit import INTEGER, NUMBER, STRING, UserFactory, array, check, obj, run_turn, turn_body

# FE/costs/models/cost-summary.model.ts: CostBreakdown
COST_BREAKDOWN = obj(
    {
        "inputCost": NUMBER,
        "outputCost": NUMBER,
        "cacheWriteCost": NUMBER,
        "cacheReadCost": NUMBER,
        "totalCost": NUMBER,
    }
)
# FE/costs/models/cost-summary.model.ts: ModelCostSummary (`provider` is declared as a string but
# never read; a model without one is null)
MODEL_COST_SUMMARY = obj(
    {
        "modelId": STRING,
        "modelName": STRING,
        "totalInputTokens": INTEGER,
        "totalOutputTokens": INTEGER,
        "totalCacheReadTokens": INTEGER,
        "totalCacheWriteTokens": INTEGER,
        "costBreakdown": COST_BREAKDOWN,
        "requestCount": INTEGER,
    },
    {"provider": STRING},
)
# FE/costs/models/cost-summary.model.ts: UserCostSummary (numbers go through Intl.NumberFormat)
USER_COST_SUMMARY = obj(
    {
        "userId": STRING,
        "periodStart": STRING,
        "periodEnd": STRING,
        "totalCost": NUMBER,
        "models": array(MODEL_COST_SUMMARY),
        "totalRequests": INTEGER,
        "totalInputTokens": INTEGER,
        "totalOutputTokens": INTEGER,
        "totalCacheSavings": NUMBER,
    }
)


class TestCostsPage:
    def test_this_month_and_the_last_thirty_days_count_the_turns(self, frontend_user: UserFactory) -> None:
        client = frontend_user()
        run_turn(client, turn_body(str(uuid.uuid4()), "How long does the battery take to charge?"))
        summary = client.get("/costs/summary")
        assert summary.status_code == 200
        check(summary.json(), USER_COST_SUMMARY)
        assert summary.json()["totalRequests"] == 1
        # "Last 30 Days": dates made with toISOString().split('T')[0]
        today = datetime.now(UTC).date()
        params = {"start_date": (today - timedelta(days=30)).isoformat(), "end_date": today.isoformat()}
        report = client.get("/costs/detailed-report", params=params)
        assert report.status_code == 200, report.text
        check(report.json(), USER_COST_SUMMARY)
        assert report.json()["totalRequests"] == 1
        assert [model["modelId"] for model in report.json()["models"]] == ["offline-extractive"]

    def test_load_range_refuses_more_than_ninety_days(self, frontend_user: UserFactory) -> None:
        client = frontend_user()
        response = client.get(
            "/costs/detailed-report", params={"start_date": "2026-01-01", "end_date": "2026-06-30"}
        )
        assert response.status_code == 422
        check(response.json(), obj({"error": obj({"message": STRING})}))
