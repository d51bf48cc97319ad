"""The web page in real headless Chromium: it loads, a search returns results, the map draws points.

Needs Debian's /usr/bin/chromium and the playwright package (.ci/run installs chromium; playwright is a
dev dependency); skipped with the reason otherwise. A screenshot goes to test-artifacts/latent-web.png.
"""

from __future__ import annotations

import shutil
import socket
import threading
from pathlib import Path

import pytest

from tests.conftest import make_engine
from tests.latent.planted import ingest_planted

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
LAUNCH_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
               "--disable-sync", "--no-first-run"]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def server(tmp_path_factory, embedders):  # noqa: ANN001, ANN201
    """The real API under uvicorn on a free port, with a planted collection, topics and a map."""
    if not Path(CHROMIUM).exists():
        pytest.skip("Chromium not installed (apt-get install -y chromium; .ci/run does it)")
    pytest.importorskip("playwright", reason="playwright not installed (pip install -e '.[dev]')")
    import uvicorn

    from api.app import create_app
    from core.settings import Settings
    from services.topics import TopicParams

    engine = make_engine(Settings(data_dir=tmp_path_factory.mktemp("web") / "data", _env_file=None), embedders)
    ingest_planted(engine, "web")
    engine.topics.fit("web", TopicParams("cluster", n_topics=3))
    engine.maps.fit("web", "pca")
    port = _free_port()
    config = uvicorn.Config(create_app(engine.settings, engine=engine), host="127.0.0.1", port=port,
                            log_level="warning", lifespan="on")
    uv = uvicorn.Server(config)
    thread = threading.Thread(target=uv.run, daemon=True)
    thread.start()
    started = threading.Event()
    for _ in range(600):  # wait for the socket, bounded by attempts (no wall-clock assertion)
        if uv.started:
            started.set()
            break
        started.wait(0.05)
    if not uv.started:
        pytest.fail("uvicorn did not start")
    yield f"http://127.0.0.1:{port}"
    uv.should_exit = True
    thread.join()
    engine.close()


def test_page_search_and_map_in_chromium(server: str) -> None:
    from playwright.sync_api import sync_playwright

    ARTIFACTS.mkdir(exist_ok=True)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=LAUNCH_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 800})
            errors: list[str] = []
            page.on("pageerror", lambda exc: errors.append(str(exc)))
            page.goto(server + "/")
            page.wait_for_selector("#collection option[value='web']", state="attached")
            page.wait_for_function("Number(document.querySelector('#map').dataset.drawn || 0) > 0")
            assert int(page.get_attribute("#map", "data-drawn")) == 62
            # the legend is filled by a second request after the points are drawn: wait for it (bounded)
            page.wait_for_function("document.querySelectorAll('#legend li').length > 0")
            assert page.locator("#legend li").count() >= 3  # topics coloured and listed
            page.fill("#query", "orbit of a comet")
            page.click("#search-form button[type=submit]")
            page.wait_for_selector("#results li.hit")
            assert page.locator("#results li.hit").count() == 10
            assert page.locator("#results li.hit p").first.inner_text().strip()
            page.locator("#results li.hit").first.click()
            page.wait_for_selector("#document:not([hidden])")
            assert page.inner_text("#doc-body").strip()
            page.screenshot(path=str(ARTIFACTS / "latent-web.png"), full_page=True)
            assert not errors, errors
        finally:
            browser.close()
