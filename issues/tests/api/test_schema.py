"""The OpenAPI 3 description of the API, and the Swagger UI that shows it
without reaching out to any CDN."""

from html.parser import HTMLParser
from io import StringIO

import pytest
import yaml
from django.contrib.staticfiles import finders
from django.core.management import call_command
from django.urls import get_resolver
from drf_spectacular.validation import validate_schema


@pytest.fixture
def schema(anon_api):
    response = anon_api.get("/api/schema/?format=json")
    assert response.status_code == 200
    return response.json()


@pytest.mark.django_db
def test_the_schema_is_a_valid_openapi_3_document(schema):
    validate_schema(schema)  # raises on any violation of the OpenAPI 3 JSON schema

    assert schema["openapi"].startswith("3.")
    assert schema["info"]["title"] == "Tracker API"


@pytest.mark.django_db
def test_the_schema_is_served_as_yaml_by_default(anon_api):
    response = anon_api.get("/api/schema/")

    assert response.status_code == 200
    assert response["Content-Type"].startswith("application/vnd.oai.openapi")
    document = yaml.safe_load(response.content)
    assert document["openapi"].startswith("3.")


@pytest.mark.django_db
def test_the_schema_describes_every_endpoint(schema):
    api = next(p for p in get_resolver().url_patterns if str(p.pattern) == "api/")
    routes = set()
    for pattern in api.url_patterns:
        if pattern.name == "docs":  # an HTML page, not part of the API
            continue
        route = "/api/" + str(pattern.pattern)
        for converter in ("<int:", "<str:", "<issue_number:"):
            route = route.replace(converter, "{")
        routes.add(route.replace(">", "}"))

    assert routes == set(schema["paths"])


@pytest.mark.django_db
def test_the_schema_documents_the_methods_and_the_ways_to_sign_in(schema):
    paths = schema["paths"]

    assert set(paths["/api/issues/{issue_id}/"]) >= {"get", "patch", "delete"}
    assert set(paths["/api/issues/{issue_id}/labels/"]) >= {"put", "post"}
    assert set(paths["/api/issues/"]) >= {"get", "post"}
    assert set(schema["components"]["securitySchemes"]) == {"tokenAuth", "cookieAuth"}
    list_parameters = {p["name"] for p in paths["/api/issues/"]["get"]["parameters"]}
    assert list_parameters >= {
        "status",
        "severity",
        "assignee",
        "reporter",
        "label",
        "q",
        "created_after",
        "created_before",
        "updated_after",
        "updated_before",
        "ordering",
        "limit",
        "offset",
    }
    patch_body = paths["/api/issues/{issue_id}/"]["patch"]["requestBody"]["content"]
    assert "application/json" in patch_body
    upload = paths["/api/issues/{issue_id}/attachments/"]["post"]["requestBody"]["content"]
    assert "multipart/form-data" in upload


@pytest.mark.django_db
def test_severity_is_described_by_name(schema):
    components = schema["components"]["schemas"]
    reference = components["Issue"]["properties"]["severity"]["$ref"]
    severity = components[reference.removeprefix("#/components/schemas/")]

    assert severity["enum"] == ["LOW", "MEDIUM", "HIGH", "CRITICAL"]


@pytest.mark.django_db
def test_the_spectacular_command_validates_the_schema_without_warnings(tmp_path):
    target = tmp_path / "schema.yaml"
    stderr = StringIO()

    call_command("spectacular", "--validate", "--fail-on-warn", file=str(target), stderr=stderr)

    assert yaml.safe_load(target.read_text())["openapi"].startswith("3.")
    assert "warning" not in stderr.getvalue().lower()


class AssetLinks(HTMLParser):
    """Every URL a <script>, <link> or <img> tag makes the browser fetch, and the
    text of any inline <script> or <style>."""

    def __init__(self):
        super().__init__()
        self.urls: list[str] = []
        self.inline: list[str] = []
        self._in = None

    def handle_starttag(self, tag, attrs):
        attributes = dict(attrs)
        for name in ("src", "href"):
            if tag in ("script", "link", "img") and attributes.get(name):
                self.urls.append(attributes[name])
        self._in = tag if tag in ("script", "style") else None

    def handle_endtag(self, tag):
        self._in = None

    def handle_data(self, data):
        if self._in and data.strip():
            self.inline.append(data)


DOCS = "/api/docs/"


@pytest.mark.django_db
def test_the_docs_page_loads_only_our_own_static_files(anon_api):
    response = anon_api.get(DOCS)

    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/html")
    html = response.content.decode()
    links = AssetLinks()
    links.feed(html)
    scripts = [url for url in links.urls if url.endswith(".js")]

    assert len(scripts) >= 2  # the Swagger UI bundle and its preset
    # Its start-up script comes from the docs view itself, as a file: the
    # Content-Security-Policy allows no inline script (nor style).
    assert f"{DOCS}?script=" in links.urls
    assert links.inline == []
    for url in links.urls:
        if url.startswith(DOCS):
            continue
        assert url.startswith("/static/"), url
        assert finders.find(url.removeprefix("/static/")), f"{url} is not a static file of ours"
    assert "http://" not in html and "https://" not in html


@pytest.mark.django_db
def test_the_docs_start_up_script_is_javascript_pointing_at_our_schema(anon_api):
    response = anon_api.get(f"{DOCS}?script=")

    assert response.status_code == 200
    assert response["Content-Type"].startswith("application/javascript")
    script = response.content.decode()
    assert 'url: "/api/schema/"' in script
    assert "http://" not in script and "https://" not in script
