"""The development page at `/dev`: only in development, and a real browser chatting through it."""

from __future__ import annotations

import time
from pathlib import Path

import httpx
from e2e_kit import HEADLESS_ARGS, ROOT, Services, ensure_chromium
from fastapi.testclient import TestClient
from playwright.sync_api import expect, sync_playwright

from app_api.config import Settings
from app_api.main import create_app

HANDBOOK = ROOT / "examples" / "kestrel-commuter-handbook.md"
QUESTION = "How long does it take to fully charge the battery?"


def test_the_page_and_its_sign_in_exist_only_in_development(tmp_path: Path) -> None:
    production = Settings(
        _env_file=None,
        env="production",
        data_dir=tmp_path,
        oidc_issuer="https://id.example",
        oidc_audience="chat",
        oidc_jwks_url="https://id.example/jwks",
    )
    client = TestClient(create_app(production))
    assert client.get("/dev").status_code == 404
    assert client.post("/dev/token", json={"userId": "mallory", "roles": ["admin"]}).status_code == 404


def test_sign_in_is_refused_when_the_service_does_not_take_development_tokens(tmp_path: Path) -> None:
    oidc = Settings(
        _env_file=None,
        data_dir=tmp_path,
        auth_mode="oidc",
        oidc_issuer="https://id.example",
        oidc_audience="chat",
        oidc_jwks_url="https://id.example/jwks",
    )
    with TestClient(create_app(oidc)) as client:
        assert client.get("/dev").status_code == 200
        refused = client.post("/dev/token", json={"userId": "mallory", "roles": ["admin"]})
    assert refused.status_code == 403
    assert refused.json()["error"]["code"] == "forbidden"


def test_no_other_site_may_frame_the_page(tmp_path: Path) -> None:
    """The page holds a bearer token: clickjacking protection (CSP `frame-ancestors`, `X-Frame-Options`)."""
    page = TestClient(create_app(Settings(_env_file=None, data_dir=tmp_path))).get("/dev")
    assert page.headers["Content-Security-Policy"] == "frame-ancestors 'none'"
    assert page.headers["X-Frame-Options"] == "DENY"
    assert page.headers["X-Content-Type-Options"] == "nosniff"


def test_the_page_stays_out_of_the_api_contract(tmp_path: Path) -> None:
    paths = create_app(Settings(_env_file=None, data_dir=tmp_path)).openapi()["paths"]
    assert not [path for path in paths if path.startswith("/dev")]


def _assistant_with_handbook(app_url: str, token: str) -> str:
    """An assistant of the signed-in user with the handbook ingested, made over the API."""
    with httpx.Client(base_url=app_url, headers={"Authorization": f"Bearer {token}"}, timeout=30) as api:
        created = api.post("/assistants", json={"name": "Kestrel handbook", "visibility": "PRIVATE"})
        assert created.status_code == 201, created.text
        assistant_id = str(created.json()["assistantId"])
        data = HANDBOOK.read_bytes()
        upload = api.post(
            f"/assistants/{assistant_id}/documents/upload-url",
            json={"filename": HANDBOOK.name, "contentType": "text/markdown", "sizeBytes": len(data)},
        )
        assert upload.status_code == 201, upload.text
        put = httpx.put(upload.json()["uploadUrl"], content=data, headers={"Content-Type": "text/markdown"})
        assert put.status_code == 204, put.text
        document_url = f"/assistants/{assistant_id}/documents/{upload.json()['documentId']}"
        deadline = time.monotonic() + 120
        while (status := api.get(document_url).json()["status"]) != "complete":
            assert status != "failed", "ingestion failed"
            assert time.monotonic() < deadline, f"ingestion still {status} after 120 s"
            time.sleep(0.3)
    return assistant_id


def test_a_browser_signs_in_uploads_a_file_and_gets_a_streamed_answer_with_citations(
    dev_services: Services, tmp_path: Path
) -> None:
    chromium = ensure_chromium()
    signed = httpx.post(f"{dev_services.app_url}/dev/token", json={"userId": "carol"})
    assert signed.status_code == 200, signed.text
    assistant_id = _assistant_with_handbook(dev_services.app_url, signed.json()["token"])
    notes = tmp_path / "ride-notes.txt"
    notes.write_text("My battery charge took 6 hours yesterday with the old charger.\n")
    screenshot = tmp_path / "dev-page.png"

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch_persistent_context(
            str(tmp_path / "profile"),  # a new, empty profile
            executable_path=str(chromium),
            headless=True,
            args=HEADLESS_ARGS,
            viewport={"width": 1280, "height": 900},
        )
        try:
            page = browser.new_page()
            failures: list[str] = []
            page.on("pageerror", lambda error: failures.append(str(error)))
            page.goto(f"{dev_services.app_url}/dev?inference={dev_services.inference_url}")

            page.fill("#user-id", "carol")
            page.click("#sign-in")
            expect(page.locator("#signed-in")).to_contain_text("Signed in as Carol (carol@example.com)")
            expect(page.locator("#model")).to_have_value("offline-extractive")
            expect(page.locator(f'#assistant option[value="{assistant_id}"]')).to_have_count(1)
            page.select_option("#assistant", assistant_id)

            page.set_input_files("#file", str(notes))
            expect(page.locator("#attachments")).to_contain_text("ride-notes.txt")
            expect(page.locator("#status")).to_contain_text("is ready")

            # Count the answer's renderings: a streamed answer grows in many steps, not in one.
            page.evaluate(
                """() => {
                  window.answerUpdates = 0;
                  new MutationObserver((records) => {
                    for (const record of records)
                      if (record.target.matches && record.target.matches('.message.assistant .text'))
                        window.answerUpdates += 1;
                  }).observe(document.getElementById('messages'), {childList: true, subtree: true});
                }"""
            )
            page.fill("#message", QUESTION)
            page.click("#send")

            answer = page.locator(".message.assistant").last
            expect(answer).to_have_attribute("data-state", "done", timeout=60_000)
            expect(answer.locator(".text")).to_contain_text("about 5 hours")
            expect(answer.locator(".text")).to_contain_text("(ride-notes.txt)")
            expect(answer.locator(".citations li").first).to_contain_text(HANDBOOK.name)
            expect(answer.locator(".meta")).to_contain_text("tokens")
            assert page.evaluate("window.answerUpdates") > 5
            expect(page.locator(".message.user").last).to_contain_text("attached: ride-notes.txt")
            current = page.locator("#sessions li.current")
            expect(current).to_contain_text("How long does it take")  # titled after the first message
            expect(current).to_contain_text("1 turn")
            assert not failures, failures

            page.screenshot(path=str(screenshot), full_page=True)

            # The stored conversation comes back from app-api, citations included.
            page.click("#new-session")
            expect(page.locator(".message")).to_have_count(0)
            page.locator("#sessions li", has_text="How long does it take").click()
            expect(page.locator(".message")).to_have_count(2)
            expect(page.locator(".message.assistant .citations li").first).to_contain_text(HANDBOOK.name)
            expect(page.locator(".message.user")).to_contain_text("attached: ride-notes.txt")
        finally:
            browser.close()
    print(f"screenshot of the dev page: {screenshot}")
    assert screenshot.stat().st_size > 10_000
